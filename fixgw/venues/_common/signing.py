"""Request signing schemes as small pure functions.

Each function takes the exact bytes-to-be (or the parameters that define them) and returns the
signature text the venue expects. No clock reads, no I/O: callers pass timestamps and nonces in,
so every scheme is checked against the venues' documented vectors.

Binance has two payload rules that must not be mixed up:

* REST: the payload is the query string followed by the body, exactly as sent, in the order
  given, with non-ASCII characters percent-encoded (UTF-8) *before* signing.
* WebSocket API: every parameter except ``signature`` (``apiKey`` included) sorted by name and
  joined as ``k=v&...`` with raw UTF-8 values and no percent-encoding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter
from typing import Any
from urllib.parse import quote

__all__ = [
    "format_param",
    "binance_rest_payload",
    "binance_ws_payload",
    "hmac_sha256_hex",
    "binance_hmac_signature",
    "ed25519_sign_base64",
    "load_ed25519_private_key",
    "coinbase_exchange_signature",
    "kraken_signature",
]

Params = Mapping[str, object] | Iterable[tuple[str, object]]


def format_param(value: object) -> str:
    """Render one parameter value as the venue expects it on the wire.

    Decimals are written in plain (non-exponent) notation; booleans as ``true``/``false``.
    Floats are refused: money never travels as a float.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not allowed in venue requests; use Decimal")
    return str(value)


def _items(params: Params) -> list[tuple[str, object]]:
    if isinstance(params, Mapping):
        return list(params.items())
    return list(params)


def binance_rest_payload(params: Params) -> str:
    """Return the percent-encoded ``k=v&...`` string in the given order (what is sent and signed)."""
    parts = []
    for key, value in _items(params):
        if value is None:
            continue
        parts.append(f"{quote(key, safe='')}={quote(format_param(value), safe='')}")
    return "&".join(parts)


def binance_ws_payload(params: Params) -> str:
    """Return the WebSocket API signing payload: sorted by name, raw UTF-8, ``signature`` left out."""
    items = sorted(params.items() if isinstance(params, Mapping) else params, key=_name)
    # one request per order passes here, in one pass: text and whole numbers (most values) skip
    # ``format_param``
    return "&".join([f"{k}={v}" if type(v) is str or type(v) is int else f"{k}={format_param(v)}"
                     for k, v in items if v is not None and k != "signature"])


_name = itemgetter(0)


@lru_cache(maxsize=16)
def _keyed_sha256(secret: str | bytes) -> Any:
    """An HMAC-SHA256 object keyed by ``secret`` that has hashed nothing yet: signing copies it, so
    the key schedule (two hashed pad blocks) is computed once per secret, not once per request."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, digestmod=hashlib.sha256)


def hmac_sha256_hex(secret: str | bytes, payload: str | bytes) -> str:
    """Return lowercase hex HMAC-SHA256 of ``payload`` (UTF-8) keyed by ``secret`` (as given)."""
    mac = _keyed_sha256(secret).copy()  # the cached object is never updated itself
    mac.update(payload.encode("utf-8") if isinstance(payload, str) else payload)
    return mac.hexdigest()


def binance_hmac_signature(secret: str, query: str = "", body: str = "") -> str:
    """Sign a Binance REST request: HMAC-SHA256 over query + body joined with no separator."""
    return hmac_sha256_hex(secret, query + body)


def load_ed25519_private_key(pem: str | bytes):  # -> Ed25519PrivateKey
    """Load a PKCS#8 PEM Ed25519 private key (the form Binance asks for)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    data = pem.encode("ascii") if isinstance(pem, str) else pem
    key = load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def ed25519_sign_base64(private_key_pem: Any, payload: str | bytes) -> str:
    """Return base64(Ed25519 signature) of ``payload`` (UTF-8): 88 characters, padded.

    The key is a PKCS#8 PEM (text or bytes) or a key ``load_ed25519_private_key`` already loaded.
    """
    key = load_ed25519_private_key(private_key_pem) if isinstance(private_key_pem, (str, bytes)) else private_key_pem
    msg = payload.encode("utf-8") if isinstance(payload, str) else payload
    return base64.b64encode(key.sign(msg)).decode("ascii")


def coinbase_exchange_signature(
    secret_b64: str, timestamp: str, method: str, request_path: str, body: str = ""
) -> str:
    """Return CB-ACCESS-SIGN: base64(HMAC-SHA256(b64decode(secret), ts + METHOD + path + body)).

    ``request_path`` is the path as sent, including any query string.
    """
    key = base64.b64decode(secret_b64)
    msg = (timestamp + method.upper() + request_path + body).encode("utf-8")
    return base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode("ascii")


def kraken_signature(secret_b64: str, uri_path: str, nonce: str | int, postdata: str) -> str:
    """Return Kraken spot API-Sign: base64(HMAC-SHA512(b64decode(secret), path + SHA256(nonce + postdata))).

    The SHA-256 is the raw 32-byte digest; ``postdata`` must be the exact body sent (it contains the
    nonce again).
    """
    inner = hashlib.sha256((str(nonce) + postdata).encode("utf-8")).digest()
    mac = hmac.new(base64.b64decode(secret_b64), uri_path.encode("utf-8") + inner, hashlib.sha512)
    return base64.b64encode(mac.digest()).decode("ascii")
