"""The S3 source's settings, `S3Settings`, with the rules that span them.

The core reads each setting (the credentials falling back to the usual
``AWS_*`` variables), then runs `S3Settings.problems` while it loads the
configuration: a problem is reported, naming the variables, with every other
problem of the run (exit code 2), before anything is contacted. Imported by
the entry point: standard library only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import attrs

from shitshovela_core import (
    EnvName,
    ProviderSettings,
    TlsSettings,
    rate_setting,
    setting,
)

#: Requests a second by default (retries included): far below what S3 takes
#: per prefix (3,500 writes and 5,500 reads a second), gentle on small stores.
DEFAULT_RATE = 50.0


def _check_prefix(value: Any) -> None:
    if str(value).startswith("/"):
        raise ValueError("an S3 key prefix does not start with '/'")


def _check_bucket(value: Any) -> None:
    text = str(value)
    if not 3 <= len(text) <= 63 or "/" in text or text != text.strip():
        raise ValueError("expected a bucket name of 3-63 characters without '/'")


@attrs.frozen(kw_only=True)
class S3Settings(ProviderSettings, TlsSettings):
    """The S3 source's settings (``SHITSHOVELA_S3__*``, see the README)."""

    bucket: str = setting(
        required=True, check=_check_bucket, help="The bucket to read objects from."
    )
    prefix: str = setting(
        default="",
        check=_check_prefix,
        help="Only keys starting with this prefix are items (e.g. alerts/); empty: the "
        "whole bucket.",
    )
    endpoint_url: str = setting(
        kind="url",
        default="",
        help="Endpoint of an S3-compatible store (MinIO, Ceph, R2, ...); empty: AWS "
        "(https://s3.REGION.amazonaws.com).",
    )
    region: str = setting(default="us-east-1", help="Region used to sign requests.")
    addressing: Literal["auto", "path", "virtual"] = setting(
        default="auto",
        choices=("auto", "path", "virtual"),
        help="path: ENDPOINT/BUCKET/KEY; virtual: BUCKET.HOST/KEY; auto: virtual on AWS "
        "(path for buckets with dots), path elsewhere.",
    )
    access_key_id: str = setting(
        default="",
        fallback="AWS_ACCESS_KEY_ID",
        ascii_only=True,  # in the Authorization header's credential scope
        help="Access key id; empty: AWS_ACCESS_KEY_ID from the environment. Masked in "
        "output all the same.",
    )
    secret_access_key: str = setting(
        secret=True,
        default="",
        fallback="AWS_SECRET_ACCESS_KEY",
        help="Secret access key; empty: AWS_SECRET_ACCESS_KEY from the environment.",
    )
    session_token: str = setting(
        secret=True,
        default="",
        fallback="AWS_SESSION_TOKEN",
        ascii_only=True,  # sent as the X-Amz-Security-Token header
        help="Session token for temporary credentials; empty: AWS_SESSION_TOKEN if set.",
    )
    done: Literal["delete", "move"] = setting(
        default="delete",
        choices=("delete", "move"),
        help="What happens to an object once its ticket exists: delete it, or move it "
        "under DONE_PREFIX.",
    )
    done_prefix: str = setting(
        default="",
        check=_check_prefix,
        help="With DONE=move: where finished objects go (PREFIX is replaced by it).",
    )
    set_aside_prefix: str = setting(
        default="",
        check=_check_prefix,
        help="Where objects that cannot become tickets go (I12); empty: the run stops "
        "with an error naming the key.",
    )
    conditional_delete: Literal["auto", "if-match", "head"] = setting(
        default="auto",
        choices=("auto", "if-match", "head"),
        help="Unversioned buckets: if-match: DELETE with If-Match (exact); head: HEAD "
        "check, then DELETE (a small race window); auto: probe the store once per run.",
    )
    max_size: int = setting(
        default=100 * 1024 * 1024,
        minimum=1,
        help="Objects larger than this many bytes are set aside instead of ticketed.",
    )
    body_limit: int = setting(
        default=30000,
        minimum=100,
        maximum=10 * 1024 * 1024,
        help="Most bytes of content in a ticket body; larger objects are truncated with a "
        "note and attached whole.",
    )
    format: Literal["text", "json"] = setting(
        default="text",
        choices=("text", "json"),
        help="text: UTF-8 text; json: a JSON object mapped by TITLE_FIELD and BODY_FIELD.",
    )
    title_from: Literal["first-line", "key"] = setting(
        default="first-line",
        choices=("first-line", "key"),
        help="FORMAT=text: the title is the content's first line (the body the rest), or "
        "the key (the body the whole content).",
    )
    title_field: str = setting(default="title", help="FORMAT=json: the field holding the title.")
    body_field: str = setting(
        default="",
        help="FORMAT=json: the field holding the body; empty: the other fields, pretty-printed.",
    )
    json_max_size: int = setting(
        default=1024 * 1024,
        minimum=2,
        help="FORMAT=json: larger objects are set aside (a JSON object is parsed whole).",
    )
    rate: float = rate_setting(DEFAULT_RATE)

    def problems(self, env: EnvName) -> Iterator[str]:
        """A done prefix for DONE=move, done and set-aside prefixes that do not
        hold the listed PREFIX, and credentials."""
        if self.done == "move" and not self.done_prefix:
            yield f"{env('DONE_PREFIX')} is not set: it is required with {env('DONE')}=move"
        for name, value in (
            ("DONE_PREFIX", self.done_prefix),
            ("SET_ASIDE_PREFIX", self.set_aside_prefix),
        ):
            # Inside PREFIX is fine (the listing jumps over it); PREFIX itself, or a prefix
            # of it, would put moved objects back into the queue.
            if value and self.prefix.startswith(value):
                yield (
                    f"{env(name)}={value!r} contains the listed {env('PREFIX')}="
                    f"{self.prefix!r}: moved objects would be listed again; use a prefix "
                    "outside it (or inside it, such as PREFIX + 'done/')"
                )
        if not self.access_key_id or not self.secret_access_key:
            yield (
                f"no S3 credentials: set {env('ACCESS_KEY_ID')} and "
                f"{env('SECRET_ACCESS_KEY')}, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
