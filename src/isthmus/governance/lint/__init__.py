"""API design lint for low-code consumption.

Rules over each Api version's OpenAPI document (as the gateway serves it) and the Api
resource behind it: names, summaries, descriptions and examples a maker sees; lists
paged one way; errors as problems; the rate limit's 429; no credentials in URLs. Run by
``isthmus lint`` and on apply (errors refuse it); see docs/api-lint.md.
"""

from __future__ import annotations

from isthmus.governance.lint.findings import Finding, LintReport, Severity
from isthmus.governance.lint.rules import RULES
from isthmus.governance.lint.runner import lint_api, lint_resource, lint_resources

__all__ = [
    "RULES",
    "Finding",
    "LintReport",
    "Severity",
    "lint_api",
    "lint_resource",
    "lint_resources",
]
