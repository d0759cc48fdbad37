"""The container recipe: its policies (parsed), and its install step run for real.

No Docker engine runs here or in CI, so the image is never built. Instead the
test builds the same wheels with the same script, installs them with the very
script the Dockerfile runs (deploy/container/install-wheels.sh) into a fresh
virtual environment, and runs that environment's `shitshovela`.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from deploykit import (
    CONTAINER_DIR,
    DOCKERFILE,
    IMAGE_UID,
    ROOT,
    env_files,
    k8s_instances,
    read_env_file,
    run,
    shipped_plugins,
    uv_binary,
    uv_env,
)

INSTALL_SCRIPT = "deploy/container/install-wheels.sh"
#: The image's default plugins, as its ``PLUGINS`` names them: every plugin we ship.
PLUGINS = (
    "shitshovela-imap",
    "shitshovela-s3",
    "shitshovela-graph",
    "shitshovela-jira",
    "shitshovela-github",
    "shitshovela-prometheus",
)
#: The providers an image with them offers.
PROVIDERS = {
    "imap": "source",
    "s3": "source",
    "graph": "source",
    "jira": "ticket_system",
    "github": "ticket_system",
}


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    args: str


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword, " ".join(args.split())))
    assert not pending, "a continuation line ends the file"
    return instructions


@pytest.fixture(scope="module")
def dockerfile() -> list[Instruction]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


def final(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for ins in instructions:
        if ins.keyword == "ENV":
            for key, value in re.findall(r'(\w+)=("[^"]*"|\S+)', ins.args):
                values[key] = value.strip('"')
    return values


# -- policies ---------------------------------------------------------------------------


@pytest.mark.unit
def test_base_images_are_pinned_slim_python_311(dockerfile: list[Instruction]) -> None:
    args = {
        i.args.split("=", 1)[0]: i.args.split("=", 1)[1]
        for i in dockerfile
        if i.keyword == "ARG" and i.stage == -1
    }
    froms = [i.args.split()[0] for i in dockerfile if i.keyword == "FROM"]
    images = [args.get(f.strip("${}"), f) if f.startswith("$") else f for f in froms]
    for image in images:
        assert ":" in image and not image.endswith(":latest"), image
    python = [image for image in images if image.startswith("python:")]
    assert python
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?(@sha256:[0-9a-f]{64})?", i) for i in python)
    assert images[-1].startswith("python:3.11-slim"), "the runtime stage is the slim Python"
    uv_images = [image for image in images if "astral-sh/uv" in image]
    assert all(re.search(r":\d+\.\d+\.\d+$", image) for image in uv_images), uv_images


@pytest.mark.unit
def test_runs_as_a_fixed_non_root_uid(dockerfile: list[Instruction]) -> None:
    users = [i.args for i in final(dockerfile) if i.keyword == "USER"]
    assert len(users) == 1
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[0])
    assert match, f"USER must be numeric (runAsNonRoot checks a number): {users[0]}"
    assert int(match.group(1)) == IMAGE_UID != 0
    assert match.group(2) is None or int(match.group(2)) != 0
    for instance in k8s_instances():
        assert instance.pod["securityContext"]["runAsUser"] == IMAGE_UID


@pytest.mark.unit
def test_entrypoint_is_the_job_itself_in_exec_form(dockerfile: list[Instruction]) -> None:
    stage = final(dockerfile)
    entrypoints = [i.args for i in stage if i.keyword == "ENTRYPOINT"]
    cmds = [i.args for i in stage if i.keyword == "CMD"]
    assert len(entrypoints) == 1 and len(cmds) == 1
    # Exec form (a JSON array): no shell in between, so SIGTERM reaches the job as PID 1.
    assert json.loads(entrypoints[0]) == ["shitshovela"]
    assert json.loads(cmds[0]) == ["run"]
    signals = [i.args for i in stage if i.keyword == "STOPSIGNAL"]
    assert signals in ([], ["SIGTERM"])
    keywords = [i.keyword for i in stage]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")


@pytest.mark.unit
def test_writes_nothing_outside_tmp(dockerfile: list[Instruction]) -> None:
    env = env_of(final(dockerfile))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env.get("TMPDIR", "/tmp") == "/tmp"
    assert env["PATH"].split(":")[0] == "/opt/shitshovela/bin"
    # The runtime stage executes nothing: everything is installed in the build stage.
    assert not [i for i in final(dockerfile) if i.keyword == "RUN"]


@pytest.mark.unit
def test_no_remote_or_unpinned_inputs(dockerfile: list[Instruction]) -> None:
    assert not [i for i in dockerfile if i.keyword == "ADD"], "COPY only; no ADD of URLs"
    text = " ".join(i.args for i in dockerfile if i.keyword == "RUN")
    for word in ("curl", "wget", "http://", "https://", "pip install", "sudo", "chmod 777"):
        assert word not in text, word


@pytest.mark.unit
def test_install_step_is_the_shared_script(dockerfile: list[Instruction]) -> None:
    runs = [i.args for i in dockerfile if i.keyword == "RUN"]
    assert len(runs) == 1
    assert re.search(r"\bsh \S*/install-wheels\.sh /opt/shitshovela /wheels \$\{PLUGINS\}", runs[0])
    copies = [i.args for i in dockerfile if i.keyword == "COPY"]
    assert any(c.startswith(INSTALL_SCRIPT + " ") for c in copies)
    assert any(c.startswith("dist/ ") for c in copies)
    plugins = [i.args for i in dockerfile if i.keyword == "ARG" and i.args.startswith("PLUGINS=")]
    assert plugins == [f'PLUGINS="{" ".join(PLUGINS)}"']


@pytest.mark.unit
def test_the_default_plugins_are_every_plugin_we_ship() -> None:
    """A plugin added under plugins/ fails this until the image carries it by default
    (and the docs' install command names it)."""
    assert len(set(PLUGINS)) == len(PLUGINS)
    assert set(PLUGINS) == set(shipped_plugins())
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    command = re.search(r"install-wheels\.sh /opt/shitshovela dist \\\n\s*([^#\n]+)", readme)
    assert command, "deploy/README.md's systemd section installs the plugins"
    assert command.group(1).split() == list(PLUGINS)


@pytest.mark.unit
def test_shipped_plugins_are_read_from_the_repository() -> None:
    """*Can fail*: the list the check above compares with is not empty or guessed: the
    providers and the metrics plugin are in it, the mail library (no entry point) and
    the in-house example are not."""
    shipped = shipped_plugins()
    assert shipped["shitshovela-graph"] == ["graph"]
    assert shipped["shitshovela-github"] == ["github"]
    assert shipped["shitshovela-prometheus"] == ["prometheus"]
    assert "shitshovela-mail" not in shipped and "shitshovela-inhouse" not in shipped
    provided = {name for names in shipped.values() for name in names}
    assert provided == set(PROVIDERS) | {"prometheus"}


@pytest.mark.unit
def test_dockerignore_lets_the_copied_files_through(dockerfile: list[Instruction]) -> None:
    rules = [
        line.strip()
        for line in (CONTAINER_DIR / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def included(path: str) -> bool:
        keep = True
        for rule in rules:
            negate = rule.startswith("!")
            pattern = rule.lstrip("!")
            if fnmatch.fnmatch(path, pattern):
                keep = negate
        return keep

    assert rules[0] == "*", "everything else stays out of the build context"
    assert included(INSTALL_SCRIPT)
    assert included("dist/shitshovela-0.1.0-py3-none-any.whl")
    assert included("dist/constraints.txt")
    assert not included("README.md")
    assert not included(".venv/bin/python")


@pytest.mark.unit
def test_the_policy_parser_sees_a_bad_recipe() -> None:
    bad = parse_dockerfile(
        'FROM python:3.11-slim\nUSER root\nADD https://example.com/x /x\nENTRYPOINT sh -c "x"\n'
    )
    assert [i.keyword for i in bad] == ["FROM", "USER", "ADD", "ENTRYPOINT"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad[-1].args)


# -- the install step, for real ----------------------------------------------------------


@pytest.fixture(scope="module")
def installed(built_wheels: Path) -> Path:
    """Wheels built by build-wheels.sh, installed by install-wheels.sh into a new venv."""
    env = uv_env()
    dist = built_wheels
    venv = dist.parent / "venv"
    python = run(["sh", "-c", "command -v python3.11 || command -v python3"], env=os.environ.copy())
    env["PYTHON"] = python.stdout.strip()
    result = run(
        ["sh", str(ROOT / INSTALL_SCRIPT), str(venv), str(dist), *PLUGINS],
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return venv


def job_env(home: Path) -> dict[str, str]:
    """What the image's ENV gives the job (HOME redirected to an empty folder we watch)."""
    return {
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "HOME": str(home),
        "TMPDIR": str(home),
    }


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


@pytest.mark.deploy
def test_installed_environment_lists_the_providers(installed: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    exe = installed / "bin" / "shitshovela"
    version = run([str(exe), "--version"], env=job_env(home))
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("shitshovela, version 0.1.0")
    listed = run([str(exe), "plugins", "--json"], env=job_env(home))
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    providers = {p["name"]: p["kind"] for p in data["providers"]}
    assert providers == PROVIDERS
    plugins = {p["distribution"]: p for p in data["plugins"]}
    assert set(plugins) == set(PLUGINS), "only the chosen plugins (not the in-house example)"
    assert not any(p["error"] for p in plugins.values())
    # The metrics plugin is an observer: no provider, a settings group instead.
    assert plugins["shitshovela-prometheus"]["name"] == "prometheus"
    groups = {g["name"]: g for g in data["settings_groups"]}
    assert set(groups) == {"prometheus"}
    assert groups["prometheus"]["plugin"] == "prometheus"
    names = {s["env"] for s in groups["prometheus"]["settings"]}
    assert "SHITSHOVELA_PROMETHEUS__PUSHGATEWAY" in names
    for path in env_files():
        metrics = {k for k in read_env_file(path) if k.startswith("SHITSHOVELA_PROMETHEUS__")}
        assert metrics and metrics <= names, path.name


@pytest.mark.deploy
@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.name)
def test_installed_environment_writes_nothing(installed: Path, tmp_path: Path, path: Path) -> None:
    """With the image's ENV, a check leaves the install tree and HOME as they were
    (the container's root filesystem is read-only), and byte code was compiled at install."""
    home = tmp_path / "home"
    home.mkdir()
    assert list(installed.rglob("shitshovela_core/__pycache__/cli.*.pyc")), "compiled at install"
    before = snapshot(installed)
    env = job_env(home) | read_env_file(path)
    result = run([str(installed / "bin" / "shitshovela"), "check", "--offline"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"check_finished"' in result.stdout
    assert snapshot(installed) == before
    assert list(home.iterdir()) == []


#: Graph into GitHub, as an operator writes it (no example env file has them): the check
#: validates it offline, so the wheels carry those providers and what they import.
GRAPH_TO_GITHUB = {
    "SHITSHOVELA_SOURCE": "graph",
    "SHITSHOVELA_TICKET_SYSTEM": "github",
    "SHITSHOVELA_INSTANCE": "graph-to-github",
    "SHITSHOVELA_LOG_FORMAT": "json",
    "SHITSHOVELA_GRAPH__MAILBOX": "support@contoso.com",
    "SHITSHOVELA_GRAPH__TOKEN_FROM": "microsoft",
    "SHITSHOVELA_GRAPH__TENANT": "contoso.onmicrosoft.com",
    "SHITSHOVELA_GRAPH__CLIENT_ID": "1421c259-9e4b-4d3c-9d6a-2f1b0c8e5a77",
    "SHITSHOVELA_GRAPH__CLIENT_SECRET": "CHANGE-ME-client-secret",
    "SHITSHOVELA_GITHUB__REPO": "acme/ops-inbox",
    "SHITSHOVELA_GITHUB__TOKEN": "CHANGE-ME-github-token",
}


@pytest.mark.deploy
def test_installed_environment_checks_graph_into_github(installed: Path, tmp_path: Path) -> None:
    """The providers the examples do not use work from the wheels too: Graph into
    GitHub passes ``check --offline``, writing nothing."""
    home = tmp_path / "home"
    home.mkdir()
    before = snapshot(installed)
    check = [str(installed / "bin" / "shitshovela"), "check", "--offline"]
    result = run(check, env=job_env(home) | GRAPH_TO_GITHUB)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"check_finished"' in result.stdout
    assert snapshot(installed) == before
    assert list(home.iterdir()) == []
    refused = run(check, env=job_env(home) | GRAPH_TO_GITHUB | {"SHITSHOVELA_GRAPH__MAILBOX": ""})
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "SHITSHOVELA_GRAPH__MAILBOX" in refused.stdout


@pytest.mark.deploy
def test_without_the_metrics_plugin_the_examples_are_refused(
    installed: Path, tmp_path: Path
) -> None:
    """Why PLUGINS keeps shitshovela-prometheus: an image without it reads the examples'
    SHITSHOVELA_PROMETHEUS__PUSHGATEWAY as an unknown setting, and every run exits 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHITSHOVELA_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{Path(uv_binary()).parent}:/usr/bin:/bin"
    env["UV_PYTHON_DOWNLOADS"] = "never"
    python = run(["sh", "-c", "command -v python3.11 || command -v python3"], env=os.environ.copy())
    env["PYTHON"] = python.stdout.strip()
    venv = tmp_path / "venv"
    others = [p for p in PLUGINS if p != "shitshovela-prometheus"]
    dist = installed.parent / "dist"
    result = run(["sh", str(ROOT / INSTALL_SCRIPT), str(venv), str(dist), *others], env=env)
    assert result.returncode == 0, result.stderr
    home = tmp_path / "home"
    home.mkdir()
    values = read_env_file(env_files()[0])
    check = [str(venv / "bin" / "shitshovela"), "check", "--offline"]
    checked = run(check, env=job_env(home) | values)
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert "SHITSHOVELA_PROMETHEUS__PUSHGATEWAY is not a setting" in checked.stdout
    del values["SHITSHOVELA_PROMETHEUS__PUSHGATEWAY"]
    checked = run(check, env=job_env(home) | values)
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.deploy
def test_install_script_refuses_a_missing_wheel(installed: Path, tmp_path: Path) -> None:
    dist = installed.parent / "dist"
    env = {"PATH": f"{Path(uv_binary()).parent}:/usr/bin:/bin"}
    args = [str(tmp_path / "venv"), str(dist), "shitshovela-nope"]
    result = run(["sh", str(ROOT / INSTALL_SCRIPT), *args], env=env)
    assert result.returncode == 2
    assert "no wheel of shitshovela-nope" in result.stderr
    assert not (tmp_path / "venv").exists()
