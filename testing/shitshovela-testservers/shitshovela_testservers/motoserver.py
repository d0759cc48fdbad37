"""Start moto's standalone S3 server for tests and benchmarks, as a separate process.

Usage::

    with MotoServer() as server:
        server.url          # http://127.0.0.1:PORT
        server.client()     # a boto3 S3 client for seeding and checking (test-only)

It runs ``python -m moto.server -H 127.0.0.1 -p PORT`` (moto[server], a dev
dependency) on a free loopback port and waits until the server answers. If
moto is not installed, the process dies, or it does not answer within
``start_timeout`` seconds, `MotoStartError` is raised with the command and
the tail of the server's log: a test that needs the server fails loudly,
never skips.

``environment`` adds variables to the server's environment, e.g.
``{"INITIAL_NO_AUTH_ACTION_COUNT": "4"}`` makes moto check SigV4 signatures
and IAM policies after the first four requests.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["MotoServer", "MotoStartError", "free_port"]


#: How often `MotoServer.start` tries a new port when the one it chose was taken.
BIND_ATTEMPTS = 3


class MotoStartError(RuntimeError):
    """moto's server could not be started or did not answer."""


class _PortTaken(Exception):
    """The server exited because another process had taken its port."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """A moto S3 server in a child process on 127.0.0.1."""

    def __init__(
        self,
        *,
        environment: Mapping[str, str] | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self.environment = dict(environment or {})
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="moto-server-", suffix=".log", delete=False
        )
        self.log_path = Path(self._log.name)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def _tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""

    def start(self) -> MotoServer:
        """Start the server and wait until it answers; raise `MotoStartError`.

        The port is one that was free a moment before; if another process (another
        pytest worker's server, say) took it meanwhile, the server cannot bind it and
        exits: then it is started again on another port, up to `BIND_ATTEMPTS` times."""
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                return self._start_once()
            except _PortTaken:
                if attempt == BIND_ATTEMPTS:
                    raise MotoStartError(
                        f"moto server could not bind a free port in {BIND_ATTEMPTS} attempts:"
                        f" {' '.join(self.command())}\n{self._tail()}"
                    ) from None
        raise AssertionError("unreachable")

    def _start_once(self) -> MotoServer:
        self.port = free_port()
        env = {**os.environ, **self.environment}
        # The server must not pick up real AWS settings from the test environment.
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(name, None)
        self._log.seek(0)
        self._log.truncate()
        self.process = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "Address already in use" in self._tail():
                    raise _PortTaken
                raise MotoStartError(
                    f"moto server exited with {self.process.returncode}: "
                    f"{' '.join(self.command())}\n{self._tail()}\n"
                    "(is moto[server] installed? `uv sync --all-packages` installs the dev group)"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1.0):  # noqa: S310
                    pass
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
                continue
            # What answered may be another process on the same port, if ours lost it.
            if self.process.poll() is None:
                return self
        tail = self._tail()
        self.stop()
        raise MotoStartError(
            f"moto server did not answer within {self.start_timeout:.0f}s: "
            f"{' '.join(self.command())}\n{tail}"
        )

    def client(self, **overrides: Any) -> Any:
        """A boto3 S3 client on this server (boto3 comes with moto; test-only)."""
        import boto3  # type: ignore[import-untyped,unused-ignore]
        from botocore.config import Config  # type: ignore[import-untyped,unused-ignore]

        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": "us-east-1",
            "aws_access_key_id": "AKIDSEEDINGCLIENT000",
            "aws_secret_access_key": "seeding-client-secret",
            "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        }
        options.update(overrides)
        return boto3.client("s3", **options)

    def stop(self) -> None:
        """Stop the server (terminate, then kill) and remove its log (a start-up failure
        already carried the log's tail in its message)."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.process = None
        self._log.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
