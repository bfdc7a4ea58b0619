"""The ``filter`` expression of collection routes: OData syntax, checked and evaluated.

``odata-query`` parses the text into a syntax tree (the same tree later faces can
translate to SQL); this module checks it against the collection's fields — only
filterable fields, a small set of functions, literals of the field's type — and
evaluates it on records. Nothing in it can run code: it is a tree of comparisons.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

from isthmus.model.collection import Collection

MAX_LENGTH = 2000  # characters of one expression
MAX_NODES = 200  # comparisons, operators and values in one expression

Predicate = Callable[[dict[str, Any]], bool]


class FilterInvalid(ValueError):
    """The expression cannot be used; the message says what to change."""


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
}
_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda text, part: part in text,
    "startswith": lambda text, part: text.startswith(part),
    "endswith": lambda text, part: text.endswith(part),
}
_TEXT_CHANGES: dict[str, Callable[[str], str]] = {"tolower": str.lower, "toupper": str.upper}


def parse_filter(text: str) -> Any:
    """The expression's syntax tree, or :class:`FilterInvalid` saying what is wrong."""
    if len(text) > MAX_LENGTH:
        raise FilterInvalid(f"is longer than {MAX_LENGTH} characters")
    try:
        return ODataParser().parse(ODataLexer().tokenize(text))
    except ODataException:
        raise FilterInvalid(
            "is not a filter expression, e.g. \"tier eq 'gold' and balance gt 100\""
        ) from None
    except Exception:  # the lexer raises plain errors on characters it does not know
        raise FilterInvalid("contains characters a filter expression cannot have") from None


def compile_filter(text: str, collection: Collection) -> Predicate:
    """A predicate over records, or :class:`FilterInvalid` saying what is wrong."""
    return _Compiler(collection).boolean(parse_filter(text))


class _Compiler:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.nodes = 0

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterInvalid(f"has more than {MAX_NODES} parts")

    def boolean(self, node: Any) -> Predicate:
        self._count()
        if isinstance(node, ast.BoolOp):
            left, right = self.boolean(node.left), self.boolean(node.right)
            if isinstance(node.op, ast.And):
                return lambda record: left(record) and right(record)
            return lambda record: left(record) or right(record)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.boolean(node.operand)
            return lambda record: not inner(record)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._text_test(node)
        if isinstance(node, ast.Identifier):
            name = self._field(node, "boolean")
            return lambda record: record.get(name) is True
        raise FilterInvalid("must be made of comparisons joined by 'and', 'or' and 'not'")

    def _field(self, node: Any, *types: str) -> str:
        if not isinstance(node, ast.Identifier) or node.namespace:
            raise FilterInvalid("compares something other than a field")
        declared = self.collection.fields.get(node.name)
        if declared is None or not declared.filterable:
            allowed = sorted(n for n, f in self.collection.fields.items() if f.filterable)
            raise FilterInvalid(f"names '{node.name}'; fields that can be filtered: {allowed}")
        if types and declared.type not in types:
            raise FilterInvalid(f"uses '{node.name}' ({declared.type}) as {' or '.join(types)}")
        return str(node.name)

    def _compare(self, node: ast.Compare) -> Predicate:
        name = self._field(node.left)
        kind = self.collection.fields[name].type
        if isinstance(node.comparator, ast.In):
            if not isinstance(node.right, ast.List):
                raise FilterInvalid("needs a list after 'in', e.g. country in ('GB', 'FR')")
            values = [self._literal(item, kind, name) for item in node.right.val]
            return lambda record: field_value(record, name, kind) in values
        test = _COMPARE.get(type(node.comparator))
        if test is None:
            raise FilterInvalid("uses a comparison other than eq, ne, lt, le, gt, ge, in")
        expected = self._literal(node.right, kind, name)
        if expected is None:  # 'eq null' / 'ne null'
            if not isinstance(node.comparator, ast.Eq | ast.NotEq):
                raise FilterInvalid(f"orders '{name}' against null")
            present = isinstance(node.comparator, ast.NotEq)
            return lambda record: (record.get(name) is not None) == present

        def compare(record: dict[str, Any]) -> bool:
            actual = field_value(record, name, kind)
            if actual is None:
                return isinstance(node.comparator, ast.NotEq)
            try:
                return test(actual, expected)
            except TypeError:  # a record whose value has another type: no match
                return False

        return compare

    def _text_test(self, node: ast.Call) -> Predicate:
        function = node.func.name
        if function not in _TEXT_TESTS or len(node.args) != 2:
            raise FilterInvalid(
                f"calls '{function}'; functions: contains, startswith, endswith (of a field "
                "or of tolower/toupper of one) with a text"
            )
        self._count()
        subject: Any = node.args[0]
        change = None
        if isinstance(subject, ast.Call) and subject.func.name in _TEXT_CHANGES:
            change = _TEXT_CHANGES[subject.func.name]
            subject = subject.args[0] if len(subject.args) == 1 else None
        name = self._field(subject, "string")
        part = self._literal(node.args[1], "string", name)
        if not isinstance(part, str):
            raise FilterInvalid(f"'{function}' needs a text to look for")
        test = _TEXT_TESTS[function]

        def matches(record: dict[str, Any]) -> bool:
            actual = record.get(name)
            if not isinstance(actual, str):
                return False
            return test(change(actual) if change else actual, part)

        return matches

    def _literal(self, node: Any, kind: str, name: str) -> Any:
        self._count()
        if isinstance(node, ast.Null):
            return None
        value = _LITERALS.get((type(node), kind))
        if value is None:
            raise FilterInvalid(f"compares '{name}' ({kind}) with a value of another type")
        try:
            return value(node.val)
        except ValueError:
            raise FilterInvalid(f"has a value for '{name}' that is not a valid {kind}") from None


def moment(text: str) -> datetime:
    """ISO 8601 text as a datetime ('Z' accepted, as JSON APIs write UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


_LITERALS: dict[tuple[type, str], Callable[[Any], Any]] = {
    (ast.String, "string"): str,
    (ast.Integer, "integer"): int,
    (ast.Integer, "number"): float,
    (ast.Float, "number"): float,
    (ast.Boolean, "boolean"): lambda v: v in (True, "true"),
    (ast.DateTime, "date-time"): moment,
    (ast.String, "date-time"): moment,
}


def field_value(record: dict[str, Any], name: str, kind: str) -> Any:
    """A record's value as the field's type (date-times arrive as text)."""
    value = record.get(name)
    if kind == "date-time" and isinstance(value, str):
        try:
            return moment(value)
        except ValueError:
            return None
    return value
