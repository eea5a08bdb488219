"""The bridge's OpenAPI document, as kept in ``specs/openapi.json``.

Regenerate it after changing a route or a schema::

    python -m fixgw.bridge.openapi > specs/openapi.json

``tests/bridge/test_bridge_openapi.py`` fails while the file and the app disagree. The document is not
served by the bridge (every ``/v1`` request must be signed, and the contract is the file).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .app import create_app

__all__ = ["openapi_document", "openapi_text", "main"]


class _NoGateway:
    """Builds the app without a gateway: the routes' shapes do not depend on one."""

    def __getattr__(self, name: str) -> Any:  # pragma: no cover - never called while exporting
        raise RuntimeError("the OpenAPI export has no gateway")


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI document of the bridge app."""
    return create_app(_NoGateway(), []).openapi()  # type: ignore[arg-type]


def openapi_text() -> str:
    """Return the document as written to ``specs/openapi.json`` (2-space indent, final newline)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    sys.stdout.write(openapi_text())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
