"""Every signing scheme reproduces the venues' documented vectors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fixgw.venues._common.signing import (
    binance_hmac_signature,
    binance_rest_payload,
    binance_ws_payload,
    coinbase_exchange_signature,
    ed25519_sign_base64,
    format_param,
    hmac_sha256_hex,
    kraken_signature,
)
from .conftest import vectors

REST = vectors("hmac_sha256_query")
WS = vectors("hmac_sha256_ws_sorted")


@pytest.mark.parametrize("v", [v for v in REST if v["kind"] == "hmac_sha256_query"], ids=lambda v: v["payload"][:20])
def test_binance_rest_hmac_documented_vector_reproduces(v):
    assert binance_hmac_signature(v["secret"], v["payload"]) == v["expected"]


def test_binance_rest_payload_non_ascii_symbol_is_percent_encoded_in_order():
    v = next(v for v in REST if "%EF" in v["payload"])
    params = [("symbol", "１２３４５６"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
              ("quantity", Decimal("1")), ("price", Decimal("0.1")), ("recvWindow", 5000), ("timestamp", 1499827319559)]
    payload = binance_rest_payload(params)
    assert payload == v["payload"]
    assert binance_hmac_signature(v["secret"], payload) == v["expected"]


def test_binance_rest_query_plus_body_joined_without_separator_reproduces():
    v = next(v for v in REST if v["kind"] == "hmac_sha256_query_plus_body")
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    assert binance_hmac_signature(v["secret"], query, body) == v["expected"]


@pytest.mark.parametrize("v", [v for v in WS if "params" not in v], ids=lambda v: v["payload"][-30:])
def test_binance_ws_hmac_documented_payload_reproduces(v):
    assert hmac_sha256_hex(v["secret"], v["payload"]) == v["expected"]


@pytest.mark.parametrize("v", [v for v in WS if "params" in v], ids=lambda v: v["method"])
def test_binance_ws_sorted_params_build_documented_payload_and_signature(v):
    params = dict(v["params"])
    params["signature"] = "ignored"  # the signature itself is never part of the payload
    payload = binance_ws_payload(params)
    assert payload == v["payload"]
    assert hmac_sha256_hex(v["secret"], payload) == v["expected"]


def test_binance_ws_payload_non_ascii_stays_raw_utf8():
    v = next(v for v in WS if "１２３４５６" in v.get("payload", ""))
    params = {"symbol": "１２３４５６", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
              "quantity": "1.00000000", "price": "0.10000000", "recvWindow": 5000,
              "timestamp": 1645423376532, "apiKey": v["api_key"]}
    assert binance_ws_payload(params) == v["payload"]
    assert hmac_sha256_hex(v["secret"], binance_ws_payload(params)) == v["expected"]


def test_binance_ed25519_fix_logon_documented_vector_reproduces():
    v = vectors("ed25519_fix_logon_rawdata")[0]
    sig = ed25519_sign_base64(v["private_key_pem"], v["payload"])
    assert sig == v["expected"]
    assert len(sig) == 88


def test_coinbase_exchange_documented_vector_reproduces():
    v = vectors("hmac_sha256_cb_access_sign")[0]
    sig = coinbase_exchange_signature(v["secret"], v["timestamp"], v["method"].lower(), v["request_path"], v["body"])
    assert sig == v["expected"]


def test_coinbase_exchange_path_without_query_gives_other_signature():
    v = vectors("hmac_sha256_cb_access_sign")[0]
    sig = coinbase_exchange_signature(v["secret"], v["timestamp"], "GET", "/fills", "")
    assert sig == "GfQnEZw9E4nWOe9pBn7ra7jVNEofKHQqBm3p6soc7ok="


def test_kraken_documented_vector_reproduces():
    v = vectors("hmac_sha512_api_sign")[0]
    assert kraken_signature(v["secret"], v["uri_path"], v["nonce"], v["payload"]) == v["expected"]


def test_format_param_float_refused():
    with pytest.raises(TypeError):
        format_param(0.1)
    assert format_param(Decimal("1E-8")) == "0.00000001"
    assert format_param(True) == "true"
