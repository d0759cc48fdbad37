"""`raise_for_answer`: one reading of HTTP statuses for every HTTP provider."""

from __future__ import annotations

import httpx
import pytest

from shitshovela_core.errors import ItemRejected, ProviderError, Unreachable
from shitshovela_core.redact import Redactor
from shitshovela_core.safehttp import answer_detail, raise_for_answer

pytestmark = pytest.mark.unit


def answer(status: int, text: str = "") -> httpx.Response:
    return httpx.Response(status, text=text, request=httpx.Request("POST", "https://x/issues"))


@pytest.mark.parametrize("status", [200, 201, 204])
def test_a_success_is_returned(status: int) -> None:
    response = answer(status)
    assert raise_for_answer(response, "create the issue") is response


def test_401_names_the_credentials_to_check() -> None:
    with pytest.raises(Unreachable, match=r"create the issue: .*credentials \(401.*check X__TOKEN"):
        raise_for_answer(answer(401, "Bad credentials"), "create the issue", credentials="X__TOKEN")


def test_403_is_a_missing_permission() -> None:
    with pytest.raises(Unreachable, match=r"permission denied \(403: no push\)"):
        raise_for_answer(answer(403, "no push"), "create the issue")


def test_404_carries_the_callers_hint() -> None:
    with pytest.raises(Unreachable, match=r"not found \(404\); check X__REPO"):
        raise_for_answer(answer(404), "list issues", not_found="check X__REPO")


@pytest.mark.parametrize("status", [400, 422])
def test_rejected_statuses_reject_the_item(status: int) -> None:
    with pytest.raises(ItemRejected, match=f"refused the content \\({status}: title too long"):
        raise_for_answer(answer(status, "title too long"), "create", rejected=(400, 422))


@pytest.mark.parametrize("status", [400, 409, 410, 302])
def test_other_statuses_are_provider_errors(status: int) -> None:
    with pytest.raises(ProviderError) as caught:
        raise_for_answer(answer(status, "nope"), "unflag")
    assert type(caught.value) is ProviderError
    assert f"unflag: the server answered {status}: nope" == str(caught.value)


def test_the_body_is_short_one_line_and_scrubbed() -> None:
    redactor = Redactor(["s3cr3t-token"])
    body = "token s3cr3t-token\n was   wrong " + "x" * 500
    detail = answer_detail(answer(400, body), scrub=redactor.scrub)
    assert "s3cr3t-token" not in detail
    assert "\n" not in detail
    assert len(detail) <= 200
    with pytest.raises(ProviderError) as caught:
        raise_for_answer(answer(401, body), "check", scrub=redactor.scrub)
    assert "s3cr3t-token" not in str(caught.value)
