"""The benchmarks' outcome check (bench/_outcome.py): a figure only from a run that ended
the way the figure assumes."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from shitshovela_core.engine import RunSummary
from shitshovela_core.errors import ExitCode

pytestmark = pytest.mark.unit

PATH = Path(__file__).resolve().parents[1] / "bench" / "_outcome.py"


def _load() -> ModuleType:
    """bench/ is not a package (its scripts run with their own folder on sys.path)."""
    spec = importlib.util.spec_from_file_location("bench_outcome", PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


outcome_module = _load()
Outcome = outcome_module.Outcome
UnexpectedOutcome = outcome_module.UnexpectedOutcome
expect = outcome_module.expect

CONFIG = Outcome(
    1.02,
    2,
    {"event": "run_failed", "exit_code": 2, "reason": "bad configuration: 1 problem(s)"},
)
DRAINED = Outcome(3.5, 0, {"event": "run_finished", "reason": "drained: the source is empty"})
CUT_OFF = Outcome(
    3.7, 3, {"event": "run_failed", "reason": "tracker: GET /x: cut off at the deadline (1.2s)"}
)


def test_expect_rejects_a_wrong_exit_code() -> None:
    with pytest.raises(UnexpectedOutcome) as raised:
        expect(CONFIG, code=0, reason="drained")
    assert str(raised.value) == (
        "the run ended with exit 2 (reason: bad configuration: 1 problem(s)), not exit 0 'drained'"
    )
    assert raised.value.outcome is CONFIG


def test_expect_rejects_a_wrong_reason_with_the_right_code() -> None:
    deadline = Outcome(9.4, 0, {"event": "run_finished", "reason": "deadline: reached"})
    with pytest.raises(
        UnexpectedOutcome, match=r"exit 0 \(reason: deadline: reached\), not exit 0 'drained'"
    ):
        expect(deadline, code=0, reason="drained")
    with pytest.raises(UnexpectedOutcome, match="with 'cut off at the deadline' in the reason"):
        expect(
            Outcome(3.9, 3, {"reason": "tracker: refused: 401"}),
            code=3,
            contains="cut off at the deadline",
        )


def test_expect_rejects_a_run_without_a_last_line_when_a_reason_is_wanted() -> None:
    with pytest.raises(UnexpectedOutcome, match=r"exit 0 \(no JSON log line\)"):
        expect(Outcome(0.3, 0, None), code=0, reason="drained")


def test_expect_accepts_the_right_outcome() -> None:
    assert expect(DRAINED, code=0, reason="drained") is DRAINED
    assert expect(CUT_OFF, code=3, contains="cut off at the deadline") is CUT_OFF
    assert expect(CONFIG, code=2) is CONFIG  # no reason asked: the code alone


def test_an_engine_summary_is_checked_the_same_way() -> None:
    summary = RunSummary(created=4, reason="drained: the source is empty")
    assert (
        expect(outcome_module.from_summary(summary), code=0, reason="drained").last["created"] == 4
    )
    failed = RunSummary(reason="drain failed: boom", exit_code=ExitCode.DRAIN_FAILED)
    with pytest.raises(UnexpectedOutcome, match="exit 5"):
        expect(outcome_module.from_summary(failed), code=0, reason="drained")
    with pytest.raises(UnexpectedOutcome, match="hard-stopped"):
        expect(outcome_module.from_summary(None), code=0)


def test_the_parser_reads_the_last_json_line() -> None:
    lines = [
        json.dumps({"event": "created", "key": "OPS-1"}),
        json.dumps(
            {"event": "run_finished", "reason": "drained: the source is empty", "exit_code": 0}
        ),
        "Traceback (most recent call last): not JSON",
        "",
    ]
    last = outcome_module.last_json_line("\n".join(lines))
    assert last == {
        "event": "run_finished",
        "reason": "drained: the source is empty",
        "exit_code": 0,
    }
    assert outcome_module.last_json_line("plain text\n[1, 2]\n{broken\n") is None


def test_run_cli_returns_the_last_line_and_the_exit_code(tmp_path: Path) -> None:
    """A stand-in for the CLI (``python -m`` finds it first: cwd, then PYTHONPATH) writing
    more log lines to stdout than a pipe holds."""
    fake = tmp_path / "fakecli"
    fake.mkdir()
    (fake / "shitshovela_core.py").write_text(
        "import json, sys\n"
        "for n in range(20000):\n"
        "    print(json.dumps({'event': 'created', 'n': n}))\n"
        "print(json.dumps({'event': 'run_failed', 'exit_code': 3, 'reason': sys.argv[1]}))\n"
        "sys.exit(3)\n"
    )
    env = {"PYTHONPATH": str(fake), "PATH": "/usr/bin:/bin"}
    outcome = outcome_module.run_cli(["x: cut off at the deadline"], env, rss=True, cwd=tmp_path)
    assert outcome.exit_code == 3
    assert outcome.event == "run_failed"
    assert outcome.reason == "x: cut off at the deadline"
    assert outcome.peak_rss_mb is not None and outcome.peak_rss_mb > 0
    assert outcome.seconds > 0


def test_run_cli_runs_the_cli_with_its_byte_code_cached(tmp_path: Path) -> None:
    """A shell's ``PYTHONDONTWRITEBYTECODE=1`` would make every benchmarked run compile its
    modules again (0.2 s of each start on 2 cores): the CLI runs as installed, caching them."""
    fake = tmp_path / "fakecli"
    fake.mkdir()
    (fake / "shitshovela_core.py").write_text(
        "import json, sys\n"
        "print(json.dumps({'event': 'run_finished', 'reason': str(sys.dont_write_bytecode)}))\n"
    )
    env = {"PYTHONPATH": str(fake), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}
    outcome = outcome_module.run_cli(["run"], env, cwd=tmp_path)
    assert outcome.reason == "False"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"  # the caller's mapping is left as it was


def test_a_refused_figure_is_printed_and_fails_the_script(
    capsys: pytest.CaptureFixture[str],
) -> None:
    figs = outcome_module.Figures()
    assert figs.attempt("ok", lambda: expect(DRAINED, code=0, reason="drained").seconds) == 3.5
    figs.exit()  # nothing refused: no exit
    assert figs.attempt("throughput", lambda: expect(CONFIG, code=0, reason="drained")) is None
    with figs.guard("deadline use"):
        expect(DRAINED, code=0, reason="deadline")
        raise AssertionError("not reached")
    out = capsys.readouterr().out
    assert "no figure: throughput: the run ended with exit 2 (reason: bad configuration" in out
    assert "no figure: deadline use: the run ended with exit 0 (reason: drained" in out
    with pytest.raises(SystemExit) as exited:
        figs.exit()
    assert exited.value.code == 1
