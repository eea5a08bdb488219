"""JSON in and out of the simulator: the orjson path (when installed) gives what the standard library gives."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.sim import jsonio

_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                       max_leaves=12)
_requests = st.fixed_dictionaries({"id": _scalars, "method": st.text(max_size=20),
                                   "params": st.dictionaries(st.text(max_size=10), _values, max_size=8)})

_backends: list[Any] = [pytest.param((jsonio.pure_dumps, jsonio.pure_loads_request), id="json")]
if jsonio.BACKEND == "orjson":
    _backends.append(pytest.param((jsonio.dumps, jsonio.loads_request), id="orjson"))


@pytest.fixture(params=_backends)
def backend(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    return request.param


def test_jsonio_request_number_with_a_fraction_keeps_its_text(backend: tuple[Any, Any]) -> None:
    _dumps, loads = backend
    msg = loads('{"id":7,"method":"order.place","params":{"price":30000.10,"quantity":1e-3,"timestamp":17}}')
    assert msg["params"] == {"price": "30000.10", "quantity": "1e-3", "timestamp": 17}


@pytest.mark.parametrize("text", ['{"id":1,"params":{"a":NaN}}', '{"id":123456789012345678901234567890}',
                                  '{"id":"\\ud800"}', '{"a":1,"a":2}', '[1,2]', '"x"'])
def test_jsonio_request_edge_cases_read_as_the_standard_library_reads_them(backend: tuple[Any, Any], text: str) -> None:
    _dumps, loads = backend
    assert repr(loads(text)) == repr(json.loads(text, parse_float=str))


@pytest.mark.parametrize("text", ["", "{", '{"id":1,}', "nul"])
def test_jsonio_invalid_request_raises_value_error(backend: tuple[Any, Any], text: str) -> None:
    _dumps, loads = backend
    with pytest.raises(ValueError):
        loads(text)


@settings(max_examples=150, deadline=None)
@given(msg=_requests)
def test_jsonio_any_request_decodes_like_the_standard_library(msg: dict[str, Any]) -> None:
    text = json.dumps(msg)
    expected = json.loads(text, parse_float=str)
    assert jsonio.loads_request(text) == expected
    assert jsonio.pure_loads_request(text) == expected


@settings(max_examples=150, deadline=None)
@given(value=_values)
def test_jsonio_any_value_encodes_to_compact_json_of_the_same_value(value: Any) -> None:
    for dumps in (jsonio.dumps, jsonio.pure_dumps):
        data = dumps({"k": value, "z": 1})
        assert isinstance(data, bytes)
        assert json.loads(data) == json.loads(json.dumps({"k": value, "z": 1}))
        assert list(json.loads(data)) == ["k", "z"]  # keys in insertion order


def test_jsonio_output_is_compact(backend: tuple[Any, Any]) -> None:
    dumps, _loads = backend
    assert dumps({"id": "1", "status": 200, "result": {"a": [1, 2]}}) == b'{"id":"1","status":200,"result":{"a":[1,2]}}'


def test_jsonio_integer_past_64_bits_and_lone_surrogate_still_encode(backend: tuple[Any, Any]) -> None:
    dumps, _loads = backend
    assert json.loads(dumps({"id": 2**80, "s": "\ud800"})) == {"id": 2**80, "s": "\ud800"}
