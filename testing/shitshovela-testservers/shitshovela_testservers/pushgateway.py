"""A real Pushgateway on loopback, for tests: Debian's ``prometheus-pushgateway``.

`Pushgateway` starts the binary on a free ``127.0.0.1`` port with no
persistence file and the admin API on (to wipe it between tests), waits until
it answers ``/-/ready``, and reads back what it holds from ``/metrics``. Given
``users`` (name -> bcrypt hash) it demands basic auth on every endpoint (its
``--web.config.file``), and ``auth`` is what the helpers here sign in with. A
missing binary is an error that says how to install it (``.ci/install-pushgateway``),
never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

#: Where Debian's package puts the binary.
BINARY = "/usr/bin/prometheus-pushgateway"
#: How often `Pushgateway.start` tries a new port when the one it chose was taken.
BIND_ATTEMPTS = 3


class _PortTaken(Exception):
    """The gateway exited because another process had taken its port."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Pushgateway:
    """One Pushgateway process; use as a context manager or `start` / `stop`."""

    def __init__(
        self,
        binary: str | None = None,
        *,
        ready_timeout: float = 15.0,
        users: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> None:
        self.binary = binary or os.environ.get("PUSHGATEWAY_BINARY") or BINARY
        self.ready_timeout = ready_timeout
        self.users = users or {}
        self.auth = auth
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self._web_config: Path | None = None

    @property
    def url(self) -> str:
        """The base URL, such as ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Pushgateway:
        """Start the gateway and wait until it is ready; raise if it is not.

        The port is one that was free a moment before; if another process (another
        pytest worker's gateway, say) took it meanwhile, the gateway cannot bind it and
        exits: then it is started again on another port, up to `BIND_ATTEMPTS` times."""
        if not (Path(self.binary).is_file() and os.access(self.binary, os.X_OK)):
            found = shutil.which("prometheus-pushgateway")
            if found is None:
                raise FileNotFoundError(
                    f"{self.binary} is missing: install Debian's prometheus-pushgateway "
                    "(bash .ci/install-pushgateway, as root)"
                )
            self.binary = found
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_once()
            except _PortTaken as taken:
                if attempt == BIND_ATTEMPTS:
                    raise RuntimeError(
                        f"the Pushgateway could not bind a free port in {BIND_ATTEMPTS} "
                        f"attempts: {taken}"
                    ) from None
        raise AssertionError("unreachable")

    def _start_once(self) -> Pushgateway:
        self.port = free_port()
        args = [
            self.binary,
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--persistence.file=",
            "--web.enable-admin-api",
            "--log.level=warn",
        ]
        if self.users:
            fd, config_name = tempfile.mkstemp(prefix="pushgateway-web-", suffix=".yml")
            self._web_config = Path(config_name)
            lines = "".join(f'  "{user}": "{digest}"\n' for user, digest in self.users.items())
            with os.fdopen(fd, "w") as config:
                config.write("basic_auth_users:\n" + lines)
            args.append(f"--web.config.file={config_name}")
        fd, log_name = tempfile.mkstemp(prefix="pushgateway-", suffix=".log")
        self._log = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            self._process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self.log_text()
                self.stop()
                if "address already in use" in log:
                    raise _PortTaken(log)
                raise RuntimeError(f"the Pushgateway exited at start: {log}")
            try:
                ready = httpx.get(f"{self.url}/-/ready", auth=self.auth, timeout=1.0)
                # What answered may be another process on the same port, if ours lost it.
                if ready.status_code == 200 and self._process.poll() is None:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling for readiness, bounded by ready_timeout
        self.stop()
        raise RuntimeError(f"the Pushgateway was not ready in {self.ready_timeout:g}s")

    def log_text(self) -> str:
        """What the gateway logged so far."""
        return self._log.read_text(errors="replace") if self._log else ""

    def stop(self) -> None:
        """Stop the gateway (idempotent)."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        for path in (self._log, self._web_config):
            if path is not None:
                path.unlink(missing_ok=True)
        self._log = self._web_config = None

    def wipe(self) -> None:
        """Delete every pushed group (the admin API)."""
        wiped = httpx.put(f"{self.url}/api/v1/admin/wipe", auth=self.auth, timeout=5.0)
        wiped.raise_for_status()

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Every pushed sample: ``(name, labels) -> value`` (the gateway's own
        ``pushgateway_*``, ``process_*`` and ``go_*`` metrics left out)."""
        from prometheus_client.parser import text_string_to_metric_families

        response = httpx.get(f"{self.url}/metrics", auth=self.auth, timeout=5.0)
        response.raise_for_status()
        text = response.text
        found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.startswith(("pushgateway_", "process_", "go_", "promhttp_")):
                    continue
                found[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return found

    def group(self, instance: str, job: str = "shitshovela") -> dict[str, float]:
        """The samples of one group, by name."""
        labels = {("instance", instance), ("job", job)}
        return {name: value for (name, got), value in self.samples().items() if got == labels}

    def __enter__(self) -> Pushgateway:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
