"""``python -m fixgw``: the same as the ``fixgw`` console script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
