"""Fixtures of the codec tests. ``validation_impl``: run a test on both validators (pure and compiled)."""

from __future__ import annotations

import pytest

from fixgw.codec.dictionary import SUPPORTED_VERSIONS, load_dictionary


@pytest.fixture(params=["pure", "compiled"])
def validation_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each validator in turn for the shipped dictionaries; the compiled one is skipped when not built.

    "pure" switches the compiled twin off on the cached dictionaries for the test's duration, so every
    verdict comes from the pure walker alone; "compiled" lets the twin accept what it recognises.
    """
    dictionaries = [load_dictionary(v) for v in SUPPORTED_VERSIONS]
    if request.param == "pure":
        for d in dictionaries:
            monkeypatch.setattr(d, "_fast", None)
    elif any(d.validation != "compiled" for d in dictionaries):
        pytest.skip("the compiled validator is not in use (not built, or FIXGW_NO_EXTENSIONS=1)")
    return str(request.param)
