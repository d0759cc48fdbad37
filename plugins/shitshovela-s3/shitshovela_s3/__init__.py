"""ShitShovela provider ``s3``: objects in an S3 (or S3-compatible) bucket become tickets.

Systems drop reports, alerts and exports as objects into a bucket; each object
under the configured prefix becomes one ticket, and then exactly that object
(that version, or that ETag) is deleted or moved under a "done" prefix.

This entry-point module stays cheap: it registers the settings
(`shitshovela_s3.config`, standard library only) and names the source as a
``"module:attr"`` string, so botocore (request signing) and
defusedxml (listing parser) are imported only when ``SHITSHOVELA_SOURCE=s3``.
"""

from __future__ import annotations

import shitshovela_core
from shitshovela_core import Register

from .config import S3Settings


@shitshovela_core.hookimpl
def register_sources(register: Register) -> None:
    """Register the ``s3`` source."""
    register(
        "s3",
        "shitshovela_s3.source:S3Source",
        settings=S3Settings,
        help="Objects in an S3 or S3-compatible bucket: one ticket per object, then exactly "
        "that object is deleted (or moved).",
    )
