"""CB-ACCESS-* checks of a private request and of a feed subscription.

``CB-ACCESS-SIGN`` is base64(HMAC-SHA256(base64-decoded secret, timestamp + METHOD + requestPath +
body)); the timestamp is seconds since the epoch (decimals allowed) and must be within 30 s of the
server's clock. The venue's own client libraries sign the path with its query string; the written
documentation only says "path", so both forms are accepted. The feed signs ``GET/users/self/verify``.
Failures are 401 with the venue's messages (400 for a timestamp that is not a number).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from decimal import Decimal, InvalidOperation
from typing import Mapping

from ..signing import ApiKey
from .errors import CoinbaseError

__all__ = ["WINDOW_S", "sign", "authenticate", "FEED_PATH_SIGNED"]

WINDOW_S = 30
FEED_PATH_SIGNED = "/users/self/verify"


def _secret(key: ApiKey) -> bytes | None:
    if key.secret is None:
        return None
    try:
        return base64.b64decode(key.secret, validate=True)
    except (binascii.Error, ValueError):
        return None


def sign(secret: bytes, timestamp: str, method: str, path: str, body: str) -> str:
    """The expected signature (base64) of one request."""
    msg = (timestamp + method.upper() + path + body).encode("utf-8")
    return base64.b64encode(hmac.new(secret, msg, hashlib.sha256).digest()).decode("ascii")


def authenticate(keys: Mapping[str, ApiKey], passphrase: str, *, key: str | None, sign_b64: str | None,
                 timestamp: str | None, phrase: str | None, method: str, paths: tuple[str, ...], body: str,
                 now_ms: int) -> ApiKey:
    """Check one signed request; return its key or raise ``CoinbaseError``."""
    if not key:
        raise CoinbaseError(401, "CB-ACCESS-KEY header is required")
    if not sign_b64:
        raise CoinbaseError(401, "CB-ACCESS-SIGN header is required")
    if not timestamp:
        raise CoinbaseError(401, "CB-ACCESS-TIMESTAMP header is required")
    if phrase is None or phrase == "":
        raise CoinbaseError(401, "CB-ACCESS-PASSPHRASE header is required")
    api_key = keys.get(key)
    secret = _secret(api_key) if api_key is not None else None
    if api_key is None or secret is None:
        raise CoinbaseError(401, "Invalid API Key")
    try:
        ts = Decimal(timestamp)
    except InvalidOperation:
        raise CoinbaseError(400, "invalid timestamp") from None
    if not ts.is_finite():
        raise CoinbaseError(400, "invalid timestamp")
    if abs(ts * 1000 - now_ms) > WINDOW_S * 1000:
        raise CoinbaseError(401, "request timestamp expired")
    if not hmac.compare_digest(phrase.encode("utf-8", "surrogatepass"), passphrase.encode("utf-8")):
        raise CoinbaseError(401, "Invalid Passphrase")
    sent = sign_b64.encode("utf-8", "surrogatepass")
    for path in paths:
        if hmac.compare_digest(sign(secret, timestamp, method, path, body).encode("ascii"), sent):
            return api_key
    raise CoinbaseError(401, "invalid signature")
