"""The deployment docs match the artefacts: links resolve, secrets commands cover every key,
and no machine path is written into the repository's deployment files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploykit import DEPLOY, ROOT, k8s_instances

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
