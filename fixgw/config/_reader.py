"""A TOML table with its key path: typed getters whose errors name the full key of the setting."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError

__all__ = ["Reader"]


class Reader:
    """A table plus its key path; typed getters raise ``ConfigError`` naming the full key."""

    def __init__(self, data: Any, path: str, env: Mapping[str, str], base: Path) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path or "(root)", "must be a table")
        self.data = data
        self.path = path
        self.env = env
        self.base = base

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def only(self, allowed: set[str]) -> None:
        for k in self.data:
            if k not in allowed:
                raise ConfigError(self.key(k), f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def table(self, name: str) -> "Reader":
        return Reader(self.data.get(name, {}), self.key(name), self.env, self.base)

    def array(self, name: str) -> list["Reader"]:
        v = self.data.get(name, [])
        if not isinstance(v, list):
            raise ConfigError(self.key(name), "must be an array of tables ([[...]])")
        return [Reader(item, f"{self.key(name)}[{i}]", self.env, self.base) for i, item in enumerate(v)]

    def has(self, name: str) -> bool:
        return name in self.data

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        v = self.data.get(name, default)
        if v is None:
            if required or default is None:
                raise ConfigError(self.key(name), "is required")
        if not isinstance(v, str):
            raise ConfigError(self.key(name), f"must be a string, not {type(v).__name__}")
        return v

    def opt_str(self, name: str) -> str | None:
        if name not in self.data:
            return None
        return self.str(name)

    def int(self, name: str, default: int | None = None, *, lo: int | None = None, hi: int | None = None) -> int:
        v = self.data.get(name, default)
        if v is None:
            raise ConfigError(self.key(name), "is required")
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(self.key(name), f"must be an integer, not {type(v).__name__}")
        if lo is not None and v < lo:
            raise ConfigError(self.key(name), f"must be at least {lo}, not {v}")
        if hi is not None and v > hi:
            raise ConfigError(self.key(name), f"must be at most {hi}, not {v}")
        return v

    def opt_int(self, name: str, *, lo: int | None = None) -> int | None:
        return self.int(name, lo=lo) if name in self.data else None

    def bool(self, name: str, default: bool = False) -> bool:
        v = self.data.get(name, default)
        if not isinstance(v, bool):
            raise ConfigError(self.key(name), f"must be true or false, not {v!r}")
        return v

    def seconds(self, name: str, default: float | None, *, can_be_off: bool = False) -> float | None:
        """A positive duration in seconds (integer or float); ``false`` means off when ``can_be_off``."""
        if name not in self.data:
            return default
        v = self.data[name]
        if v is False and can_be_off:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            off = " or false (off)" if can_be_off else ""
            raise ConfigError(self.key(name), f"must be a number of seconds{off}, not {v!r}")
        if not v > 0 or v == float("inf"):
            raise ConfigError(self.key(name), f"must be a positive number of seconds, not {v!r}")
        return float(v)

    def decimal(self, name: str) -> Decimal | None:
        if name not in self.data:
            return None
        v = self.data[name]
        if isinstance(v, float):
            raise ConfigError(self.key(name), "write money as a string (\"0.5\") or an integer, not a float")
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise ConfigError(self.key(name), f"must be a decimal string, not {type(v).__name__}")
        try:
            d = Decimal(v)
        except InvalidOperation:
            raise ConfigError(self.key(name), f"not a decimal number: {v!r}") from None
        if not d.is_finite() or d <= 0:
            raise ConfigError(self.key(name), f"must be a positive number, not {v!r}")
        return d

    def str_list(self, name: str) -> list[str] | None:
        if name not in self.data:
            return None
        v = self.data[name]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise ConfigError(self.key(name), "must be an array of strings")
        return list(v)

    def path_(self, name: str) -> Path | None:
        v = self.opt_str(name)
        if v is None or v == "":
            return None
        p = Path(v).expanduser()
        return p if p.is_absolute() else self.base / p

    def secret(self, env_key: str, file_key: str, *, required: bool) -> str:
        """Read a secret from the environment variable or file the config names."""
        env_name = self.opt_str(env_key)
        file_name = self.path_(file_key)
        if env_name and file_name:
            raise ConfigError(self.key(env_key), f"give {env_key} or {file_key}, not both")
        if env_name:
            value = self.env.get(env_name)
            if not value:
                raise ConfigError(self.key(env_key), f"environment variable {env_name} is not set")
            return value
        if file_name:
            try:
                return file_name.read_text(encoding="utf-8").strip()
            except OSError as e:
                raise ConfigError(self.key(file_key), f"cannot read {file_name}: {e.strerror}") from None
        if required:
            raise ConfigError(self.key(env_key), "is required (the name of an environment variable)")
        return ""
