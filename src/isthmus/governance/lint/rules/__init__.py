"""Every lint rule, in the order reports list them."""

from __future__ import annotations

from isthmus.governance.lint.rules.base import Hit, Rule, rule
from isthmus.governance.lint.rules.collections import (
    collection_plural_noun,
    paging_parameters_consistent,
)
from isthmus.governance.lint.rules.credentials import no_secret_in_query
from isthmus.governance.lint.rules.documentation import (
    operation_description,
    operation_examples,
    operation_id,
    operation_summary,
)
from isthmus.governance.lint.rules.errors import errors_problem_json, rate_limit_429

RULES: tuple[Rule, ...] = (
    operation_id,
    operation_summary,
    operation_description,
    operation_examples,
    collection_plural_noun,
    paging_parameters_consistent,
    errors_problem_json,
    rate_limit_429,
    no_secret_in_query,
)

__all__ = ["RULES", "Hit", "Rule", "rule"]
