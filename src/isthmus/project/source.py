"""Reading YAML project files while remembering where every value came from."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

YAML_SUFFIXES = (".yaml", ".yml")
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class Document:
    """One YAML document of a project file, as plain data plus its source positions."""

    file: str
    index: int
    node: Any  # the ruamel round-trip node, kept for positions
    data: Any  # the same content as plain Python values
    start: tuple[int, int] | None = None  # 0-based; for a document that is a plain value

    def locate(self, path: Path_, *, at_key: bool = False) -> Location:
        """The position of the value at ``path``, or of its nearest existing parent.

        Path steps that are not in the document (pydantic adds union tags such as
        'proxy' to its error locations) are skipped rather than ending the walk. A scalar
        is located at its value unless ``at_key`` (the field name itself is wrong).
        """
        node = self.node
        line, column = self.start or _position(node)
        steps = real_path(node, path)
        for index, step in enumerate(steps):
            if isinstance(node, CommentedMap) and step in node:
                child = node[step]
                scalar = child is not None and not isinstance(child, CommentedMap | CommentedSeq)
                use_value = scalar and not (at_key and index == len(steps) - 1)
                found = node.lc.value(step) if use_value else node.lc.key(step)
                node = child
            elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
                found = node.lc.item(step)
                node = node[step]
            else:
                break
            if found and found[0] is not None:  # keys merged in with '<<' have no position
                line, column = found
        return Location(self.file, line + 1, column + 1)

    def real_path(self, path: Path_) -> Path_:
        return real_path(self.data, path)


def real_path(data: Any, path: Path_) -> Path_:
    """``path`` without the steps that are not in ``data`` (pydantic's union tags such as
    'proxy'), but keeping a missing last step (the name of a missing field)."""
    node, kept = data, []
    for position, step in enumerate(path):
        following = path[position + 1] if position + 1 < len(path) else None
        if _is_tag(node, step, following):
            continue
        if _has(node, step):
            node = node[step]
        elif position < len(path) - 1:
            continue
        kept.append(step)
    return tuple(kept)


def _is_tag(node: Any, step: str | int, following: str | int | None) -> bool:
    """Is ``step`` the union tag pydantic put in a path, though a field has its name too?

    With ``auth: {type: header, header: X-Key, value: v}`` an error at ``value`` comes
    as ``auth.header.value``: 'header' is the tag when the next step is a sibling.
    """
    return (
        isinstance(node, dict)
        and following is not None
        and node.get("type") == step
        and following in node
        and not _has(node.get(step), following)
    )


def _has(node: Any, step: str | int) -> bool:
    if isinstance(node, dict):
        return step in node
    return isinstance(node, list) and isinstance(step, int) and step < len(node)


@dataclass(frozen=True)
class SyntaxProblem:
    location: Location
    message: str


def _scalar_start(text: str, index: int) -> tuple[int, int] | None:
    """Where document ``index`` of ``text`` starts (plain values carry no position)."""
    try:
        nodes = list(YAML(typ="rt").compose_all(text))
    except YAMLError:
        return None
    node = nodes[index] if index < len(nodes) else None
    return (node.start_mark.line, node.start_mark.column) if node is not None else None


def _position(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    return (lc.line, lc.col) if lc is not None and lc.line is not None else (0, 0)


class UnsupportedValue(ValueError):
    """A YAML value with no JSON equivalent (binary, set, infinity …)."""

    def __init__(self, path: Path_, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def plain(node: Any, path: Path_ = ()) -> Any:
    """ruamel's round-trip types turned into the plain JSON values pydantic expects.

    Values JSON cannot hold are refused rather than silently changed.
    """
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if isinstance(key, bool) or not isinstance(key, str | int):
                raise UnsupportedValue((*path, str(key)), "keys must be text or numbers")
            out[str(key)] = plain(value, (*path, str(key)))
        return out
    if isinstance(node, list):
        return [plain(value, (*path, index)) for index, value in enumerate(node)]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        if not math.isfinite(node):
            raise UnsupportedValue(path, "infinite and NaN numbers are not allowed")
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime | dt.date):
        return node.isoformat()
    raise UnsupportedValue(path, f"unsupported YAML value ({type(node).__name__}); use text")


def project_files(root: Path) -> Iterator[Path]:
    """YAML files under ``root``, in a stable order, skipping hidden folders."""
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_file() and path.suffix in YAML_SUFFIXES:
            yield path


def read_documents(path: Path, display: str) -> tuple[list[Document], list[SyntaxProblem]]:
    yaml = YAML(typ="rt")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [SyntaxProblem(Location(display, 1, 1), f"cannot read the file: {exc}")]
    documents: list[Document] = []
    problems: list[SyntaxProblem] = []
    try:
        for index, node in enumerate(yaml.load_all(text)):
            if node is None:  # an empty document, e.g. a trailing '---'
                continue
            document = Document(display, index, node, None)
            if not isinstance(node, CommentedMap | CommentedSeq):
                document.start = _scalar_start(text, index)
            try:
                document.data = plain(node)
            except UnsupportedValue as exc:
                problems.append(SyntaxProblem(document.locate(exc.path), exc.message))
                continue
            documents.append(document)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(str(p) for p in (exc.context, exc.problem) if p) or "invalid YAML"
        problems.append(SyntaxProblem(Location(display, line, column), message))
    except YAMLError as exc:
        problems.append(SyntaxProblem(Location(display, 1, 1), f"invalid YAML: {exc}"))
    return documents, problems
