"""Secrets from the environment, for the adapters' ``from_env`` constructors."""

from __future__ import annotations

import os

from fixgw.errors import ConfigError

__all__ = ["require_env"]


def require_env(*names: str) -> list[str]:
    """Return the values of the named environment variables; ``ConfigError`` names the first unset one."""
    values = []
    for name in names:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(name, "environment variable not set")
        values.append(value)
    return values
