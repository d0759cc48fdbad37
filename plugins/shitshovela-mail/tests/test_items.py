"""`mail_item`, `shown_parts`, `LoopGuard` and `MailSettings`: a message made an Item the
same way whichever source read it. The IMAP plugin's tests run them against Dovecot."""

from __future__ import annotations

import contextlib
import email.policy
import io
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import attrs
import pytest
from shitshovela_mail import (
    TEXT_LIMIT,
    LoopGuard,
    MailSettings,
    Part,
    mail_item,
    open_part,
    parse_headers,
    part_attachment,
    part_texts,
    scan_message,
    shown_parts,
)

from shitshovela_core import Attachment, Origin, ProviderSettings
from shitshovela_core.envsettings import build_settings
from shitshovela_core.errors import ConfigError
from shitshovela_core.settings import settings_of

pytestmark = pytest.mark.unit

ORIGIN = Origin(provider="mail", scope="mail://test", key="1", digest="sha256:x")


def _message() -> bytes:
    message = EmailMessage()
    message["From"] = "Jörg <JOERG@Example.com>"
    message["To"] = "support@example.com"
    message["Cc"] = "cc@example.com"
    message["Subject"] = "Printer on fire"
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0000"
    message["Message-ID"] = "<fire@example.com>"
    message.set_content("It burns.\n")
    message.add_alternative("<p>It <b>burns</b>.</p>", subtype="html")
    message.add_attachment(b"%PDF-1.4\n", maintype="application", subtype="pdf", filename="x.pdf")
    return message.as_bytes(policy=email.policy.SMTP)


def _item_of(raw: bytes, **meta: str) -> Any:
    file = io.BytesIO(raw)
    scanned = scan_message(file)
    shown = shown_parts(scanned.root)
    return mail_item(
        ORIGIN,
        parse_headers(scanned.header),
        scanned.root,
        shown,
        part_texts(file, shown),
        lambda part: part_attachment(part, lambda: open_part(file, part)),
        meta,
        datetime(2026, 3, 3, tzinfo=UTC),
        claim_token="token",
    )


def test_a_scanned_message_becomes_an_item() -> None:
    item = _item_of(_message(), mailbox="INBOX", empty="")
    assert item.origin == ORIGIN
    assert item.title == "Printer on fire"
    assert item.body == "It burns."
    assert item.sender == "joerg@example.com"
    assert item.created == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert item.meta == {
        "from": "Jörg <JOERG@Example.com>",
        "to": "support@example.com",
        "cc": "cc@example.com",
        "date": "Mon, 02 Mar 2026 10:00:00 +0000",
        "message_id": "<fire@example.com>",
        "mailbox": "INBOX",
    }
    assert list(item.meta)[-1] == "mailbox", "the source's entries follow the header ones"
    assert [(a.name, a.content_type) for a in item.attachments] == [("x.pdf", "application/pdf")]
    with item.attachments[0].open() as stream:
        assert stream.read() == b"%PDF-1.4\n"
    assert (item.claimed_at, item.claim_token) == (None, "token")


def test_no_subject_and_no_date_fall_back() -> None:
    item = _item_of(b"From: a@example.com\r\n\r\nbody\r\n")
    assert item.title == "(no subject)"
    assert item.created == datetime(2026, 3, 3, tzinfo=UTC)
    assert item.body == "body"


def test_text_longer_than_the_limit_is_cut_and_attached_whole() -> None:
    long = ("x" * 99 + "\n") * (TEXT_LIMIT // 100 + 50)
    message = EmailMessage()
    message["Subject"] = "long"
    message.set_content(long, cte="8bit")
    raw = message.as_bytes(policy=email.policy.default)
    item = _item_of(raw)
    assert len(item.body.encode()) < TEXT_LIMIT + 200
    assert item.body.endswith(
        f"[The text was longer than {TEXT_LIMIT} bytes; it is attached whole as part-1.txt.]"
    )
    (attached,) = item.attachments
    with attached.open() as stream:
        assert stream.read() == long.encode()


def test_shown_parts_stop_near_the_limit_and_the_rest_become_attachments() -> None:
    parts = tuple(Part(str(n), "text", "plain", size=TEXT_LIMIT // 2) for n in range(1, 5))
    root = Part("TEXT", "multipart", "mixed", children=parts)
    shown = shown_parts(root)
    assert [p.section for p in shown] == ["1", "2"]
    files: list[str] = []

    def attachment(part: Part) -> Attachment:
        files.append(part.section)
        return part_attachment(part, lambda: contextlib.nullcontext(io.BytesIO()))

    mail_item(ORIGIN, parse_headers(b""), root, shown, {}, attachment, {}, None)
    assert files == ["3", "4"]


# -- loop protection -----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Settings(ProviderSettings, MailSettings):
    """A mail source's settings as a source would declare them."""


def _guard(**values: Any) -> tuple[LoopGuard, list[tuple[str, dict[str, Any]]]]:
    warnings: list[tuple[str, dict[str, Any]]] = []

    class Log:
        def warning(self, event: str, **fields: Any) -> None:
            warnings.append((event, fields))

    settings = build_settings(_Settings, "mailtest", values)
    return LoopGuard(settings, lambda name: f"SHITSHOVELA_MAILTEST__{name}", Log()), warnings


def _from(sender: str, *extra: bytes) -> Any:
    return parse_headers(b"From: " + sender.encode() + b"\r\n" + b"".join(extra))


def test_auto_replies_are_set_aside_with_the_reason_or_taken_by_choice() -> None:
    guard, _ = _guard()
    verdict = guard.check(_from("a@example.com", b"Auto-Submitted: auto-replied\r\n"), "text/plain")
    assert (verdict.action, verdict.reason) == (
        "set_aside",
        "auto-reply or bounce (Auto-Submitted: auto-replied)",
    )
    assert guard.check(_from("a@example.com"), "multipart/report").action == "set_aside"
    guard, _ = _guard(AUTO_REPLIES="ticket")
    assert guard.check(_from("a@example.com", b"Precedence: bulk\r\n"), "text/plain").take


def test_a_sender_over_the_cap_is_set_aside_naming_the_variable() -> None:
    guard, _ = _guard(MAX_PER_SENDER=2)
    verdicts = [guard.check(_from("loop@example.com"), "text/plain") for _ in range(3)]
    assert [v.action for v in verdicts] == ["take", "take", "set_aside"]
    assert verdicts[2].reason == (
        "more than 2 messages from loop@example.com in one run (a mail loop?); "
        "SHITSHOVELA_MAILTEST__MAX_PER_SENDER"
    )
    assert guard.check(_from("other@example.com"), "text/plain").take
    assert guard.check(parse_headers(b""), "text/plain").take  # "(no sender)" counts too


def test_a_sender_over_the_cap_may_be_left_with_one_warning() -> None:
    guard, warnings = _guard(MAX_PER_SENDER=1, SENDER_OVERFLOW="leave")
    actions = [guard.check(_from("loop@example.com"), "text/plain").action for _ in range(4)]
    assert actions == ["take", "leave", "leave", "leave"]
    assert [event for event, _ in warnings] == ["sender_capped"]
    assert warnings[0][1]["sender"] == "loop@example.com"


def test_no_cap_with_zero() -> None:
    guard, _ = _guard(MAX_PER_SENDER=0)
    assert all(guard.check(_from("a@example.com"), "text/plain").take for _ in range(100))


def test_the_shared_settings_are_declared_once() -> None:
    names = [s.name for s in settings_of(_Settings)]
    assert names[:5] == [
        "SET_ASIDE_FOLDER",
        "MAX_MESSAGE_SIZE",
        "AUTO_REPLIES",
        "MAX_PER_SENDER",
        "SENDER_OVERFLOW",
    ]
    settings = build_settings(_Settings, "mailtest", {"SET_ASIDE_FOLDER": ""})
    assert settings.set_aside_folder == ""  # kept empty: set-aside off
    with pytest.raises(ConfigError, match="MAX_MESSAGE_SIZE"):
        build_settings(_Settings, "mailtest", {"MAX_MESSAGE_SIZE": 10})
    with pytest.raises(ConfigError, match="SET_ASIDE_FOLDER"):
        build_settings(_Settings, "mailtest", {"SET_ASIDE_FOLDER": "a\nb"})
