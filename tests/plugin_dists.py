"""Installs throwaway plugin distributions into a folder on sys.path, for loader tests.

A folder holding ``NAME-1.0.dist-info/entry_points.txt`` and a module is found
by ``importlib_metadata.entry_points`` exactly like an installed plugin.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from shitshovela_testkit import jobenv

# A file-backed source and ticket system for subprocess tests of the CLI: the
# source is a folder of files; the ticket system is a JSON file. The ticket
# system can be told to open a TCP connection first (CONNECT=host:port), so a
# test can see whether anything was contacted.
FILES_PLUGIN = """
import shitshovela_core
from shitshovela_core import Setting

@shitshovela_core.hookimpl
def register_sources(register):
    register("dir", "files_impl:DirSource", help="A folder of files (test only).",
             settings=[Setting("PATH", required=True, help="The folder."),
                       Setting("HANG", "float", default=0.0,
                               help="Seconds to hang, ignoring the budget."),
                       Setting("SPIN", "int", default=0,
                               help="Sum this many numbers in one C call first: "
                                    "the interpreter is held all the while.")])

@shitshovela_core.hookimpl
def register_ticket_systems(register):
    register("jsonfile", "files_impl:JsonTickets", help="Tickets in a JSON file (test only).",
             settings=[Setting("PATH", required=True, help="The JSON file."),
                       Setting("TOKEN", secret=True, required=True, help="A secret."),
                       Setting("CONNECT", help="host:port to connect to first."),
                       Setting("PORT", "int", default=443, help="A number.")])
"""

FILES_IMPL = """
import hashlib, json, os, socket
from pathlib import Path
from shitshovela_core import Item, Origin, Source, Ticket, TicketSystem
from shitshovela_core.errors import Unreachable

class DirSource(Source):
    def __init__(self, context):
        super().__init__(context)
        self.root = Path(context.settings["PATH"])

    @property
    def scope(self):
        return "dir://" + str(self.root)

    def _entry(self, path):
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        origin = Origin(self.context.provider, self.scope, path.name, digest[:16],
                        "sha256:" + digest)
        title, _, body = data.decode().partition("\\n")
        return Item(origin=origin, title=title, body=body)

    def items(self):
        if self.context.settings["SPIN"]:
            sum(range(self.context.settings["SPIN"]))
        if self.context.settings["HANG"]:
            import time
            time.sleep(self.context.settings["HANG"])
        for path in sorted(self.root.iterdir()):
            yield self._entry(path)

    def read(self, origin):
        path = self.root / origin.key
        if not path.exists():
            return None
        entry = self._entry(path)
        return entry if entry.origin.version == origin.version else None

    def delete(self, origin):
        if self.read(origin) is None:
            return False
        (self.root / origin.key).unlink()
        return True

class JsonTickets(TicketSystem):
    def __init__(self, context):
        super().__init__(context)
        self.path = Path(context.settings["PATH"])

    def _connect(self):
        if self.context.settings.get("CONNECT"):
            host, port = self.context.settings["CONNECT"].rsplit(":", 1)
            try:
                socket.create_connection((host, int(port)), timeout=2).close()
            except OSError as exc:
                raise Unreachable(f"cannot reach {host}:{port}: {exc}") from None

    def check(self, flag):
        self._connect()

    def _load(self):
        return json.loads(self.path.read_text()) if self.path.exists() else []

    def _save(self, tickets):
        self.path.write_text(json.dumps(tickets))

    def _ticket(self, t):
        return Ticket(t["key"], Origin.from_ref(t["origin"]), self._flag in t["labels"],
                      origin_ref=t["origin"], labels=tuple(t["labels"]))

    def create(self, draft, flag, origin):
        tickets = self._load()
        t = {"key": f"T-{len(tickets) + 1}", "title": draft.title, "labels": [flag.label],
             "origin": origin.to_ref(), "token": self.context.settings["TOKEN"]}
        tickets.append(t)
        self._save(tickets)
        self._flag = flag.label
        return self._ticket(t)

    def flagged(self, flag):
        self._connect()
        self._flag = flag.label
        return iter([self._ticket(t) for t in self._load() if flag.label in t["labels"]])

    def unflag(self, ticket, flag):
        tickets = self._load()
        for t in tickets:
            if t["key"] == ticket.key and flag.label in t["labels"]:
                t["labels"].remove(flag.label)
        self._save(tickets)
"""


# A ticket system over HTTP, under the core's safety policy (tests/httptracker.py
# is its server).
HTTP_PLUGIN = """
import shitshovela_core
from shitshovela_core import Setting

@shitshovela_core.hookimpl
def register_ticket_systems(register):
    register("httptickets", "http_impl:HttpTickets", help="Tickets over HTTP (test only).",
             tls=True, default_rate=20.0,
             settings=[Setting("URL", "url", required=True, help="Base URL."),
                       Setting("TOKEN", secret=True, required=True, ascii_only=True,
                               help="Bearer token.")])
"""

HTTP_IMPL = """
from urllib.parse import quote
from shitshovela_core import Origin, Ticket, TicketSystem
from shitshovela_core.errors import Unreachable
from shitshovela_core.safehttp import HttpClient

class HttpTickets(TicketSystem):
    def __init__(self, context):
        super().__init__(context)
        token = context.settings["TOKEN"]
        self.http = HttpClient(context.safety, context.settings["URL"],
                               headers={"Authorization": f"Bearer {token}"})

    def _ticket(self, t, flag):
        return Ticket(t["key"], Origin.from_ref(t["origin"]), flag.label in t["labels"],
                      origin_ref=t["origin"], labels=tuple(t["labels"]))

    def create(self, draft, flag, origin):
        body = {"title": draft.title, "labels": [flag.label], "origin": origin.to_ref()}
        r = self.http.request("POST", "/tickets", idempotent=False, json=body)
        r.raise_for_status()
        return Ticket(r.json()["key"], origin, True, origin_ref=origin.to_ref())

    def flagged(self, flag):
        r = self.http.request("GET", "/tickets", idempotent=True, params={"label": flag.label})
        if r.status_code == 401:
            raise Unreachable("the tracker refused the token (401)")
        r.raise_for_status()
        return iter([self._ticket(t, flag) for t in r.json()])

    def unflag(self, ticket, flag):
        path = f"/tickets/{quote(ticket.key)}/labels/{quote(flag.label)}"
        self.http.request("DELETE", path, idempotent=True).raise_for_status()

    def close(self):
        self.http.close()
"""


def http_job_env(
    site: Path, inbox: Path, url: str, token: str, *, instance: str = "safety", **extra: str
) -> dict[str, str]:
    """The environment of a CLI run from the ``dir`` source to ``httptickets``, with the
    test plugins installed in ``site`` on the path."""
    return jobenv.job_env(
        jobenv.core(instance, max_runtime=30),
        jobenv.source("dir", PATH=str(inbox)),
        jobenv.ticket_system("httptickets", URL=url, TOKEN=token),
        PYTHONPATH=str(site),
        **extra,
    )


def install_dist(
    root: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]
) -> Path:
    """Write a fake installed distribution ``dist`` with modules into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[shitshovela]\n{lines}\n")
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    return root


def install_files_plugin(root: Path) -> Path:
    """Install the file-backed test providers (``dir`` and ``jsonfile``) into ``root``."""
    return install_dist(
        root,
        "shsh-files",
        {"files": "files_plugin"},
        {"files_plugin": FILES_PLUGIN, "files_impl": FILES_IMPL},
    )


def install_http_plugin(root: Path) -> Path:
    """Install the files plugin and the HTTP ticket system ``httptickets`` into ``root``."""
    install_files_plugin(root)
    return install_dist(
        root,
        "shsh-http",
        {"http": "http_plugin"},
        {"http_plugin": HTTP_PLUGIN, "http_impl": HTTP_IMPL},
    )
