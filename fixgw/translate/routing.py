"""Third-party routing: OnBehalfOf (115/116/144) and DeliverTo (128/129/145) <-> ``orders.Route``.

A message that came on behalf of a party (115/116/144) is answered with DeliverTo naming that party
(128/129/145), and one addressed to a party (128/129/145) is answered on its behalf (115/116/144).
``ROUTE_TAGS`` is the one table of that pairing in the gateway; the session engine reverses the header
of its own rejects with the same pairs.

``route_of(message)`` reads the route of an inbound message (``None`` when it names no party);
``reply_header(route)`` gives the header fields of every answer and report that goes back by it, ready
for ``send(..., header_fields=...)``. Pure.
"""

from __future__ import annotations

from typing import Any

from ..orders.route import Party, Route
from ..session import ROUTE_TAGS as SESSION_ROUTE_TAGS

__all__ = ["ROUTE_TAGS", "ON_BEHALF_OF_TAGS", "DELIVER_TO_TAGS", "RouteError", "route_of", "reply_header"]

#: (OnBehalfOf tag, DeliverTo tag) for CompID, SubID, LocationID: inbound one side, outbound the other.
ROUTE_TAGS = SESSION_ROUTE_TAGS  # one table: the session engine's own Rejects use it too
ON_BEHALF_OF_TAGS = tuple(a for a, _ in ROUTE_TAGS)
DELIVER_TO_TAGS = tuple(b for _, b in ROUTE_TAGS)


class RouteError(ValueError):
    """A routing field that cannot be echoed (not UTF-8 text); ``tag`` names it."""

    def __init__(self, tag: int, text: str) -> None:
        super().__init__(text)
        self.tag = tag
        self.text = text


def _party(msg: Any, tags: tuple[int, ...]) -> Party | None:
    get = msg.get
    raws = [get(tag) for tag in tags]
    if not any(raws):  # the common case: no routing field (an absent or empty field names no one)
        return None
    values: list[str | None] = []
    for tag, raw in zip(tags, raws):
        if raw is None or raw == b"":
            values.append(None)
            continue
        try:
            values.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise RouteError(tag, f"tag {tag} is not valid text") from None
    return Party(*values)


def route_of(msg: Any) -> Route | None:
    """Return the route an inbound message names, ``None`` when it names none.

    Raise ``RouteError`` when a routing field is not UTF-8 text (it could not be echoed faithfully).
    """
    obo = _party(msg, ON_BEHALF_OF_TAGS)
    dto = _party(msg, DELIVER_TO_TAGS)
    if obo is None and dto is None:
        return None
    return Route(on_behalf_of=obo, deliver_to=dto)


def reply_header(route: Route | None) -> list[tuple[int, str]]:
    """Return the header fields of a message going back by ``route`` (empty for ``None``).

    The party a request came on behalf of is delivered to; the party it was addressed to answers.
    Fields follow the FIX header order: OnBehalfOf (115, 116, 144) before DeliverTo (128, 129, 145).
    """
    if route is None:
        return []
    out: list[tuple[int, str]] = []
    if route.deliver_to is not None:
        for (obo_tag, _), value in zip(ROUTE_TAGS, route.deliver_to.as_list()):
            if value is not None:
                out.append((obo_tag, value))
    if route.on_behalf_of is not None:
        for (_, dto_tag), value in zip(ROUTE_TAGS, route.on_behalf_of.as_list()):
            if value is not None:
                out.append((dto_tag, value))
    return out
