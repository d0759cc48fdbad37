"""The testkit's pytest plugin: loaded through its entry point, its fixtures work."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
from shitshovela_testkit.clock import ManualClock
from shitshovela_testkit.faultproxy import Answer, FaultProxy
from shitshovela_testkit.standin import Request, Response, StandInServer

pytestmark = pytest.mark.servers


class Hello(StandInServer):
    def handle(self, request: Request) -> Response:
        if request.path == "/boom":
            raise ValueError("boom")
        return Response(200, {"hello": request.path})


def test_the_plugin_is_registered_for_pytest() -> None:
    (found,) = [e for e in entry_points(group="pytest11") if e.name == "shitshovela_testkit"]
    assert found.value == "shitshovela_testkit.pytest_plugin"


def test_the_fixtures_need_no_import(
    manual_clock: ManualClock, stand_in: object, fault_proxy: object
) -> None:
    assert manual_clock() == 1000.0
    manual_clock.sleep(5)
    assert manual_clock.now == 1005.0
    server = stand_in(Hello())  # type: ignore[operator]
    proxy = fault_proxy(server, [Answer(429, retry_after=2)])  # type: ignore[operator]
    assert isinstance(proxy, FaultProxy)
    with httpx.Client(base_url=proxy.url) as client:
        throttled = client.get("/x")
        assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "2"
        assert client.get("/x").json() == {"hello": "/x"}
    assert [r.path for r in server.requests] == ["/x"]


PLUGIN_AUTHOR_TESTS = """
import httpx
from shitshovela_testkit.standin import Request, Response, StandInServer


class Broken(StandInServer):
    def handle(self, request: Request) -> Response:
        raise ValueError("a bug in my stand-in")


def test_uses_a_broken_stand_in(stand_in):
    server = stand_in(Broken())
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").status_code == 500


def test_clock(manual_clock):
    manual_clock.advance(1)
    assert manual_clock() == 1001.0
"""


def test_a_handlers_error_fails_the_test_in_a_plugin_authors_own_tree(tmp_path: Path) -> None:
    """A tree of its own (no conftest, no configuration): the fixtures come from the
    entry point, and a stand-in whose handler raised fails the test at teardown."""
    (tmp_path / "test_mine.py").write_text(PLUGIN_AUTHOR_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 passed, 1 error" in result.stdout, result.stdout  # the error: a teardown
    assert "ERROR test_mine.py::test_uses_a_broken_stand_in" in result.stdout
    assert "a stand-in server's handler raised" in result.stdout
    assert "ValueError('a bug in my stand-in')" in result.stdout
