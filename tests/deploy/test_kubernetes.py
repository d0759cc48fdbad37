"""The Kubernetes examples: valid for the API (offline), and every operating policy in place."""

from __future__ import annotations

import re
import socket
import sys
from typing import Any

import pytest
from deploykit import (
    DEPLOY,
    ENV_DIR,
    IMAGE_UID,
    K8S_DIR,
    Instance,
    cron_interval,
    k8s_documents,
    k8s_instances,
    max_runtime,
    read_env_file,
    run,
    secret_settings,
)

#: The oldest release with CronJob.spec.timeZone as stable; the newest the validator ships
#: is checked too.
OLDEST = "1.27.0"

INSTANCES = k8s_instances()
IDS = [i.name for i in INSTANCES]


def test_there_is_one_example_per_env_file() -> None:
    assert {i.name for i in INSTANCES} == {p.stem for p in ENV_DIR.glob("*.env")}
    assert {"imap-to-jira", "s3-to-jira"} <= set(IDS)


# -- schema validation, offline ------------------------------------------------------------


def _versions() -> list[str]:
    import kubernetes_validate

    newest = str(kubernetes_validate.latest_version())
    return [OLDEST, newest] if newest != OLDEST else [OLDEST]


@pytest.mark.deploy
@pytest.mark.parametrize("version", _versions())
def test_kubernetes_validate_strict_passes(version: str) -> None:
    files = [str(p) for p in sorted(K8S_DIR.glob("*.yaml"))]
    cli = [sys.executable, "-m", "kubernetes_validate"]
    result = run([*cli, "--strict", "--kubernetes-version", version, *files])
    assert result.returncode == 0, result.stdout + result.stderr
    # Each resource of each file was checked (a file it could not read would say so).
    assert result.stdout.count("passed") == 2 * len(files), result.stdout


@pytest.mark.deploy
def test_kubernetes_validate_catches_a_misspelt_field(tmp_path: Any) -> None:
    text = (K8S_DIR / f"{IDS[0]}.yaml").read_text().replace("concurrencyPolicy:", "concurrency:")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = run([sys.executable, "-m", "kubernetes_validate", "--strict", "-k", OLDEST, str(bad)])
    assert result.returncode != 0
    assert "concurrency" in result.stdout + result.stderr


@pytest.mark.deploy
def test_validation_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The schemas ship inside the package: validating with every socket refused works."""
    import kubernetes_validate

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("kubernetes-validate tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    for path in sorted(K8S_DIR.glob("*.yaml")):
        for doc in k8s_documents(path):
            kubernetes_validate.validate(doc, OLDEST, strict=True)


# -- policies ------------------------------------------------------------------------------


def _env_values(instance: Instance) -> dict[str, str]:
    return read_env_file(ENV_DIR / f"{instance.name}.env")


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_configmap_is_the_env_file(instance: Instance) -> None:
    """ConfigMap data plus the Secret's keys are exactly the env file: no drift, nothing extra."""
    values = _env_values(instance)
    data: dict[str, str] = instance.configmap["data"]
    assert all(isinstance(v, str) for v in data.values())
    from_secret = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in instance.container.get("env", [])
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(data) | set(from_secret) == set(values)
    assert not set(data) & set(from_secret)
    for key, value in data.items():
        assert value == values[key], key
    for key, ref in from_secret.items():
        assert ref["key"] == key
        assert ref["name"] == instance.cronjob["metadata"]["name"]
    assert not secret_settings() & set(data), "secrets come from the Secret, never the ConfigMap"
    refs = [e["configMapRef"]["name"] for e in instance.container["envFrom"]]
    assert refs == [instance.configmap["metadata"]["name"]]
    assert not [e for e in instance.container["envFrom"] if "secretRef" in e]
    assert data["SHITSHOVELA_INSTANCE"] == instance.name


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_schedule_and_deadlines(instance: Instance) -> None:
    spec = instance.cronjob["spec"]
    job = spec["jobTemplate"]["spec"]
    runtime = max_runtime(instance.configmap["data"])
    interval = cron_interval(spec["schedule"])
    deadline = job["activeDeadlineSeconds"]
    grace = instance.pod["terminationGracePeriodSeconds"]
    assert spec["concurrencyPolicy"] == "Forbid"  # the validator accepts "forbid"
    assert interval > runtime, "MAX_RUNTIME below the schedule's interval"
    assert deadline >= runtime + 30, "activeDeadlineSeconds above MAX_RUNTIME, with a margin"
    assert deadline + grace < interval, "a stuck job is gone before the next schedule"
    assert 10 <= grace <= 60
    assert 10 < spec["startingDeadlineSeconds"] < interval
    assert re.fullmatch(r"[A-Za-z]+(/[A-Za-z_+-]+)+", spec["timeZone"])
    assert job["backoffLimit"] == 0
    assert instance.pod["restartPolicy"] == "Never"
    assert 1 <= spec["successfulJobsHistoryLimit"] <= 10
    assert 1 <= spec["failedJobsHistoryLimit"] <= 10


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_security_context(instance: Instance) -> None:
    pod = instance.pod["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == IMAGE_UID
    assert isinstance(pod["runAsGroup"], int) and pod["runAsGroup"] != 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = instance.container["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container.get("privileged", False) is False
    assert container["capabilities"]["drop"] == ["ALL"]
    assert "add" not in container["capabilities"]
    assert instance.pod["automountServiceAccountToken"] is False
    # Service links would inject SHITSHOVELA_..._PORT for a Service named shitshovela-...
    assert instance.pod["enableServiceLinks"] is False


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_tmp_is_an_empty_dir(instance: Instance) -> None:
    mounts = {m["mountPath"]: m["name"] for m in instance.container["volumeMounts"]}
    volumes = {v["name"]: v for v in instance.pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert set(mounts) == {"/tmp"}, "nothing else is writable"


def _mebibytes(quantity: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi|M)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * {"Mi": 1.0, "Gi": 1024.0, "M": 1e6 / 2**20}[unit]


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_resources_are_sized_from_the_benchmarks(instance: Instance) -> None:
    """bench/RESULTS.md: peak RSS 52-61 MB; the request covers the peak, the limit leaves room."""
    bench = (DEPLOY.parent / "bench" / "RESULTS.md").read_text()
    peaks = [float(mb) for mb in re.findall(r"peak RSS[^|]*\| (\d+(?:\.\d+)?) MB", bench)]
    assert peaks, "bench/RESULTS.md lists peak RSS figures"
    peak_mib = max(peaks) * 1e6 / 2**20
    resources = instance.container["resources"]
    request = _mebibytes(resources["requests"]["memory"])
    limit = _mebibytes(resources["limits"]["memory"])
    assert 1.3 * peak_mib <= request <= limit
    assert 2 * peak_mib <= limit <= 8 * peak_mib
    assert resources["requests"]["cpu"] and resources["limits"]["cpu"]


@pytest.mark.unit
@pytest.mark.parametrize("instance", INSTANCES, ids=IDS)
def test_image_runs_the_job(instance: Instance) -> None:
    container = instance.container
    assert container.get("args", ["run"]) == ["run"]
    assert "command" not in container, "the image's ENTRYPOINT is the job (SIGTERM reaches it)"
    assert not container["image"].endswith(":latest") and ":" in container["image"]


@pytest.mark.unit
def test_cron_interval_parser() -> None:
    assert cron_interval("*/5 * * * *") == 300
    assert cron_interval("*/15 * * * *") == 900
    assert cron_interval("0 * * * *") == 3600
    assert cron_interval("0,50 * * * *") == 600
    assert cron_interval("30 2 * * *") == 86400
    assert cron_interval("*/7 * * * *") == 240  # 56 -> 0 of the next hour
    assert cron_interval("0 */6 * * *") == 6 * 3600
    for unsupported in ("0 0 * * 1", "* *", "61 * * * *"):
        with pytest.raises(ValueError, match=r"fields|supported|outside"):
            cron_interval(unsupported)
