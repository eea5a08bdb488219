"""The bridge's API keys: who may call it, with which permissions, from which addresses.

A key is an id (sent in the clear, in ``X-FIXGW-KEY``), a shared secret (never sent: it signs), the
permissions it grants and the networks it may call from. Keys come from configuration entries that
name where the secret lives — an environment variable (``secret_env``) or a file (``secret_file``) —
never the secret itself, so a config file can be shown, diffed and committed safely.

Permissions do not imply each other: ``read`` sees, ``trade`` places and cancels orders, ``admin``
changes sessions and venues. A trading client usually holds ``read`` and ``trade``. A key with no
``allowed_networks`` entry may call from loopback only; ``["0.0.0.0/0", "::/0"]`` opens it to all.

A key also names the **accounts** it may read and trade (FIX sessions' ``account`` values and bridge
account names; ``"*"`` for every one): orders, fills and the stream's drop copy show only those, and an
order outside them cannot be placed, changed or cancelled with it (403). A configured key without an
``accounts`` entry gets every account when it holds ``admin``, none otherwise. Session and venue
administration and the kill switches are ``admin`` matters and are not narrowed by accounts.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from fixgw.errors import ConfigError
from fixgw.logsafe import printable

__all__ = [
    "Permission",
    "BridgeKey",
    "KeyRing",
    "load_keys",
    "DEFAULT_NETWORKS",
    "MIN_SECRET_LENGTH",
    "address_allowed",
    "ALL_ACCOUNTS",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# A secret shorter than this is guessable offline from one captured signed request.
MIN_SECRET_LENGTH = 32
DEFAULT_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
)
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENTRY_KEYS = frozenset({"id", "secret_env", "secret_file", "permissions", "allowed_networks", "accounts"})
#: In an ``accounts`` list: every account.
ALL_ACCOUNTS = "*"


class Permission(str, enum.Enum):
    """What a key may do. Each route of the bridge names the one it needs."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class BridgeKey:
    """One API key of the bridge. The secret never appears in ``repr`` or ``str``."""

    key_id: str
    secret: str = field(repr=False)
    permissions: frozenset[Permission] = frozenset({Permission.READ})
    allowed_networks: tuple[IPNetwork, ...] = DEFAULT_NETWORKS
    #: The accounts the key may read and trade; ``None``: every account.
    accounts: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise ValueError("key_id must be 1-64 characters of A-Z a-z 0-9 . _ -")
        if not isinstance(self.secret, str) or len(self.secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret must be a string of at least {MIN_SECRET_LENGTH} characters")
        object.__setattr__(self, "permissions", frozenset(Permission(p) for p in self.permissions))
        object.__setattr__(
            self, "allowed_networks", tuple(ipaddress.ip_network(n) for n in self.allowed_networks)
        )
        if self.accounts is not None:
            if isinstance(self.accounts, str):
                raise ValueError("accounts must be a collection of account names")
            names = frozenset(self.accounts)
            object.__setattr__(self, "accounts", None if ALL_ACCOUNTS in names else names)

    def allows(self, permission: Permission) -> bool:
        """Return True when the key grants ``permission``."""
        return permission in self.permissions

    def allows_account(self, account: str | None) -> bool:
        """Return True when the key may read and trade ``account`` (an account name)."""
        return self.accounts is None or account in self.accounts

    def allows_address(self, host: str | None) -> bool:
        """Return True when a peer at ``host`` (an IP address as text) may use this key."""
        return address_allowed(host, self.allowed_networks)


def address_allowed(host: str | None, networks: Iterable[IPNetwork]) -> bool:
    """Return True when ``host`` (an IP address as text) is in one of ``networks``."""
    address = _parse_address(host)
    if address is None:
        return False
    return any(address.version == net.version and address in net for net in networks)


def _parse_address(host: str | None) -> IPAddress | None:
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone id is not part of the address
    except ValueError:
        return None
    # An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d; judge it by its IPv4 address.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class KeyRing:
    """The bridge's keys by id."""

    def __init__(self, keys: Iterable[BridgeKey]) -> None:
        self._keys: dict[str, BridgeKey] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise ValueError(f"duplicate key id {key.key_id!r}")
            self._keys[key.key_id] = key

    def get(self, key_id: str) -> BridgeKey | None:
        """Return the key named ``key_id``, or None."""
        return self._keys.get(key_id)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._keys.values())

    def __repr__(self) -> str:
        return f"KeyRing({sorted(self._keys)!r})"


def load_keys(
    entries: Sequence[Mapping[str, Any]], environ: Mapping[str, str], *, where: str = "bridge.keys"
) -> KeyRing:
    """Build the key ring from configuration entries; raise ``ConfigError`` naming the bad key.

    Each entry: ``id``, exactly one of ``secret_env`` (an environment variable's name) and
    ``secret_file`` (a path; one trailing newline is dropped), ``permissions`` (a non-empty list of
    ``read``/``trade``/``admin``), optionally ``allowed_networks`` (CIDR strings; default loopback) and
    ``accounts`` (names, or ``"*"``; default every account for an admin key, none otherwise). A literal
    ``secret`` is refused.
    """
    keys: list[BridgeKey] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConfigError(at, "must be a table")
        if "secret" in entry:
            raise ConfigError(f"{at}.secret", "a literal secret is refused; name it with secret_env or secret_file")
        for name in entry:
            if name not in _ENTRY_KEYS:
                raise ConfigError(
                    f"{at}.{printable(name)}", f"unknown key (allowed: {', '.join(sorted(_ENTRY_KEYS))})"
                )
        key_id = entry.get("id")
        if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
            raise ConfigError(f"{at}.id", "is required: 1-64 characters of A-Z a-z 0-9 . _ -")
        if key_id in seen:
            raise ConfigError(f"{at}.id", f"duplicate key id {key_id!r}")
        seen.add(key_id)
        secret = _read_secret(entry, environ, at)
        permissions = _permissions(entry.get("permissions"), f"{at}.permissions")
        networks = _networks(entry.get("allowed_networks"), f"{at}.allowed_networks")
        accounts = _accounts(entry.get("accounts"), Permission.ADMIN in permissions, f"{at}.accounts")
        keys.append(BridgeKey(key_id, secret, permissions, networks, accounts))
    return KeyRing(keys)


def _read_secret(entry: Mapping[str, Any], environ: Mapping[str, str], at: str) -> str:
    env_name, file_name = entry.get("secret_env"), entry.get("secret_file")
    if (env_name is None) == (file_name is None):
        raise ConfigError(at, "give exactly one of secret_env and secret_file")
    if env_name is not None:
        if not isinstance(env_name, str) or not env_name:
            raise ConfigError(f"{at}.secret_env", "must be the name of an environment variable")
        secret = environ.get(env_name)
        if secret is None:
            raise ConfigError(f"{at}.secret_env", f"environment variable {env_name} is not set")
        where = f"{at}.secret_env"
    else:
        if not isinstance(file_name, str) or not file_name:
            raise ConfigError(f"{at}.secret_file", "must be a path")
        try:
            secret = Path(file_name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"{at}.secret_file", f"cannot read {file_name}: {type(e).__name__}") from None
        secret = secret[:-1] if secret.endswith("\n") else secret
        secret = secret[:-1] if secret.endswith("\r") else secret
        where = f"{at}.secret_file"
    # Never echo the value: only its length is safe to tell.
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(where, f"the secret must have at least {MIN_SECRET_LENGTH} characters (has {len(secret)})")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in secret):
        raise ConfigError(where, "the secret holds a control character")
    return secret


def _permissions(value: Any, at: str) -> frozenset[Permission]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(at, "must be a non-empty list of read, trade, admin")
    out = set()
    for p in value:
        try:
            out.add(Permission(p))
        except ValueError:
            raise ConfigError(at, f"unknown permission {printable(p)!r} (allowed: read, trade, admin)") from None
    return frozenset(out)


def _networks(value: Any, at: str) -> tuple[IPNetwork, ...]:
    if value is None:
        return DEFAULT_NETWORKS
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(at, "must be a non-empty list of networks (CIDR), e.g. [\"10.0.0.0/8\"]")
    out = []
    for n in value:
        if not isinstance(n, str):
            raise ConfigError(at, "every network must be a string")
        try:
            out.append(ipaddress.ip_network(n, strict=True))
        except ValueError as e:
            raise ConfigError(at, f"bad network {printable(n)!r}: {e}") from None
    return tuple(out)


def _accounts(value: Any, admin: bool, at: str) -> frozenset[str] | None:
    if value is None:
        return None if admin else frozenset()
    if not isinstance(value, (list, tuple)) or not all(isinstance(a, str) and a for a in value):
        raise ConfigError(at, 'must be a list of account names (or ["*"] for every account)')
    for a in value:
        if a != ALL_ACCOUNTS and (len(a) > 64 or any(ord(c) < 0x21 or ord(c) == 0x7F for c in a)):
            raise ConfigError(at, f"bad account name {printable(a)[:64]!r}")
    names = frozenset(value)
    return None if ALL_ACCOUNTS in names else names
