"""The core's conformance kit against the Graph source on the spec-checked emulator.

The kit names items; here a name is a message's Message-ID (without angle
brackets), which the source puts last in the origin's key (``<immutable
id>/<Message-ID>``). "Replacing" an item deletes the message and delivers a new
one with the same Message-ID: a newer revision (a new immutable id) that an
exact delete of the old origin must not touch (I9).

The kit runs twice. Where Exchange enforces ``If-Match`` on a message update
(``if_match="enforce"``) the claims are compare-and-set and the two-runs check
must pass; whether it does is undocumented (``specs/graph-mail.README.md``,
section 5), and the emulator's default ignores it, as Graph may: there the
harness declares ``exclusive_runs`` unsupported, and the README asks for one
run at a time.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from graphkit import graph_source
from shitshovela_graph.source import GraphSource
from shitshovela_graph_emulator import GraphEmulator, SigningKey
from shitshovela_testkit.conformance import source_suite

pytestmark = pytest.mark.servers


class GraphHarness:
    """What `source_suite` drives: a fresh emulator (its inbox) per check."""

    if_match = "ignore"
    #: Capabilities this harness cannot offer, and why (the kit skips those checks).
    unsupported: ClassVar[dict[str, str]] = {
        "exclusive_runs": (
            "Graph does not document whether Exchange enforces If-Match on a message update "
            "(and this emulator, like Graph may, ignores it), so two runs of one instance "
            "at once may both claim a message: schedule one run at a time (README, 'Two "
            "runs at once'); EnforcedGraphHarness runs the check where it is enforced"
        )
    }

    def __init__(self, request: pytest.FixtureRequest) -> None:
        self.graph: GraphEmulator = request.getfixturevalue("make_graph")(if_match=self.if_match)

    def source(self) -> GraphSource:
        return graph_source(self.graph, instance="conf-a")

    def source_with_wrong_credential(self) -> GraphSource:
        """The same mailbox with a token signed by a key Graph does not trust."""
        stranger = self.graph.make_token(key=SigningKey.generate())
        return graph_source(self.graph, instance="conf-a", ACCESS_TOKEN=stranger)

    def add(self, name: str, content: bytes) -> None:
        title, _, body = content.decode("utf-8").partition("\n")
        message = (
            f"From: Conformance <kit@example.com>\r\nSubject: {title}\r\n"
            f"Message-ID: <{name}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        )
        self.graph.seed_message(message.encode("utf-8"))  # raw UTF-8 in headers, as mailers do

    def replace(self, name: str, content: bytes) -> None:
        for found in self.graph.messages("inbox"):
            if found.internet_message_id == f"<{name}>":
                self.graph.delete_message(found.id)
        self.add(name, content)

    def names(self) -> list[str]:
        return [m.internet_message_id.strip("<>") for m in self.graph.messages("inbox")]

    def close(self) -> None:
        """Nothing to clean: the fixture stops the emulator and checks its findings."""


class EnforcedGraphHarness(GraphHarness):
    """The same where Exchange enforces ``If-Match``: claims are compare-and-set."""

    if_match = "enforce"
    unsupported: ClassVar[dict[str, str]] = {}


TestGraphSourceConformance = source_suite(GraphHarness)
TestGraphSourceWithIfMatchConformance = source_suite(EnforcedGraphHarness)


def test_the_two_runs_check_fails_where_if_match_is_ignored(request: Any) -> None:
    """*Can fail*: without an enforced ``If-Match`` the kit's two-runs check catches the
    claims that are not compare-and-set (which is why the default harness declares it)."""
    from shitshovela_testkit.conformance import check_two_runs_cannot_both_claim

    class Undeclared(GraphHarness):
        unsupported: ClassVar[dict[str, str]] = {}

    with pytest.raises(AssertionError, match="exactly the first must win"):
        check_two_runs_cannot_both_claim(Undeclared(request))
