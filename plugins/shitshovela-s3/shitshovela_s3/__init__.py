"""ShitShovela provider ``s3``: objects in an S3 (or S3-compatible) bucket become tickets.

Systems drop reports, alerts and exports as objects into a bucket; each object
under the configured prefix becomes one ticket, and then exactly that object
(that version, or that ETag) is deleted or moved under a "done" prefix.

This entry-point module stays cheap: it declares the settings and names the
source as a ``"module:attr"`` string, so botocore (request signing) and
defusedxml (listing parser) are imported only when ``SHITSHOVELA_SOURCE=s3``.
"""

from __future__ import annotations

from typing import Any

import shitshovela_core
from shitshovela_core.providers import Register
from shitshovela_core.settings import Setting

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


SETTINGS: tuple[Setting, ...] = (
    Setting("BUCKET", required=True, check=_check_bucket, help="The bucket to read objects from."),
    Setting(
        "PREFIX",
        default="",
        check=_check_prefix,
        help="Only keys starting with this prefix are items (e.g. alerts/); empty: the "
        "whole bucket.",
    ),
    Setting(
        "ENDPOINT_URL",
        "url",
        default="",
        help="Endpoint of an S3-compatible store (MinIO, Ceph, R2, ...); empty: AWS "
        "(https://s3.REGION.amazonaws.com).",
    ),
    Setting("REGION", default="us-east-1", help="Region used to sign requests."),
    Setting(
        "ADDRESSING",
        "choice",
        default="auto",
        choices=("auto", "path", "virtual"),
        help="path: ENDPOINT/BUCKET/KEY; virtual: BUCKET.HOST/KEY; auto: virtual on AWS "
        "(path for buckets with dots), path elsewhere.",
    ),
    Setting(
        "ACCESS_KEY_ID",
        default="",
        help="Access key id; empty: AWS_ACCESS_KEY_ID from the environment. Masked in "
        "output all the same.",
    ),
    Setting(
        "SECRET_ACCESS_KEY",
        secret=True,
        default="",
        help="Secret access key; empty: AWS_SECRET_ACCESS_KEY from the environment.",
    ),
    Setting(
        "SESSION_TOKEN",
        secret=True,
        default="",
        help="Session token for temporary credentials; empty: AWS_SESSION_TOKEN if set.",
    ),
    Setting(
        "DONE",
        "choice",
        default="delete",
        choices=("delete", "move"),
        help="What happens to an object once its ticket exists: delete it, or move it "
        "under DONE_PREFIX.",
    ),
    Setting(
        "DONE_PREFIX",
        default="",
        check=_check_prefix,
        help="With DONE=move: where finished objects go (PREFIX is replaced by it).",
    ),
    Setting(
        "SET_ASIDE_PREFIX",
        default="",
        check=_check_prefix,
        help="Where objects that cannot become tickets go (I12); empty: the run stops "
        "with an error naming the key.",
    ),
    Setting(
        "CONDITIONAL_DELETE",
        "choice",
        default="auto",
        choices=("auto", "if-match", "head"),
        help="Unversioned buckets: if-match: DELETE with If-Match (exact); head: HEAD "
        "check, then DELETE (a small race window); auto: probe the store once per run.",
    ),
    Setting(
        "MAX_SIZE",
        "int",
        default=100 * 1024 * 1024,
        minimum=1,
        help="Objects larger than this many bytes are set aside instead of ticketed.",
    ),
    Setting(
        "BODY_LIMIT",
        "int",
        default=30000,
        minimum=100,
        maximum=10 * 1024 * 1024,
        help="Most bytes of content in a ticket body; larger objects are truncated with a "
        "note and attached whole.",
    ),
    Setting(
        "FORMAT",
        "choice",
        default="text",
        choices=("text", "json"),
        help="text: UTF-8 text; json: a JSON object mapped by TITLE_FIELD and BODY_FIELD.",
    ),
    Setting(
        "TITLE_FROM",
        "choice",
        default="first-line",
        choices=("first-line", "key"),
        help="FORMAT=text: the title is the content's first line (the body the rest), or "
        "the key (the body the whole content).",
    ),
    Setting("TITLE_FIELD", default="title", help="FORMAT=json: the field holding the title."),
    Setting(
        "BODY_FIELD",
        default="",
        help="FORMAT=json: the field holding the body; empty: the other fields, pretty-printed.",
    ),
    Setting(
        "JSON_MAX_SIZE",
        "int",
        default=1024 * 1024,
        minimum=2,
        help="FORMAT=json: larger objects are set aside (a JSON object is parsed whole).",
    ),
)


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``s3`` source."""
    register(
        "s3",
        "shitshovela_s3.source:S3Source",
        settings=SETTINGS,
        help="Objects in an S3 or S3-compatible bucket: one ticket per object, then exactly "
        "that object is deleted (or moved).",
        default_rate=DEFAULT_RATE,
        tls=True,
    )
