"""The gateway's schema checks against jsonschema alone, as ratios measured in one run.

Valid values (what almost every request carries) through :class:`SchemaCheck`
(jsonschema-rs decides) and through jsonschema's ``iter_errors`` (what the gateway used
before): an integer query parameter and a 20-field JSON body.

    python benchmarks/schema_checks.py [--quick]

Last line: RESULT schema_checks parameter_speedup=… body_speedup=…
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from typing import Any

from jsonschema import Draft202012Validator

from isthmus.gateway.schemas import SchemaCheck

PARAMETER = {"type": "integer", "minimum": 1, "maximum": 100}
BODY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "maxLength": 80},
        **{f"field{i}": {"type": "string", "pattern": "^[a-z0-9 ]*$"} for i in range(18)},
    },
}
DOCUMENT = {"id": 7, "name": "Ada", **{f"field{i}": f"value {i}" for i in range(18)}}


def per_call(statement: Any, number: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=5)) / number


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    options = parser.parse_args()
    number = 2_000 if options.quick else 20_000
    ratios: dict[str, list[float]] = {"parameter": [], "body": []}
    for name, schema, value in (("parameter", PARAMETER, 42), ("body", BODY, DOCUMENT)):
        check, plain = SchemaCheck(schema), Draft202012Validator(schema)
        assert check.problems(value) == []
        assert not list(plain.iter_errors(value))
        for _ in range(3):
            ours = per_call(lambda c=check, v=value: c.problems(v), number)
            theirs = per_call(lambda p=plain, v=value: list(p.iter_errors(v)), number)
            ratios[name].append(theirs / ours)
        print(f"  {name:9} jsonschema {theirs * 1e6:7.2f} µs   SchemaCheck {ours * 1e6:6.2f} µs")
    print(
        f"RESULT schema_checks parameter_speedup={statistics.median(ratios['parameter']):.1f} "
        f"body_speedup={statistics.median(ratios['body']):.1f}"
    )


if __name__ == "__main__":
    main()
