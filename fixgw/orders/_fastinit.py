"""A faster ``__init__`` for the frozen, slotted dataclasses built on every order's path.

The ``__init__`` that ``dataclasses`` writes for a frozen class sets each field with
``object.__setattr__(self, name, value)``, a call through the generic attribute machinery per field;
a NewOrderSingle builds a request and a command of about fifteen fields each, and every venue answer
events. ``frozen_init`` writes the same ``__init__`` (same parameters, defaults, keyword-only marks and
``__post_init__`` call) setting each field through its slot's own descriptor, which is about twice as
fast. The instances are the same: still frozen (assignment raises ``FrozenInstanceError``), equal and
hashed as before. The generated ``__init__`` stays on the class as ``__dataclass_init__`` (the tests
compare the two). A class this does not fit (no slots, not frozen, a field with a default factory or
outside ``__init__``) is returned unchanged.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["frozen_init"]

T = TypeVar("T")


def frozen_init(cls: T) -> T:
    """Class decorator (above ``@dataclass(frozen=True, slots=True)``): the faster ``__init__``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        return cls
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names: dict[str, Any] = {}
    signature: list[str] = []
    body: list[str] = []
    keyword_only = False
    for f in fields:
        setter = getattr(vars(cls).get(f.name), "__set__", None)
        if not f.init or f.default_factory is not dataclasses.MISSING or setter is None:
            return cls
        if f.kw_only and not keyword_only:
            signature.append("*")
            keyword_only = True
        if f.default is dataclasses.MISSING:
            signature.append(f.name)
        else:
            names[f"_default_{f.name}"] = f.default
            signature.append(f"{f.name}=_default_{f.name}")
        names[f"_set_{f.name}"] = setter
        body.append(f"    _set_{f.name}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    if not body:
        return cls
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body) + "\n"
    exec(compile(source, f"<frozen_init of {cls.__qualname__}>", "exec"), names)  # noqa: S102 - built above
    init = names["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__  # type: ignore[misc]
    cls.__dataclass_init__ = cls.__init__  # type: ignore[attr-defined, misc]
    cls.__init__ = init  # type: ignore[misc]
    return cls
