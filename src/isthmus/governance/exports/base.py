"""What every export shares: how a document is written out, and the problems an export
can answer with."""

from __future__ import annotations

from typing import Any

import orjson

from isthmus.errors import BadRequest, FatalError


def serialize(document: dict[str, Any]) -> bytes:
    """The bytes a caller downloads. Indented, because people open these files to read
    them; the size limits of a platform are measured on exactly these bytes."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


class UnknownExportFormat(BadRequest):
    code = "export-format-unknown"
    title = "Unknown export format"
    remediation = "Ask for one of the formats listed in 'formats'."


class ExportLimitExceeded(FatalError):
    """The Api version is larger than the target platform accepts in one import."""

    status = 422
    code = "export-limit-exceeded"
    title = "Too large for the target platform"
    remediation = (
        "Split the Api version into smaller ones (for example one per business object), "
        "or leave routes out of this version, then export again."
    )
