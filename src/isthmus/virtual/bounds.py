"""The bounds every virtual answer keeps, checked on its Arrow table before it becomes
rows: no text longer than the hub's limit, and integer columns within 64 bits.

They are what the Api documents declare for View columns (``maxLength``, ``int64``), so a
value outside them fails the query rather than reach a caller who was promised less.
Checked per column with Arrow's kernels: a pass over the lengths, not over Python values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from isthmus.errors import FatalError
from isthmus.virtual.plans import Column

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class ValueOutOfBounds(FatalError):
    status = 502
    code = "virtual-value-out-of-bounds"
    title = "A value is larger than the hub answers"
    remediation = (
        "Tell the owner of the View: cut the column in its SQL (left(column, n), or a "
        "CAST to a smaller type), or ask the hub's operators to raise "
        "ISTHMUS_VIRTUAL_MAX_TEXT_LENGTH."
    )


def check_bounds(table: pa.Table, columns: Sequence[Column], max_text: int) -> None:
    """:class:`ValueOutOfBounds` naming the first column with a value outside the bounds.
    ``columns`` are the plan's, by position (their View types)."""
    kinds = [c.type for c in columns] if len(columns) == table.num_columns else []
    for index, name in enumerate(table.column_names):
        values = table.column(index)
        kind = kinds[index] if kinds else None
        longest = _longest_text(values)
        if longest is not None and longest > max_text:
            raise ValueOutOfBounds(
                f"Column '{name}' holds a text of {longest:,} characters, longer than the "
                f"hub answers ({max_text:,})."
            )
        if kind == "integer" and not _within_int64(values):
            raise ValueOutOfBounds(
                f"Column '{name}' holds an integer outside 64 bits, more than the hub answers."
            )


def _longest_text(values: pa.ChunkedArray[Any]) -> int | None:
    """The longest value as the answer writes it: text as characters, bytes as base64."""
    kind = values.type
    if pa.types.is_dictionary(kind):  # an enum's labels
        return _longest_text(values.cast(kind.value_type))
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        found = pc.max(pc.utf8_length(values)).as_py()
        return int(found) if found is not None else None
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        found = pc.max(pc.binary_length(values)).as_py()
        return -(-int(found) // 3) * 4 if found is not None else None
    return None


def _within_int64(values: pa.ChunkedArray[Any]) -> bool:
    kind = values.type
    if pa.types.is_signed_integer(kind) and kind.bit_width <= 64:
        return True  # within by type
    if not (pa.types.is_integer(kind) or pa.types.is_decimal(kind)):
        return True  # not an integer the answer writes as one
    bounds: dict[str, Any] = pc.min_max(values).as_py()  # type: ignore[assignment]
    low, high = bounds["min"], bounds["max"]
    return low is None or (low >= INT64_MIN and high <= INT64_MAX)
