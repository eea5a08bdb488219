"""Type stubs of the compiled validator; the verdicts are those of ``fixgw.codec._validate.walk``."""

from typing import Any

__all__ = ["Validator"]

class Validator:
    _stamp: int
    def __init__(self, dictionary: Any) -> None: ...
    def passes(self, msg: Any, skip_from: int = 0, allow_unknown: bool = False) -> bool: ...
