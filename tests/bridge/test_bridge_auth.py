"""The signing scheme and the verifier, without I/O: canonical string, window edges, replays, bounds."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.bridge import BridgeKey, Permission
from fixgw.bridge.auth import ReplayCache, Verifier, canonical_request, check_window, sign, signed_headers
from fixgw.bridge.errors import ApiError
from fixgw.errors import ConfigError

SECRET = "doc-example-secret-0123456789abcdef"
KEY = BridgeKey("oms-1", SECRET, {Permission.READ, Permission.TRADE})
NOW = 1_750_000_000_000
DOC = Path(__file__).resolve().parents[2] / "docs" / "bridge.md"

# The worked example of docs/bridge.md: any implementation must reproduce these bytes.
EXAMPLE = dict(key_id="oms-1", timestamp_ms=1750000000000, method="POST", path="/v1/orders",
               query="account=main&dry_run=true", body=b'{"symbol":"ETHUSDT","price":"3100.00"}')
EXAMPLE_CANONICAL = (
    b"FIXGW-HMAC-SHA256\noms-1\n1750000000000\nPOST\n/v1/orders\naccount=main&dry_run=true\n"
    + hashlib.sha256(EXAMPLE["body"]).hexdigest().encode()  # type: ignore[arg-type]
)


def verifier(**kw: object) -> Verifier:
    return Verifier([KEY], **kw)  # type: ignore[arg-type]


def headers_of(h: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode(), v.encode()) for k, v in h.items()]


def check(v: Verifier, *, ts: int = NOW, now: int = NOW, method: str = "POST", path: str = "/v1/echo",
          query: str = "", body: bytes = b"", peer: str | None = "127.0.0.1",
          sent_query: str | None = None, sent_body: bytes | None = None,
          headers: list[tuple[bytes, bytes]] | None = None) -> BridgeKey:
    h = headers if headers is not None else headers_of(signed_headers("oms-1", SECRET, ts, method, path, query, body))
    q = query if sent_query is None else sent_query
    b = body if sent_body is None else sent_body
    return v.verify(h, method, path.encode(), q.encode(), b, peer, now)


def refused(code: str, fn: object, *args: object, **kw: object) -> ApiError:
    with pytest.raises(ApiError) as e:
        fn(*args, **kw)  # type: ignore[operator]
    assert e.value.code == code, e.value
    return e.value


def test_canonical_request_worked_example_matches_docs() -> None:
    canonical = canonical_request(**EXAMPLE)  # type: ignore[arg-type]
    assert canonical == EXAMPLE_CANONICAL
    signature = sign(SECRET, canonical)
    assert signature == hmac.new(SECRET.encode(), EXAMPLE_CANONICAL, hashlib.sha256).hexdigest()
    text = DOC.read_text(encoding="utf-8")
    assert signature in text, "docs/bridge.md must show the example's signature"
    assert hashlib.sha256(EXAMPLE["body"]).hexdigest() in text  # type: ignore[arg-type]
    assert SECRET in text


_part = st.text(st.characters(blacklist_characters="\r\n?", blacklist_categories=("Cs",)), max_size=30)


@given(method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]), path=_part,
       query=st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=30),
       body=st.binary(max_size=60))
def test_canonical_request_splits_back_into_its_parts(method: str, path: str, query: str, body: bytes) -> None:
    # Seven lines, each exactly one input: the string is injective in (method, path, query, body).
    parts = canonical_request("k", 1, method, "/" + path, query, body).split(b"\n")
    assert parts == [b"FIXGW-HMAC-SHA256", b"k", b"1", method.encode(), ("/" + path).encode(),
                     query.encode(), hashlib.sha256(body).hexdigest().encode()]


@given(data=st.data(), text=st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
                                     min_size=1, max_size=40))
def test_canonical_request_moving_bytes_between_query_and_body_changes_it(data: st.DataObject, text: str) -> None:
    # The same characters, split into query and body at two different places.
    a = data.draw(st.integers(0, len(text)))
    b = data.draw(st.integers(0, len(text)).filter(lambda x: x != a))
    one = canonical_request("k", 1, "POST", "/p", text[:a], text[a:].encode())
    two = canonical_request("k", 1, "POST", "/p", text[:b], text[b:].encode())
    assert one != two


def test_verify_price_moved_from_query_to_body_refused() -> None:
    # Signed: ?price=31000 with body ".00". Sent: ?price=3100 with body "0.00". Joined without a
    # separator (query + body) both read "price=31000.00": a scheme like that would accept this.
    assert "price=31000" + ".00" == "price=3100" + "0.00"
    v = verifier()
    refused("bad_signature", check, v, query="price=31000", body=b".00", sent_query="price=3100", sent_body=b"0.00")
    assert check(v, query="price=31000", body=b".00") is KEY


@pytest.mark.parametrize("skew_ms", [-10_000, -1, 0, 1, 10_000])
def test_verify_timestamp_inside_window_edges_included_accepted(skew_ms: int) -> None:
    assert check(verifier(), ts=NOW + skew_ms) is KEY


@pytest.mark.parametrize(("skew_ms", "what"), [(-10_001, "old"), (10_001, "future"), (-3_600_000, "old")])
def test_verify_timestamp_outside_window_refused(skew_ms: int, what: str) -> None:
    err = refused("stale_timestamp", check, verifier(), ts=NOW + skew_ms)
    assert err.status == 401


def test_verify_window_configured_to_five_seconds_edges() -> None:
    v = verifier(window=5)
    assert check(v, ts=NOW - 5000) is KEY
    refused("stale_timestamp", check, v, ts=NOW - 5001, body=b"x")


@pytest.mark.parametrize("window", [5, 5.0, 10, 30, 29.5])
def test_check_window_in_range_accepted(window: float) -> None:
    assert check_window(window) == float(window)


@pytest.mark.parametrize("window", [4.999, 30.001, 0, -10, True, "10", None])
def test_check_window_out_of_range_config_error(window: object) -> None:
    with pytest.raises(ConfigError) as e:
        Verifier([KEY], window=window)  # type: ignore[arg-type]
    assert e.value.key == "bridge.window"


def test_verify_same_request_twice_second_refused_as_replay() -> None:
    v = verifier()
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"{}"))
    assert check(v, body=b"{}", headers=h) is KEY
    err = refused("replayed_request", check, v, body=b"{}", headers=h, now=NOW + 9_000)
    assert err.status == 401


def test_verify_replay_with_upper_case_signature_refused() -> None:
    v = verifier()
    h = signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"{}")
    check(v, body=b"{}", headers=headers_of(h))
    h["X-FIXGW-SIGNATURE"] = h["X-FIXGW-SIGNATURE"].upper()
    refused("replayed_request", check, v, body=b"{}", headers=headers_of(h))


def test_verify_replay_after_window_refused_as_stale_and_forgotten() -> None:
    v = verifier()
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b""))
    check(v, headers=h)
    assert len(v.replay) == 1
    refused("stale_timestamp", check, v, headers=h, now=NOW + 10_001)
    check(v, ts=NOW + 10_001, now=NOW + 10_001)  # a new request purges the expired entry
    assert len(v.replay) == 1


def test_verify_clock_stepping_back_does_not_revive_forgotten_request() -> None:
    v = verifier()
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b""))
    check(v, headers=h)
    check(v, ts=NOW + 20_000, now=NOW + 20_000, body=b"later")  # purges the first entry
    # The server's clock steps back 15 s: the first request is inside the window again, but its
    # entry is gone, so only the cache's horizon stops the replay.
    refused("stale_timestamp", check, v, headers=h, now=NOW + 5_000)


def test_verify_replay_cache_full_refuses_with_429_then_recovers() -> None:
    v = verifier(replay_capacity=3)
    for i in range(3):
        check(v, body=b"%d" % i)
    err = refused("too_many_requests", check, v, body=b"3")
    assert err.status == 429 and err.headers["Retry-After"] == "10"
    assert check(v, ts=NOW + 10_001, now=NOW + 10_001, body=b"3") is KEY


def test_replay_cache_bounded_under_many_requests() -> None:
    cache = ReplayCache(capacity=50)
    refusals = 0
    for i in range(2_000):
        now = NOW + i * 100  # ten requests a second, window 1 s: at most ~11 live entries
        refusals += cache.add(b"%d" % i, now + 1_000, now) is not None
        assert len(cache) <= 11
    assert refusals == 0


@pytest.mark.parametrize("missing", ["X-FIXGW-KEY", "X-FIXGW-TIMESTAMP", "X-FIXGW-SIGNATURE"])
def test_verify_missing_header_refused(missing: str) -> None:
    h = signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"")
    del h[missing]
    err = refused("missing_credentials", check, verifier(), headers=headers_of(h))
    assert missing in err.message


def test_verify_header_given_twice_refused() -> None:
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b""))
    h.append((b"x-fixgw-key", b"oms-1"))
    refused("missing_credentials", check, verifier(), headers=h)


@pytest.mark.parametrize("ts", ["", "abc", "-1750000000000", "01750000000000", "1750000000000.0", "1.75e12",
                                "17500000000000000", " 1750000000000x"])
def test_verify_malformed_timestamp_refused(ts: str) -> None:
    h = signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"")
    h["X-FIXGW-TIMESTAMP"] = ts
    refused("bad_timestamp", check, verifier(), headers=headers_of(h))


@pytest.mark.parametrize("sig", ["", "00" * 31, "zz" * 32, "00" * 33, "a" * 63 + "\x00"])
def test_verify_malformed_signature_refused(sig: str) -> None:
    h = signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"")
    h["X-FIXGW-SIGNATURE"] = sig
    refused("bad_signature", check, verifier(), headers=headers_of(h))


@pytest.mark.parametrize("key_id", ["nobody", "oms-1 extra", "x" * 65, "oms\u00e9"])
def test_verify_unknown_key_refused(key_id: str) -> None:
    h = [(b"x-fixgw-key", key_id.encode()), (b"x-fixgw-timestamp", str(NOW).encode()),
         (b"x-fixgw-signature", b"0" * 64)]
    refused("unknown_key", check, verifier(), headers=h)


def test_verify_signed_with_other_secret_refused() -> None:
    h = headers_of(signed_headers("oms-1", "another-secret-0123456789abcdef01", NOW, "POST", "/v1/echo", "", b""))
    refused("bad_signature", check, verifier(), headers=h)


@pytest.mark.parametrize(("field", "value"), [("method", "PUT"), ("path", "/v1/echo2"), ("query", "a=1"),
                                              ("body", b"{}")])
def test_verify_any_part_changed_refused(field: str, value: object) -> None:
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b""))
    kwargs = {field: value, "headers": h}
    refused("bad_signature", check, verifier(), **kwargs)  # type: ignore[arg-type]


def test_verify_disallowed_peer_refused_with_403() -> None:
    err = refused("forbidden_address", check, verifier(), peer="192.0.2.7")
    assert err.status == 403


def test_canonical_request_line_break_or_query_in_path_refused() -> None:
    for path, query in (("/a\nb", ""), ("/a", "b\r\nX: y"), ("/a?b", "")):
        with pytest.raises(ValueError):
            canonical_request("k", 1, "GET", path, query, b"")


@pytest.mark.parametrize("part", ["key_id", "timestamp_ms", "method", "path", "query"])
@given(at=st.integers(min_value=0, max_value=8), brk=st.sampled_from(["\n", "\r", "\r\n"]))
def test_canonical_request_line_break_in_any_part_refused(part: str, at: int, brk: str) -> None:
    args: dict[str, object] = dict(key_id="oms-1", timestamp_ms="1750000000000", method="POST", path="/v1/orders",
                                   query="a=1", body=b"{}")
    text = str(args[part])
    args[part] = text[:at] + brk + text[at:]
    with pytest.raises(ValueError, match="line break"):
        canonical_request(**args)  # type: ignore[arg-type]


def test_verify_header_names_in_any_case_accepted() -> None:
    h = [(k.encode(), v.encode()) for k, v in signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b"").items()]
    mixed = [(b"X-Fixgw-Key" if k.lower() == b"x-fixgw-key" else k, v) for k, v in h]
    assert check(verifier(), headers=h) is KEY
    assert check(verifier(), headers=mixed) is KEY


def test_verify_header_given_twice_in_other_case_refused() -> None:
    h = headers_of(signed_headers("oms-1", SECRET, NOW, "POST", "/v1/echo", "", b""))
    h.append((b"X-FIXGW-SIGNATURE", dict(h)[b"x-fixgw-signature"]))
    err = refused("missing_credentials", check, verifier(), headers=h)
    assert "X-FIXGW-SIGNATURE" in err.message and "more than once" in err.message
