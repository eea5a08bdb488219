"""Who behind a session an order is for: the route its reports go back by.

A session may carry many parties (a service bureau, a hub): a client sends an order on behalf of a
firm behind it, or addresses it to a firm behind us. The order keeps that route from its first request
(journaled with ``SubmitOrder``), so every report about it, after a restart too, goes back the same way.
The route is plain data in the order model's words; ``fixgw.translate`` turns it into header fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from fixgw.errors import OrderError

__all__ = ["Party", "Route"]


@dataclass(frozen=True, slots=True)
class Party:
    """A firm (``comp_id``), optionally a desk or trader in it (``sub_id``) and a location."""

    comp_id: str | None = None
    sub_id: str | None = None
    location_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("comp_id", "sub_id", "location_id"):
            v = getattr(self, name)
            if v is not None and (type(v) is not str or not v):
                raise OrderError(f"party {name} must be a non-empty string")
        if self.comp_id is None and self.sub_id is None and self.location_id is None:
            raise OrderError("a party needs a comp_id, sub_id or location_id")

    def as_list(self) -> list[str | None]:
        """Return ``[comp_id, sub_id, location_id]`` (the journal's form)."""
        return [self.comp_id, self.sub_id, self.location_id]

    @classmethod
    def from_list(cls, values: list[str | None]) -> "Party":
        """Rebuild a party from ``as_list``'s output."""
        comp_id, sub_id, location_id = values
        return cls(comp_id, sub_id, location_id)


@dataclass(frozen=True, slots=True)
class Route:
    """The parties a request named, as it came: ``on_behalf_of`` sent it through the client,
    ``deliver_to`` is who it was addressed to. Answers reverse the two."""

    on_behalf_of: Party | None = None
    deliver_to: Party | None = None

    def __post_init__(self) -> None:
        for name in ("on_behalf_of", "deliver_to"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, Party):
                raise OrderError(f"route {name} must be a Party")
        if self.on_behalf_of is None and self.deliver_to is None:
            raise OrderError("a route names at least one party")

    def to_json(self) -> dict[str, list[str | None] | None]:
        """Return the route's journal form."""
        return {
            "on_behalf_of": None if self.on_behalf_of is None else self.on_behalf_of.as_list(),
            "deliver_to": None if self.deliver_to is None else self.deliver_to.as_list(),
        }

    @classmethod
    def from_json(cls, data: dict[str, list[str | None] | None]) -> "Route":
        """Rebuild a route from ``to_json``'s output (``OrderError``/``TypeError`` when malformed)."""
        if not isinstance(data, dict):
            raise TypeError("a route is an object")
        obo, dto = data.get("on_behalf_of"), data.get("deliver_to")
        return cls(None if obo is None else Party.from_list(obo), None if dto is None else Party.from_list(dto))
