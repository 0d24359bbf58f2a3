"""An inventory document read (docs/inventory.md): parsed into plain data where every value knows its line, and
checked against the JSON Schema (schema.py). No database needed; the sections check meaning (sections/).

YAML is composed into nodes (which carry line marks) and built into plain data by hand; anchors, merge keys and
scalars are resolved like yaml.safe_load would.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from drportal.inventory.schema import SCHEMA
from drportal.lib import inputs

Path = tuple[str | int, ...]

# Guards against documents built to exhaust memory or the stack (alias "billion laughs", deep nesting).
MAX_NODES = 200_000
MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 40
# A page of errors is useful; ten thousand of them (a wrong indentation repeated) are not.
MAX_ERRORS = 200
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_VALIDATOR = Draft202012Validator(SCHEMA)
# libyaml's composer is about ten times faster and keeps the same line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InventoryError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Document:
    """Parsed data plus the line of every value, and the errors found so far."""

    source: str
    data: Any = None
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)
    # What references may point at (catalog.Catalog), set by the check pass before the sections' checks.
    catalog: Any = None

    def line(self, path: Path) -> int:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path, message: str) -> None:
        line = self.line(path)
        self.problems.append((line, f"{self.source}:{line} {format_path(path)}: {message}"))

    def raise_if_errors(self) -> None:
        if self.problems:
            seen: set[str] = set()
            ordered = [m for _, m in sorted(self.problems, key=lambda p: p[0]) if not (m in seen or seen.add(m))]
            if len(ordered) > MAX_ERRORS:
                ordered = [*ordered[:MAX_ERRORS], f"{self.source}: ... and {len(ordered) - MAX_ERRORS} more errors"]
            raise InventoryError(ordered)

    def items(self, section: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        for i, item in enumerate(self.data.get(section) or []):
            yield (section, i), item


def duplicates(
    doc: Document, section: str, key: Callable[[dict], Any], label: str, field_name: str | None = None
) -> dict[Any, Path]:
    seen: dict[Any, Path] = {}
    for path, item in doc.items(section):
        k = key(item)
        if k in seen:
            first = doc.line(seen[k])
            shown = "/".join(map(str, k)) if isinstance(k, tuple) else k
            where = (*path, field_name) if field_name else path
            doc.error(where, f"duplicate {label} {short(shown)} (first at line {first})")
        else:
            seen[k] = path
    return seen


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0
        self.stack: set[int] = set()

    def build(self, node: Node, path: Path, line: int, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise InventoryError([f"{self.doc.source}:{line} the document is too large (more than {MAX_NODES} values)"])
        if depth > MAX_DEPTH:
            raise InventoryError([f"{self.doc.source}:{line} the document is nested too deeply"])
        self.doc.lines[path] = line
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.stack:
            self.doc.error(path, "a recursive alias is not allowed")
            return None
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(c, (*path, i), c.start_mark.line + 1, depth + 1) for i, c in enumerate(node.value)]
            return self.mapping(node, path, depth)
        finally:
            self.stack.discard(id(node))

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        explicit: list[tuple[ScalarNode, Node]] = []
        merged: dict[str, Any] = {}
        here = self.doc.lines.get(path, node.start_mark.line + 1)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                if not all(isinstance(s, MappingNode) for s in sources):
                    self.doc.error(path, "a merge key (<<) must name mappings")
                    continue
                # Built through build() so a mapping merged into itself is caught like any recursive alias.
                for source in sources:
                    for key, value in (self.build(source, path, here, depth + 1) or {}).items():
                        merged.setdefault(key, value)
            elif isinstance(key_node, ScalarNode):
                explicit.append((key_node, value_node))
            else:
                self.doc.lines[path] = key_node.start_mark.line + 1
                self.doc.error(path, "a key must be a plain string")
        self.doc.lines[path] = here
        result: dict[str, Any] = {}
        for key_node, value_node in explicit:
            # Keys stay the text they were written as: `no:` or `on:` do not turn into booleans.
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in result:
                self.doc.lines[(*path, key)] = line
                self.doc.error((*path, key), f"the key {key!r} appears twice")
                continue
            result[key] = self.build(value_node, (*path, key), line, depth + 1)
        # Merged keys never override explicit ones (YAML merge semantics).
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        # Dates stay text: the schema and the importer decide what a date field means.
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            self.doc.error(path, f"cannot read value: {exc}".splitlines()[0])
            return None
        if isinstance(value, str):
            if "\x00" in value:
                self.doc.error(path, "contains a NUL character")
                return None
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.doc.error(path, "is not valid Unicode text")
                return None
            return value
        if value is None or isinstance(value, bool | int | float):
            return value
        self.doc.error(path, f"values of type {type(value).__name__} are not supported")
        return None


def parse(text: str, source: str = "<document>") -> Document:
    """The document's data with line numbers, or InventoryError naming the line of the syntax error."""
    doc = Document(source=source)
    try:
        inputs.check_yaml_text(text, max_bytes=MAX_BYTES, check_text=False)
    except inputs.InputError as exc:
        line = exc.field.removeprefix("line ") if exc.field.startswith("line ") else "1"
        raise InventoryError([f"{source}:{line} the document {exc.message}"]) from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        if exc.context_mark and mark is not exc.context_mark and exc.context_mark.line + 1 != line:
            what += f" (begun at line {exc.context_mark.line + 1})"
        raise InventoryError([f"{source}:{line} malformed YAML: {what}"]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise InventoryError([f"{source}:{line} malformed YAML: {exc.reason} ({exc.character!r})"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{source}:1 malformed YAML: {exc}"]) from None
    except RecursionError:
        raise InventoryError([f"{source}:1 the document is nested too deeply"]) from None
    if node is None:
        raise InventoryError([f"{source}:1 the document is empty"])
    doc.data = _Builder(doc).build(node, (), node.start_mark.line + 1)
    doc.raise_if_errors()
    if not isinstance(doc.data, dict):
        raise InventoryError([f"{source}:1 the document must be a mapping with version: 1 and sections"])
    return doc


_SCHEMA_TYPES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer",
                 "boolean": "true or false", "number": "a number"}


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "an integer", float: "a number"}
    return names.get(type(value), "nothing" if value is None else type(value).__name__)


def _schema_errors(doc: Document) -> None:
    for err in _VALIDATOR.iter_errors(doc.data):
        path: Path = tuple(err.absolute_path)
        check, value, schema = err.validator, err.instance, err.schema
        # Values under an account's credentials or options may be secrets pasted by mistake: never repeated
        # (error pages, logs, terminals).
        secretish = len(path) >= 3 and path[0] == "accounts" and path[2] in ("credentials_env", "options")
        shown = "the value" if secretish or schema.get("x-secret") else short(value)
        if check == "required":
            missing = re.match(r"^'(.*)' is a required property$", err.message)
            doc.error(path, f"missing required field {missing.group(1) if missing else err.message!r}")
        elif check == "additionalProperties" and isinstance(value, dict):
            for key in value:
                if key not in schema.get("properties", {}):
                    doc.error((*path, key), f"unknown field {key!r}")
        elif check == "enum":
            what = next((p for p in reversed(path) if isinstance(p, str)), "value")
            options = ", ".join(str(o) for o in err.validator_value)
            doc.error(path, f"unknown {what} {short(value)} (expected one of: {options})")
        elif check == "const":
            doc.error(path, f"{short(value)} is not supported (expected {err.validator_value!r})")
        elif check == "type":
            types = [err.validator_value] if isinstance(err.validator_value, str) else err.validator_value
            wanted = " or ".join(_SCHEMA_TYPES.get(t, t) for t in types)
            doc.error(path, f"expected {wanted}, got {_type_name(value)}" + ("" if secretish else f" {shown}"))
        elif check in ("pattern", "anyOf") and "x-error" in schema:
            doc.error(path, f"{shown} {schema['x-error']}")
        elif check == "anyOf" and path and path[-2:-1] == ("contacts",):
            doc.error(path, "a contact needs an email or a name")
        elif check == "maxLength":
            doc.error(path, f"is longer than {err.validator_value} characters")
        elif check in ("maxItems", "maxProperties"):
            doc.error(path, f"has {len(value)} entries: at most {err.validator_value} are allowed "
                            f"(docs/inventory.md, Limits)")
        elif check == "minProperties":
            doc.error(path, "must name at least one thing")
        elif secretish:
            doc.error(path, f"the value is not allowed here ({check})")
        else:
            doc.error(path, err.message[:200])


def parse_duration(value: str) -> dt.timedelta:
    """'5m', '26h', '35d', '2w' -> timedelta (the schema's duration pattern)."""
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[value[-1]]
    return dt.timedelta(**{unit: int(value[:-1])})


def check_shape(text: str, source: str = "<document>") -> Document:
    """Parse and validate against the schema (no database needed); InventoryError lists every problem."""
    doc = parse(text, source)
    _schema_errors(doc)
    doc.raise_if_errors()
    return doc

