"""The deployment docs match the artefacts: links resolve, secrets commands cover every key,
and the alerting advice names the pushed metric with thresholds that fit the schedules."""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import pytest
import yaml
from deploykit import DEPLOY, ROOT, cron_interval, k8s_instances
from shitshovela_prometheus import metrics

pytestmark = pytest.mark.unit

README = ROOT / "README.md"
DEPLOY_README = DEPLOY / "README.md"


def production_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Running in production\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def links(text: str) -> list[str]:
    return [t for t in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text) if "://" not in t]


@pytest.mark.parametrize(
    ("doc", "text"),
    [(README, production_section()), (DEPLOY_README, DEPLOY_README.read_text())],
    ids=["README", "deploy/README"],
)
def test_links_resolve(doc: Path, text: str) -> None:
    found = links(text)
    assert found
    for target in found:
        assert (doc.parent / target).exists(), target


def test_production_section_links_every_artefact() -> None:
    section = production_section()
    for artefact in (
        "deploy/README.md",
        "deploy/env/",
        "deploy/container/Dockerfile",
        "deploy/kubernetes/",
        "deploy/systemd/",
        "deploy/cron/shitshovela.crontab",
        "bench/RESULTS.md",
    ):
        assert f"]({artefact})" in section, artefact
    for topic in (
        "concurrencyPolicy: Forbid",
        "flock -n",
        "timer",
        "check --offline",
        "MAX_RUNTIME",
    ):
        assert topic in section, topic


def test_command_table_lists_check_offline() -> None:
    assert re.search(r"^\| `shitshovela check --offline` \| ", README.read_text(), re.MULTILINE)


def test_secret_commands_cover_every_secret_reference() -> None:
    """Each CronJob's secretKeyRef keys are exactly the --from-literal keys documented for it."""
    text = DEPLOY_README.read_text()
    for instance in k8s_instances():
        name = instance.cronjob["metadata"]["name"]
        command = re.search(rf"kubectl create secret generic {name} ((?:\\\n|[^\n])*)", text)
        assert command, name
        documented = set(re.findall(r"--from-literal=([A-Z0-9_]+)=", command.group(1)))
        referenced = {
            e["valueFrom"]["secretKeyRef"]["key"]
            for e in instance.container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert documented == referenced, name


METRIC = "shitshovela_last_success_timestamp_seconds"
PLUGIN_README = "plugins/shitshovela-prometheus/README.md"
ALERTS = "plugins/shitshovela-prometheus/alerts.yml"


@pytest.mark.parametrize(
    ("text", "prefix"),
    [(production_section(), ""), (DEPLOY_README.read_text(), "../")],
    ids=["README", "deploy/README"],
)
def test_alerting_names_the_metric_and_links_the_plugin(text: str, prefix: str) -> None:
    assert METRIC in metrics.HELP, "a metric the plugin pushes"
    assert f"`{METRIC}`" in text
    assert f"]({prefix}{PLUGIN_README})" in text
    assert f"]({prefix}{ALERTS})" in text
    assert "in the works" not in text and "once installed" not in text


def test_alert_thresholds_are_twice_each_example_schedule() -> None:
    """deploy/README's per-instance rules and table match the CronJobs' schedules,
    and stand in for the one placeholder that alerts.yml has."""
    assert "> 7200" in (ROOT / ALERTS).read_text(), "the placeholder the docs replace"
    text = DEPLOY_README.read_text()
    section = text[text.index("## Metrics and alerts\n") :]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    thresholds: dict[str, float] = {}
    for rule in yaml.safe_load(block):
        assert rule["alert"] == "ShitShovelaNoRecentSuccess"
        expr = promql_parser.parse(rule["expr"])
        assert isinstance(expr, promql_parser.BinaryExpr)
        assert isinstance(expr.rhs, promql_parser.NumberLiteral)
        assert METRIC in str(expr.lhs)
        (instance,) = re.findall(r'instance="([^"]+)"', rule["expr"])
        thresholds[instance] = expr.rhs.val
    instances = k8s_instances()
    assert set(thresholds) == {i.name for i in instances}
    for instance in instances:
        twice = 2 * cron_interval(instance.cronjob["spec"]["schedule"])
        assert thresholds[instance.name] == twice, instance.name
        minutes = int(twice // 60)
        row = re.search(rf"^\| `{instance.name}` \|.*$", section, re.MULTILINE)
        assert row, instance.name
        assert f"`> {int(twice)}`" in row.group(0) and f"`for: {minutes}m`" in row.group(0)
