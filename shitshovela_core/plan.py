"""What a run would do, as plain data: `Engine.plan` builds it, ``shitshovela plan``
renders it. Building it reads the ticket system and the source, and changes
nothing."""

from __future__ import annotations

from typing import Literal

import attrs

from .models import Flag, Origin, TicketDraft

#: Whose a flagged ticket is (I7): ``mine`` is finished by reconcile; a ticket
#: without a readable origin, whose origin is another source's, that another
#: identity created, or whose origin pins no exact revision is reported and left
#: alone.
Ownership = Literal["mine", "no_origin", "other_source", "not_by_job", "unpinned_origin"]


@attrs.frozen
class PlannedTicket:
    """A flagged ticket reconcile would meet, and whose it is."""

    key: str
    origin: Origin | None
    ownership: Ownership

    @property
    def finishes(self) -> bool:
        """True if reconcile would delete its origin and remove the flag."""
        return self.ownership == "mine"


@attrs.frozen
class PlannedItem:
    """An entry the drain would take, in the source's order.

    ``draft`` is the ticket it would get, shaped by the plugins; None when this
    run would not make one: an entry that cannot become a ticket is set aside
    (``set_aside`` says why), and an entry ``beyond_cap`` is left for the next
    run because the per-run cap would be reached before it (each claimed item
    counted as a create). ``claimed``: an earlier run may have created its
    ticket, so the drain would look for that ticket first and create one only
    if there is none; ``waiting``: the claim is younger than the claim window,
    so unless that ticket is found the drain would leave the item alone.
    """

    origin: Origin
    draft: TicketDraft | None = None
    set_aside: str = ""
    claimed: bool = False
    beyond_cap: bool = False
    waiting: bool = False


@attrs.frozen
class Plan:
    """What reconcile and the first ``limit`` steps of the drain would do."""

    flag: Flag
    reconcile: tuple[PlannedTicket, ...]
    drain: tuple[PlannedItem, ...]
    limit: int
    max_tickets: int
