"""Kraken REST authentication: ``API-Key`` and ``API-Sign``, with a strictly increasing nonce.

``API-Sign = base64(HMAC-SHA512(base64decode(secret), uri_path + SHA256(nonce + postdata)))``: the
SHA-256 is the raw 32-byte digest appended to the path bytes, ``postdata`` the exact body bytes as
sent (form-encoded or JSON), ``nonce`` the value of its ``nonce`` field. Each key's nonces must
increase; a repeated or lower one is ``EAPI:Invalid nonce`` (the optional per-key nonce window of
the venue is 0 here). The nonce is remembered only once the signature is good, so a forged request
cannot burn a nonce.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

__all__ = ["sign", "verify_sign", "NonceBook"]


def sign(secret_b64: str, uri_path: str, nonce: str, postdata: bytes) -> str:
    """The ``API-Sign`` value of a request."""
    digest = hashlib.sha256(nonce.encode() + postdata).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode() + digest, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode()


def verify_sign(secret_b64: str, uri_path: str, nonce: str, postdata: bytes, given: str) -> bool:
    try:
        expected = sign(secret_b64, uri_path, nonce, postdata)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


class NonceBook:
    """The last nonce accepted per API key."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def fresh(self, api_key: str, nonce: int) -> bool:
        return nonce > self._last.get(api_key, -1)

    def accept(self, api_key: str, nonce: int) -> None:
        self._last[api_key] = nonce
