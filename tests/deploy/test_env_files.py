"""The example env files: one format that every scheduler reads alike, placeholders for secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploykit import (
    ENV_DIR,
    QUOTED_LINE,
    env_files,
    k8s_instances,
    max_runtime,
    read_env_file,
    require_tool,
    run,
    secret_settings,
)

pytestmark = pytest.mark.unit

PUSHGATEWAY = "SHITSHOVELA_PROMETHEUS__PUSHGATEWAY"


def test_the_two_examples_exist() -> None:
    names = {path.name for path in env_files()}
    assert {"imap-to-jira.env", "s3-to-jira.env"} <= names


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_env_file_is_in_the_portable_format(path: Path) -> None:
    values = read_env_file(path)  # raises on any line outside the format
    assert values["SHITSHOVELA_INSTANCE"] == path.stem, "the file is named after its instance"
    assert max_runtime(values) > 0


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_sh_reads_the_same_values(path: Path) -> None:
    """`set -a; . FILE; set +a` (the crontab's form) gives exactly the parsed values."""
    sh = require_tool("sh", "install dash")
    script = 'set -a; . "$1"; set +a; exec env -0'
    result = run([sh, "-c", script, "sh", str(path)], env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    entries = result.stdout.split("\0")
    exported = dict(e.split("=", 1) for e in entries if e.startswith("SHITSHOVELA_"))
    assert exported == read_env_file(path)


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_secrets_are_marked_placeholders(path: Path) -> None:
    values = read_env_file(path)
    secrets = secret_settings()
    present = [name for name in values if name in secrets]
    assert present, "each example shows where its secrets go"
    for name in present:
        assert values[name].startswith("CHANGE-ME"), name


def test_each_example_pushes_its_metrics() -> None:
    """Every env file, and its ConfigMap, names a Pushgateway; the setting is the
    installed metrics plugin's (an unknown SHITSHOVELA_ name would exit 2)."""
    from shitshovela_core.config import known_names
    from shitshovela_core.plugins import load_plugins

    known = known_names(load_plugins())
    assert PUSHGATEWAY in known, "shitshovela-prometheus declares the setting"
    for path in env_files():
        values = read_env_file(path)
        assert re.fullmatch(r"https?://[a-z0-9.-]+(:\d+)?(/\S*)?", values[PUSHGATEWAY]), path.name
        metrics = {k for k in values if k.startswith("SHITSHOVELA_PROMETHEUS__")}
        assert metrics <= known, path.name
    for instance in k8s_instances():
        data = instance.configmap["data"]
        assert data[PUSHGATEWAY] == read_env_file(ENV_DIR / f"{instance.name}.env")[PUSHGATEWAY]
    gateways = {read_env_file(path)[PUSHGATEWAY] for path in env_files()}
    assert len(gateways) == 1, "the examples share one Pushgateway"


def test_the_format_check_can_fail(tmp_path: Path) -> None:
    for line in ('SHITSHOVELA_X="quoted"', "SHITSHOVELA_X=two words", "SHITSHOVELA_X=$HOME"):
        bad = tmp_path / "bad.env"
        bad.write_text(line + "\n")
        with pytest.raises(ValueError, match="portable format"):
            read_env_file(bad)
    assert QUOTED_LINE.match("SHITSHOVELA_IMAP__PASSWORD='p@ss word$'")


def test_env_dir_holds_only_env_files() -> None:
    assert {p.suffix for p in ENV_DIR.iterdir()} == {".env"}
