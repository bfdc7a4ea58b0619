"""What one virtual query may use, and the estimate of its API calls checked before it
runs: a query that would read an API-backed stream whole, or spend more requests than
the query limit or the Connection's budget allows, is refused with what would help."""

from __future__ import annotations

import math
from dataclasses import dataclass

from isthmus.errors import FatalError
from isthmus.settings import Settings
from isthmus.virtual.plans import Plan, Scan

# the default of ISTHMUS_VIRTUAL_MAX_TEXT_LENGTH, where no settings are at hand (the lint)
MAX_TEXT_LENGTH: int = Settings.model_fields["virtual_max_text_length"].default


class UnboundedScan(FatalError):
    status = 422
    code = "virtual-unbounded-scan"
    title = "The query would read an API-backed stream whole"
    remediation = "Filter on a field the API filters on, or add a LIMIT."


class QuotaExceeded(FatalError):
    status = 422
    code = "virtual-quota-exceeded"
    title = "The query would spend more API requests than allowed"
    remediation = "Filter on a field the API filters on, or add a LIMIT."


@dataclass(frozen=True)
class Limits:
    timeout_seconds: float = 30.0
    max_rows: int = 100_000
    max_scan_rows: int = 1_000_000
    memory_mb: int = 512
    max_api_calls: int = 200
    threads: int = 2
    max_text_length: int = MAX_TEXT_LENGTH

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.virtual_timeout_seconds,
            settings.virtual_max_rows,
            settings.virtual_max_scan_rows,
            settings.virtual_memory_mb,
            settings.virtual_max_api_calls,
            max_text_length=settings.virtual_max_text_length,
        )


def estimated_calls(scan: Scan) -> int | None:
    """Most API requests the scan will make; None where it makes none."""
    spec = scan.table.spec
    if spec.max_pages is None or scan.query is None:
        return None
    page = spec.page_size
    if scan.query.limit is not None:
        return min(spec.max_pages, max(1, math.ceil(scan.query.limit / page) if page else 1))
    keys = [f for f in scan.query.filters if f.field in spec.primary_key and f.op in ("eq", "in")]
    if keys and page:
        wanted = min(len(f.value) if f.op == "in" else 1 for f in keys)
        return min(spec.max_pages, max(1, math.ceil(wanted / page)))
    return spec.max_pages  # the most the connector will read: its declared ceiling


def check_costs(plan: Plan, limits: Limits) -> None:
    """Refuse the plan before any source is read if its API calls could exceed a limit."""
    for scan in plan.scans:
        calls = estimated_calls(scan)
        if calls is None:
            continue
        budget = scan.table.spec.request_budget
        allowed = min(limits.max_api_calls, budget) if budget else limits.max_api_calls
        if calls <= allowed:
            continue
        filterable = sorted({*scan.table.spec.required_filters, *_filterable(scan)})
        hint = (
            f"Filter {scan.table.name} on {', '.join(filterable)} (the API filters those), or "
            "add a LIMIT."
            if filterable
            else "Add a LIMIT, or read a View that aggregates it."
        )
        which = "the query limit" if allowed == limits.max_api_calls else "the Connection's budget"
        if not scan.bounded:
            raise UnboundedScan(
                f"The query would read {scan.table.name} whole: up to {calls:,} API requests, "
                f"above {which} ({allowed:,}).",
                remediation=hint,
            )
        raise QuotaExceeded(
            f"Reading {scan.table.name} could take up to {calls:,} API requests, above "
            f"{which} ({allowed:,}).",
            remediation=hint,
        )


def _filterable(scan: Scan) -> list[str]:
    pushdown = scan.table.spec.pushdown
    if not pushdown.filter_ops:
        return []
    return sorted(pushdown.filter_fields if pushdown.filter_fields is not None else scan.columns)
