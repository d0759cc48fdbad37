"""The alert rules: a valid Prometheus rule file whose expressions parse and
name only metrics the plugin pushes (test_push.py reads those back from a
real Pushgateway)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from shitshovela_prometheus import metrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
RULE_KEYS = {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def rules() -> list[dict[str, Any]]:
    document = yaml.safe_load((ROOT / "alerts.yml").read_text())
    assert set(document) == {"groups"}
    found: list[dict[str, Any]] = []
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        found.extend(group["rules"])
    return found


def metric_names(expr: str) -> list[str]:
    names: list[str] = []

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.append(node.name)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def test_the_rule_file_has_the_alerts_operators_need() -> None:
    names = [rule["alert"] for rule in rules()]
    assert names == [
        "ShitShovelaNoRecentSuccess",
        "ShitShovelaNeverSucceeded",
        "ShitShovelaRunFailed",
        "ShitShovelaItemsSetAside",
        "ShitShovelaRunDidNotReportItsEnd",
    ]


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_each_rule_is_well_formed_and_names_pushed_metrics(rule: dict[str, Any]) -> None:
    assert set(rule) <= RULE_KEYS
    assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    if "for" in rule:
        promql_parser.parse_duration(rule["for"])
    used = metric_names(rule["expr"])
    assert used
    assert set(used) <= set(metrics.HELP), set(used) - set(metrics.HELP)
    for labels in re.findall(r"on\(([^)]*)\)", rule["expr"]):
        assert {label.strip() for label in labels.split(",")} == {"job", "instance"}


def test_the_placeholder_is_documented() -> None:
    text = (ROOT / "alerts.yml").read_text()
    assert "PLACEHOLDER" in text
    (no_success,) = [r for r in rules() if r["alert"] == "ShitShovelaNoRecentSuccess"]
    assert no_success["expr"].endswith("> 7200")
    readme = (ROOT / "README.md").read_text()
    for rule in rules():
        assert f"`{rule['alert']}`" in readme


def test_a_broken_expression_would_fail() -> None:
    with pytest.raises(ValueError, match="invalid promql"):
        metric_names("shitshovela_last_run_exit_code !=")
