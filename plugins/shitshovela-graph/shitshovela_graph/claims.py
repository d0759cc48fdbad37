"""A claim in a single-value extended property of the message (I2, I11): pure functions.

A claim is one named MAPI property on the message, in ShitShovela's own
property set (`CLAIM_SET`, a fixed GUID), named after the instance
(``ShitShovela-Claim-<instance>``), so two instances on one mailbox never see
each other's claims (I7). Its value is the claim's time, UTC ISO-8601 with
microseconds (``2027-01-15T08:00:00.123456Z``): read back exactly, never
rounded. The listing reads it with
``$expand=singleValueExtendedProperties($filter=id eq '<property id>')``; a
claim writes it with ``PATCH`` and ``If-Match: W/"<changeKey as listed>"``.
Properties are invisible in Outlook, survive moves, and cost nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

#: ShitShovela's property set for the claim property (one GUID, fixed for all time: a
#: changed GUID would make every claim made before it invisible).
CLAIM_SET = "da3c3a09-ad30-4d6c-a6bf-d75d75316b43"
#: The start of the claim property's name; the instance follows.
CLAIM_NAME = "ShitShovela-Claim-"
#: What an unreadable claim counts as: made long ago (its ticket is looked for, then the
#: message is claimed again with a readable time).
UNREADABLE = datetime(1970, 1, 1, tzinfo=UTC)


def claim_property(instance: str) -> str:
    """The claim property's id for ``instance``: ``String {<CLAIM_SET>} Name
    ShitShovela-Claim-<instance>``."""
    return f"String {{{CLAIM_SET}}} Name {CLAIM_NAME}{instance}"


def claim_value(at: datetime) -> str:
    """The value a claim made at ``at`` writes (UTC, microseconds, ``Z``)."""
    when = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_claim(value: str) -> datetime:
    """The time a claim value says (`UNREADABLE` when it says none)."""
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return UNREADABLE
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def claim_in(properties: Iterable[Mapping[str, Any]] | None, prop: str) -> datetime | None:
    """The claim time among a message's expanded extended properties; None if unclaimed.

    Property ids are compared without case (Exchange answers with the GUID's case
    its own way)."""
    for found in properties or ():
        if str(found.get("id", "")).casefold() == prop.casefold():
            value = found.get("value")
            return parse_claim(value) if isinstance(value, str) else UNREADABLE
    return None


def claim_patch(prop: str, at: datetime) -> dict[str, Any]:
    """The ``PATCH`` body of a claim made at ``at``."""
    return {"singleValueExtendedProperties": [{"id": prop, "value": claim_value(at)}]}


def if_match(change_key: str) -> str:
    """The ``If-Match`` of a change key as Graph writes its etags: ``W/"<changeKey>"``."""
    return f'W/"{change_key}"'
