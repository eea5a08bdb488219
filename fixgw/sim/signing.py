"""Signature checks of SIGNED requests, written from the venue's documented rules.

REST: the payload is the query string followed by the body with no separator, exactly as sent
(percent-encoded), minus the ``signature`` parameter. WebSocket API: every parameter except
``signature`` (``apiKey`` included), sorted by name, joined as ``k=v&...`` with raw UTF-8 values.
HMAC-SHA256 signatures are hex (any case); Ed25519 signatures are base64.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

__all__ = ["ApiKey", "rest_payload", "ws_payload", "verify"]


@dataclass(frozen=True)
class ApiKey:
    """An API key of the simulator: an HMAC ``secret`` or an Ed25519 public key (PEM), and its account."""

    api_key: str
    account_id: str
    secret: str | None = field(default=None, repr=False)
    ed25519_public_key_pem: bytes | None = None

    def __post_init__(self) -> None:
        if (self.secret is None) == (self.ed25519_public_key_pem is None):
            raise ValueError("give exactly one of secret and ed25519_public_key_pem")

    @property
    def is_ed25519(self) -> bool:
        return self.ed25519_public_key_pem is not None


def _strip_signature(part: str) -> tuple[str, str | None]:
    kept, signature = [], None
    for piece in part.split("&") if part else []:
        if piece.startswith("signature="):
            signature = piece[len("signature="):]
        else:
            kept.append(piece)
    return "&".join(kept), signature


def rest_payload(query: str, body: str) -> tuple[str, str | None]:
    """Return (signed payload, signature as sent, still percent-encoded) of a REST request."""
    q, sig_q = _strip_signature(query)
    b, sig_b = _strip_signature(body)
    return q + b, sig_b if sig_b is not None else sig_q


def ws_payload(params: Mapping[str, Any]) -> str:
    """Return the payload a WebSocket API request signs."""
    # text and whole numbers (timestamp, recvWindow: most values) without a call; a JSON object's
    # names are unique, so sorting the pairs compares names only
    return "&".join([f"{k}={v if type(v) is str else v if type(v) is int else _ws_value(v)}"
                     for k, v in sorted(params.items()) if k != "signature"])


def _ws_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@lru_cache(maxsize=64)
def _hmac_pads(secret: bytes) -> tuple[Any, Any]:
    """SHA-256 states after the inner and outer padded key of HMAC (RFC 2104), made once per key."""
    if len(secret) > 64:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(64, b"\0")
    return hashlib.sha256(secret.translate(_IPAD)), hashlib.sha256(secret.translate(_OPAD))


def hmac_sha256_hex(secret: bytes, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` in hex, from the key's cached states (a fresh HMAC costs twice as much)."""
    inner, outer = _hmac_pads(secret)
    inner = inner.copy()
    inner.update(data)
    outer = outer.copy()
    outer.update(inner.digest())
    return outer.hexdigest()


@lru_cache(maxsize=64)
def _public_key(pem: bytes) -> Any:
    """The loaded Ed25519 public key of a PEM (parsing costs far more than verifying), or None."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    public = load_pem_public_key(pem)
    return public if isinstance(public, Ed25519PublicKey) else None


def verify(key: ApiKey, payload: str, signature: str) -> bool:
    """True when ``signature`` signs ``payload`` with ``key``."""
    data = payload.encode("utf-8")
    if key.secret is not None:
        expected = hmac_sha256_hex(key.secret.encode("ascii"), data).encode("ascii")
        # as bytes: compare_digest refuses str with non-ASCII characters, and a peer may send them
        return hmac.compare_digest(expected, signature.lower().encode("utf-8", "surrogatepass"))
    from cryptography.exceptions import InvalidSignature

    assert key.ed25519_public_key_pem is not None
    public = _public_key(key.ed25519_public_key_pem)
    if public is None:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        public.verify(raw, data)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True
