"""What an app-only token costs at start-up, against signing in with a password.

Run as root (Dovecot drops privileges itself) from the workspace's virtualenv::

    python plugins/shitshovela-imap/bench/bench_oauth.py [--runs 10]

A Dovecot that validates tokens itself and the testkit's token endpoint stand-in
run on loopback. For each way of signing in (password; XOAUTH2 with a token
obtained by client secret, by certificate assertion, by a Google service
account) it prints the median of ``--runs``:

- **sign-in**: a fresh child process, from before its first import of the IMAP
  source to a signed-in session, in phases: building the source (settings, key
  material: the certificate's loads `cryptography`), obtaining the token
  (signing, the request, the answer; PyJWT is imported on first use) and
  connecting and signing in (AUTHENTICATE or LOGIN, the server validating the
  token);
- **check**: the whole ``shitshovela check`` (exit 0 required, `bench/_outcome.py`).

Each figure is given with the difference to the password and the ratio to it.
Loopback hides the network: against the real endpoints add one HTTPS round trip
(TCP and TLS handshakes, the request) per run, which this cannot measure. The
ways are measured in turn, run by run, so that a machine's load falls on all.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _outcome import Figures, UnexpectedOutcome, expect, run_cli

SELF = os.path.abspath(__file__)
WAYS = ("password", "secret", "certificate", "google")


def child(settings: dict[str, Any]) -> None:
    """Sign in once, in this fresh process; print the seconds of each phase, as JSON:
    ``imports`` (the source and the test context), ``build`` (the source: settings and
    key material), ``token`` (obtaining it: signing, the request, the answer; the first
    use of PyJWT imports it), ``login`` (connect, AUTHENTICATE or LOGIN, CAPABILITY)."""
    clock = time.perf_counter
    started = clock()
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    from shitshovela_imap.source import ImapSource
    from shitshovela_testkit.fakes import fake_context

    from shitshovela_core import Budget

    imported = clock()
    # The budget starts at the process start, as the CLI's does (the rate limiter's first
    # slot, a spacing after it, has passed by the time the token is asked for).
    context = fake_context("imap", settings=settings, budget=Budget(3600.0))
    source = ImapSource(context)
    built = clock()
    if source.signin.tokens is not None:
        source.signin.tokens.token()
    obtained = clock()
    source.conn.ensure_connected()
    done = clock()
    source.close()
    phases = {
        "imports": imported - started,
        "build": built - imported,
        "token": obtained - built,
        "login": done - obtained,
        "total": done - started,
    }
    print(json.dumps(phases))


def sign_in(settings: dict[str, Any]) -> dict[str, float]:
    """One child's timings (a child that fails gives no figure)."""
    result = subprocess.run(
        [sys.executable, SELF, "--child", json.dumps(settings)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the child failed: {result.stderr.strip()[-300:]}")
    timings: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return timings


def ways(dovecot: Any, endpoint: Any) -> dict[str, Any]:
    """One OAuthBox (or a password mailbox) per way of signing in."""
    from imapkit import Mailbox
    from oauthkit import google_box, microsoft_box

    dovecot.add_user("bench-password", "bench password 1e3")
    return {
        "password": Mailbox(dovecot, "bench-password"),
        "secret": microsoft_box(dovecot, endpoint),
        "certificate": microsoft_box(dovecot, endpoint, credential="certificate"),
        "google": google_box(dovecot, endpoint),
    }


def settings_of(way: str, box: Any) -> dict[str, Any]:
    """The IMAP source's settings for ``way`` (plain, loopback)."""
    if way == "password":
        return dict(box.settings())
    values = {
        "HOST": box.box.server.host,
        "PORT": box.box.server.port,
        "SECURITY": "plain",
        "USERNAME": box.user,
        **box.settings,
    }
    values.pop("PASSWORD", None)
    return values


def check_env(way: str, box: Any, folder: Path) -> dict[str, str]:
    """The environment of ``shitshovela check`` for ``way``."""
    from shitshovela_testkit import jobenv

    if way != "password":
        return dict(box.env(folder))
    values = {k: v for k, v in box.settings().items() if k != "MAILBOX"}
    return jobenv.job_env(
        jobenv.core("bench-password", max_runtime=60),
        jobenv.ticket_system("jsonl", PATH=str(folder / "tickets.jsonl")),
        jobenv.source("imap", SET_ASIDE_FOLDER="SetAside", **values),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return

    from shitshovela_testkit.tokenendpoint import GOOGLE_ISSUER, MAIL_AUDIENCE, TokenEndpoint
    from shitshovela_testservers.dovecot import DovecotServer, OAuth2Validation

    figs = Figures()
    validation = OAuth2Validation(
        issuers=(TokenEndpoint.microsoft_issuer(), GOOGLE_ISSUER), audience=MAIL_AUDIENCE
    )
    with tempfile.TemporaryDirectory(prefix="bench-oauth-") as folder:
        dovecot = DovecotServer(Path(folder) / "dovecot", tls=False, oauth2=validation)
        with TokenEndpoint() as endpoint, dovecot:
            dovecot.trust_token_key(endpoint.kid, endpoint.public_key_pem)
            boxes = ways(dovecot, endpoint)
            signs: dict[str, list[dict[str, float]]] = {w: [] for w in WAYS}
            checks: dict[str, list[float]] = {w: [] for w in WAYS}
            failed: dict[str, str] = {}
            for _ in range(args.runs):
                for way in WAYS:
                    if way in failed:
                        continue
                    try:
                        signs[way].append(sign_in(settings_of(way, boxes[way])))
                        env = check_env(way, boxes[way], Path(folder))
                        outcome = expect(run_cli(["check"], env, timeout=120), code=0)
                        checks[way].append(outcome.seconds)
                    except (RuntimeError, UnexpectedOutcome) as exc:
                        failed[way] = str(exc)
                        figs.refused.append(f"{way}: {exc}")
    print(f"app-only token at start-up, median of {args.runs} runs (seconds; loopback)")
    if "password" in failed:
        print(f"  no figure: the password baseline failed: {failed['password']}")
        figs.exit()

    def median(way: str, phase: str) -> float:
        return statistics.median(s[phase] for s in signs[way])

    base_sign = median("password", "total")
    base_check = statistics.median(checks["password"])
    print(f"  {'way':12s} {'build':>7s} {'token':>7s} {'login':>7s} {'sign-in':>8s}"
          f" {'extra':>7s} {'ratio':>6s} {'check':>7s} {'extra':>7s} {'ratio':>6s}")  # fmt: skip
    for way in WAYS:
        if way in failed:
            print(f"  {way:12s} no figure: {failed[way]}")
            continue
        build, token, login = median(way, "build"), median(way, "token"), median(way, "login")
        sign = median(way, "total")
        check = statistics.median(checks[way])
        print(
            f"  {way:12s} {build:7.3f} {token:7.3f} {login:7.3f} {sign:8.3f}"
            f" {sign - base_sign:+7.3f} {sign / base_sign:6.2f}"
            f" {check:7.3f} {check - base_check:+7.3f} {check / base_check:6.2f}"
        )
    print(
        "  build: settings and key material; token: signing and the request; login: connect"
        " and AUTHENTICATE (the server checks the token) or LOGIN; sign-in: from the first"
        " import to signed in; check: the whole `shitshovela check`; extra and ratio: against"
        " the password"
    )
    figs.exit()


if __name__ == "__main__":
    main()
