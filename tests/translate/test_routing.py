"""OnBehalfOf (115/116/144) and DeliverTo (128/129/145) in -> orders.Route -> the reverse fields out."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixgw.codec import Message, Parser, encode
from fixgw.errors import OrderError
from fixgw.orders import Party, Route
from fixgw.translate import ROUTE_TAGS, RouteError, reply_header, route_of


def inbound(header: list[tuple[int, object]]) -> Message:
    p = Parser()
    p.feed(encode("FIX.4.4", "D", [(49, "CLIENT"), (56, "GW"), (34, 2), (52, "20251125-02:00:00.000"), *header,
                                   (11, "c1")]))
    m = p.next_event()
    assert isinstance(m, Message)
    return m


def test_routing_on_behalf_of_answered_with_deliver_to() -> None:
    route = route_of(inbound([(115, "BUREAU"), (116, "DESK7"), (144, "LDN")]))
    assert route == Route(on_behalf_of=Party("BUREAU", "DESK7", "LDN"))
    assert reply_header(route) == [(128, "BUREAU"), (129, "DESK7"), (145, "LDN")]


def test_routing_deliver_to_answered_on_behalf_of() -> None:
    route = route_of(inbound([(128, "EXCH2"), (145, "NY")]))
    assert route == Route(deliver_to=Party("EXCH2", None, "NY"))
    assert reply_header(route) == [(115, "EXCH2"), (144, "NY")]


def test_routing_both_directions_each_reversed() -> None:
    route = route_of(inbound([(115, "A"), (128, "B"), (116, "a1"), (129, "b1")]))
    assert reply_header(route) == [(115, "B"), (116, "b1"), (128, "A"), (129, "a1")]


def test_routing_no_party_no_route_no_header() -> None:
    assert route_of(inbound([])) is None
    assert reply_header(None) == []


def test_routing_field_not_utf8_raises_route_error_naming_tag() -> None:
    with pytest.raises(RouteError) as err:
        route_of(inbound([(115, b"\xff\xfe")]))
    assert err.value.tag == 115 and "115" in err.value.text


def test_routing_table_pairs_on_behalf_of_with_deliver_to() -> None:
    assert ROUTE_TAGS == ((115, 128), (116, 129), (144, 145))


def test_routing_party_without_any_id_refused() -> None:
    with pytest.raises(OrderError):
        Party()
    with pytest.raises(OrderError):
        Route()
    with pytest.raises(OrderError):
        Party(comp_id="")


ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="="), min_size=1, max_size=8)


@given(st.lists(st.sampled_from([115, 116, 144, 128, 129, 145]), min_size=1, max_size=6, unique=True), st.data())
def test_routing_reply_of_reply_is_original(tags: list[int], data: st.DataObject) -> None:
    header = [(t, data.draw(ids)) for t in tags]
    route = route_of(inbound(header))
    reply = reply_header(route)
    # The answer, read as a request, routes back to where the original came from.
    assert sorted(reply_header(route_of(inbound(reply)))) == sorted(header)
    swap = {a: b for a, b in ROUTE_TAGS} | {b: a for a, b in ROUTE_TAGS}
    assert sorted(reply) == sorted((swap[t], v) for t, v in header)
