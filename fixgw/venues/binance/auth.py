"""Which signature a Binance request carries: HMAC-SHA256 (hex) or Ed25519 (base64), by key type."""

from __future__ import annotations

from fixgw.venues._common.signing import ed25519_sign_base64, hmac_sha256_hex

__all__ = ["sign_payload"]


def sign_payload(payload: str, api_secret: str, ed25519_private_key_pem: str = "") -> str:
    """Sign a REST query or WebSocket API payload with the Ed25519 key if one is given, else the HMAC secret."""
    if ed25519_private_key_pem:
        return ed25519_sign_base64(ed25519_private_key_pem, payload)
    return hmac_sha256_hex(api_secret, payload)
