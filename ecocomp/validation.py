"""Validate input data against the JSON Schemas in ``schemas/`` and name where problems are.

The schemas ship inside the package (``ecocomp.schemas``) and are the same files users read
in the repository's ``schemas/`` folder. Every problem is collected (``iter_errors``), not just
the first, and located as ``file:line:key`` where the input is TOML.

Messages are written for the people who edit the files, not in jsonschema's words: each says
what is wrong with the value (``07:32:00 is a time``) and how to write it. The "how" comes from
the schema node that refused the value, through three keywords:

- ``x-hint``: an instruction such as ``"write a date such as 2021-01-01"``;
- ``description``: a noun phrase, shown as ``expected <description>`` when there is no hint;
- ``x-messages``: whole messages for one keyword of that node, e.g. ``{"pattern": "{value} is
  not a plain number; write digits only, e.g. 80"}`` (``{value}`` is the value as written).

``nan`` and ``inf`` (TOML float literals, JSON ``NaN``/``Infinity``) are reported as located
problems before the schema runs; jsonschema never sees a non-finite number (comparing one
raises ``decimal.InvalidOperation``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

from ecocomp.errors import Problem
from ecocomp.packagedata import data_folder

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NAME",
    "TomlLocator",
    "describe_error",
    "errors_of",
    "finite_copy",
    "limit_problem",
    "marked_values",
    "node_at",
    "nonfinite_message",
    "read_project_file",
    "resolve_ref",
    "schema",
    "schema_problems",
    "show",
    "too_deep_message",
    "validator",
    "validator_for_schema",
]

Path = tuple[str | int, ...]

#: The largest project file (parties.toml, sections.toml, one agreement) ecocomp reads: a
#: province's sections are a few hundred KB; anything near this is a wrong file.
MAX_FILE_BYTES = 8 * 1024 * 1024
#: How deep tables and lists may nest in a project file (agreements need 4 or 5 levels).
MAX_DEPTH = 32
#: The longest name, river or id (characters); Chinese official names are under 60.
MAX_NAME = 200


def read_project_file(path: object) -> str:
    """The text of a project file (UTF-8, BOM allowed), refused when over MAX_FILE_BYTES.

    Raises OSError/UnicodeDecodeError as ``Path.read_text`` does, ValueError when too big.
    """
    import pathlib

    file = pathlib.Path(str(path))
    size = file.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"the file is {size:,} bytes, more than the {MAX_FILE_BYTES:,} a project file may "
            "have; check that it is the right file (docs/project.md, Limits)"
        )
    return file.read_text(encoding="utf-8-sig")


def limit_problem(data: object) -> tuple[Path, str] | None:
    """Where ``data`` (parsed TOML/JSON) nests deeper than MAX_DEPTH, and the message; or None.

    Iterative, so a file of 10,000 nested lists is refused without deep recursion.
    """
    stack: list[tuple[object, Path]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return path[:MAX_DEPTH], too_deep_message()
        if isinstance(value, Mapping):
            stack.extend((v, (*path, k)) for k, v in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((v, (*path, i)) for i, v in enumerate(value))
    return None


def too_deep_message() -> str:
    return (f"tables or lists nest more than {MAX_DEPTH} deep; no project file needs that "
            "many levels, so check the brackets (docs/project.md, Limits)")


@cache
def schema(name: str) -> Mapping[str, Any]:
    """The JSON Schema ``schemas/<name>.schema.json`` (parsed with exact decimals)."""
    text = data_folder("schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text, parse_float=Decimal)


def _is_number(_checker: object, instance: object) -> bool:
    return isinstance(instance, int | Decimal) and not isinstance(instance, bool)


def validator_for_schema(sch: Mapping[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for a schema document: format checking on, Decimal counts as a number."""
    cls = validator_for(sch)
    return _decimal_aware(cls)(sch, format_checker=cls.FORMAT_CHECKER)


@cache
def _decimal_aware(cls: Any) -> Any:
    """``cls`` with Decimal counted as a number (a new class: made once per draft)."""
    checker = cls.TYPE_CHECKER.redefine("number", _is_number)
    return jsonschema.validators.extend(cls, type_checker=checker)


@cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of ``schemas/<name>.schema.json`` (built once)."""
    return validator_for_schema(schema(name))


def schema_problems(
    name: str,
    instance: object,
    *,
    file: str | None = None,
    locate: TomlLocator | None = None,
    row: int | None = None,
    prefix: Sequence[str | int] = (),
) -> list[Problem]:
    """Every schema violation of ``instance`` as a located Problem, in document order.

    A ``nan`` or ``inf`` anywhere in ``instance`` is one problem at its own key; the schema
    checks the rest (and nothing below that key, so one mistake gives one message).
    """

    def located(path: Path, message: str) -> Problem:
        full = (*prefix, *path)
        key = ".".join(str(p) for p in full) or None
        line = locate.line(full) if locate is not None else row
        return Problem(message, file=file, row=line, field=key)

    clean, bad = finite_copy(instance)
    known = None if bad else _exact_key(clean)
    if known is not None and (name, known) in _VALID:
        return []
    sch = schema(name)
    errors = [(tuple(sub.absolute_path), sub)
              for err in validator(name).iter_errors(clean) for sub in errors_of(err)]
    if known is not None and not errors:
        if len(_VALID) >= _VALID_MAX:
            _VALID.clear()
        _VALID.add((name, known))
    # a value of the wrong kind that holds a nan (river = [nan]) is one mistake, not two
    wrong = {path for path, sub in errors if sub.validator in _VALUE_KEYWORDS}
    bad = [(b, v) for b, v in bad if not any(len(w) < len(b) and b[: len(w)] == w for w in wrong)]
    problems = [located(path, nonfinite_message(value, node_at(sch, path)))
                for path, value in bad]  # fmt: skip
    for path, sub in errors:
        if not any(path[: len(b)] == b for b, _ in bad):
            problems.append(located(path, describe_error(sub)))
    return sorted(problems, key=lambda p: (p.row or 0, p.field or ""))


_VALUE_KEYWORDS = frozenset({"type", "enum", "const", "anyOf", "oneOf", "pattern", "format"})

#: Instances a packaged schema found valid in this process, by :func:`_exact_key`: a
#: province's agreements repeat the same params table, and validating one costs ~0.5 ms.
_VALID: set[tuple[str, object]] = set()
_VALID_MAX = 10_000
_SCALARS = frozenset({str, int, bool, Decimal, type(None), float, date, datetime, time})


def _exact_key(value: object) -> object:
    """A hashable key equal for two values only if they are the same data of the same
    types (``1``, ``True``, ``Decimal('1')`` and ``Decimal('1.0')`` all differ; a list is
    not a tuple); None for anything but parsed TOML/JSON data, which is never cached."""
    kind = type(value)
    if kind in _SCALARS:
        return kind, repr(value)
    if kind is dict:
        items = []
        for k, v in value.items():  # type: ignore[attr-defined]
            inner = _exact_key(v)
            if inner is None or type(k) is not str:
                return None
            items.append((k, inner))
        return dict, tuple(items)
    if kind is list or kind is tuple:
        inner = [_exact_key(v) for v in value]  # type: ignore[attr-defined]
        return None if any(i is None for i in inner) else (kind, tuple(inner))
    return None


# --------------------------------------------------------------------------- nan and inf


class _Placeholder(Decimal):
    """The 0 that stands for a nan or inf while the schema checks the rest (shown as written)."""

    __slots__ = ("original",)
    original: Decimal


def finite_copy(instance: object) -> tuple[Any, list[tuple[Path, Decimal]]]:
    """``instance`` with every non-finite Decimal replaced by 0, and where they were.

    TOML's ``nan``/``inf`` (read with ``parse_float=Decimal``) and JSON's ``NaN``/``Infinity``
    (read with ``parse_constant=Decimal``) must never reach jsonschema or arithmetic.

    >>> finite_copy({"a": [Decimal("1"), Decimal("NaN")]})
    ({'a': [Decimal('1'), Decimal('0')]}, [(('a', 1), Decimal('NaN'))])
    """
    found: list[tuple[Path, Decimal]] = []

    def walk(value: Any, path: Path) -> Any:
        if isinstance(value, Decimal) and not value.is_finite():
            found.append((path, value))
            placeholder = _Placeholder(0)
            placeholder.original = value
            return placeholder
        if isinstance(value, Mapping):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    return walk(instance, ()), found


def nonfinite_message(value: Decimal, node: Mapping[str, Any] | None = None) -> str:
    """``nan is not a number; write an amount such as 80`` (the hint from the schema node)."""
    return f"{show(value)} is not a number; {_hint(node) or 'write a number such as 80'}"


# --------------------------------------------------------------------------- messages


def show(value: object) -> str:
    """A value as a user wrote it in TOML, for messages (no Python reprs).

    >>> show(Decimal("NaN")), show(time(7, 32)), show(True), show("80万"), show(Decimal("1E+30"))
    ('nan', '07:32:00', 'true', "'80万'", '1E+30')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _Placeholder):
        value = value.original
    if isinstance(value, Decimal):
        if value.is_nan():
            return "nan"
        if value.is_infinite():
            return "-inf" if value < 0 else "inf"
        return f"{value:f}" if -20 <= value.adjusted() <= 20 else str(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:39] + "…"
        return f"'{text}'" if text.isprintable() else repr(text)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        items = [f"{k} = {show(v)}" for k, v in list(value.items())[:3]]
        return "{" + ", ".join(items) + (", …" if len(value) > 3 else "") + "}"
    if isinstance(value, list | tuple):
        shown = [show(v) for v in list(value)[:3]]
        return "[" + ", ".join(shown) + (", …" if len(value) > 3 else "") + "]"
    if value is None:
        return "nothing"
    return str(value)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, datetime):
        return "a date and time"
    if isinstance(value, date):
        return "a date"
    if isinstance(value, time):
        return "a time"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "a list"
    return "empty" if value is None else type(value).__name__


_TYPES = {"string": "text", "number": "a number", "integer": "a whole number",
          "boolean": "true or false", "array": "a list", "object": "a table",
          "null": "nothing"}  # fmt: skip


def _either(words: Iterable[str]) -> str:
    items = list(words)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _hint(node: object) -> str | None:
    """How to write the value, from the schema node: ``x-hint``, else its description."""
    if not isinstance(node, Mapping):
        return None
    if node.get("x-hint"):
        return str(node["x-hint"])
    if node.get("description"):
        return f"expected {node['description']}"
    return None


def errors_of(err: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """An ``anyOf``/``oneOf`` error as the errors of the branch the value was meant for.

    That branch is the first whose type (``type``, ``const``, ``enum``) the value has; when
    no branch has it, the error itself stays (it is explained by the node's hint).
    """
    if err.validator not in ("anyOf", "oneOf") or not err.context:
        yield err
        return
    branches: dict[object, list[jsonschema.ValidationError]] = {}
    for sub in err.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    for subs in branches.values():
        if not any(s.validator in ("type", "const", "enum") and not s.relative_path for s in subs):
            for sub in subs:
                yield from errors_of(sub)
            return
    yield err


def describe_error(err: jsonschema.ValidationError) -> str:
    """One error in plain words: what is wrong with the value, then how to write it."""
    node = err.schema if isinstance(err.schema, Mapping) else {}
    keyword, value, wanted = err.validator, err.instance, err.validator_value
    shown = show(value)
    custom = node.get("x-messages", {}).get(keyword)
    if custom:
        return str(custom).replace("{value}", shown)
    if keyword == "additionalProperties":
        extra = sorted(set(value) - set(node.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))}; check the spelling"
    if keyword == "required":
        # one error per missing key; jsonschema names it only in its message ("'x' is a …")
        return err.message.replace("is a required property", "is required but missing")
    hint = _hint(node)
    if keyword == "type":
        types = [wanted] if isinstance(wanted, str) else list(wanted)
        hint = hint or f"write {_either(_TYPES.get(t, t) for t in types)}"
        return f"{shown} is {_kind(value)}; {hint}"
    if keyword in ("enum", "const"):
        choices = list(wanted) if keyword == "enum" else [wanted]
        listed = _either(str(c) if isinstance(c, str) else show(c) for c in choices)
        what = "not one of the choices" if keyword == "enum" else f"not {listed}"
        return f"{shown} is {what}; {hint or 'use ' + listed}"
    what = _what(keyword, value, wanted, shown)
    return f"{what}; {hint}" if hint else what


def _what(keyword: str, value: Any, wanted: Any, shown: str) -> str:
    limit = show(wanted)
    if keyword == "pattern":
        return f"{shown} is not written the expected way"
    if keyword == "format":
        return f"{shown} is not a real date" if wanted == "date" else f"{shown} is not a {wanted}"
    if keyword == "minimum":
        return f"{shown} is negative" if wanted == 0 else f"{shown} is less than {limit}"
    if keyword == "exclusiveMinimum":
        return f"{shown} is not more than {limit}"
    if keyword == "maximum":
        return f"{shown} is more than {limit}"
    if keyword == "exclusiveMaximum":
        return f"{shown} is not less than {limit}"
    if keyword == "multipleOf":
        return f"{shown} is not a multiple of {limit}"
    if keyword == "minLength":
        return "the text is empty" if not value else f"{shown} has fewer than {wanted} characters"
    if keyword == "maxLength":
        return f"{shown} is longer than {wanted} characters"
    if keyword in ("minItems", "minProperties"):
        what = "list" if keyword == "minItems" else "table"
        if not value:
            return f"the {what} is empty"
        return f"the {what} has {_entries(len(value))}; it needs at least {wanted}"
    if keyword in ("maxItems", "maxProperties"):
        what = "list" if keyword == "maxItems" else "table"
        return f"the {what} has {_entries(len(value))}; it may have at most {wanted}"
    if keyword == "uniqueItems":
        seen: list[object] = []
        for item in value:
            if item in seen:
                return f"{show(item)} is listed twice; list each once"
            seen.append(item)
        return "an entry is listed twice; list each once"
    if keyword in ("anyOf", "oneOf"):
        return f"{shown} is not one of the accepted forms"
    return f"{shown} is not allowed here"


def _entries(n: int) -> str:
    return "1 entry" if n == 1 else f"{n} entries"


# --------------------------------------------------------------------------- schema walks


def resolve_ref(node: Any, root: Mapping[str, Any]) -> Any:
    """A node with its local ``$ref`` followed (the referring node's own keys win)."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def node_at(root: Mapping[str, Any], path: Sequence[str | int]) -> Mapping[str, Any] | None:
    """The schema node that describes the value at ``path``, when the schema says (best effort).

    >>> node_at(schema("params.class_ladder"), ("rules", "III", "amount"))["x-money"]
    True
    """
    node: Any = resolve_ref(root, root)
    for part in path:
        if not isinstance(node, Mapping):
            return None
        branches = (b for k in ("anyOf", "oneOf") for b in node.get(k, ()))
        choices = [node, *(resolve_ref(b, root) for b in branches)]
        following = None
        for choice in choices:
            if not isinstance(choice, Mapping):
                continue
            if isinstance(part, int) and isinstance(choice.get("items"), Mapping):
                following = choice["items"]
            elif isinstance(part, str) and part in choice.get("properties", {}):
                following = choice["properties"][part]
            elif isinstance(part, str) and isinstance(choice.get("additionalProperties"), Mapping):
                following = choice["additionalProperties"]
            if following is not None:
                break
        if following is None:
            return None
        node = resolve_ref(following, root)
    return node if isinstance(node, Mapping) else None


def marked_values(
    root: Mapping[str, Any], instance: object, keyword: str
) -> Iterator[tuple[Path, Any, Mapping[str, Any]]]:
    """``(path, value, node)`` for every value of ``instance`` whose schema node has ``keyword``.

    ``instance`` should be valid against ``root``. Used to find the money amounts of an
    agreement's params (``"x-money": true``).

    >>> params = {"rules": {"I": {"payer": "upstream", "amount": 80}}}
    >>> [p for p, _, _ in marked_values(schema("params.class_ladder"), params, "x-money")]
    [('rules', 'I', 'amount')]
    """

    def walk(value: Any, node: Any, path: Path) -> Iterator[tuple[Path, Any, Mapping[str, Any]]]:
        node = resolve_ref(node, root)
        if not isinstance(node, Mapping):
            return
        if node.get(keyword):
            yield path, value, node
            return
        for key in ("anyOf", "oneOf"):
            branches = [b for b in node.get(key, ()) if _mentions(b, root, keyword, set())]
            for branch in branches:  # only branches that can hold a marked value are tried
                candidate = {"$defs": root.get("$defs", {}), **resolve_ref(branch, root)}
                if validator_for_schema(candidate).is_valid(value):
                    yield from walk(value, branch, path)
                    break
        if isinstance(value, Mapping):
            props = node.get("properties", {})
            extra = node.get("additionalProperties")
            for k, v in value.items():
                yield from walk(v, props.get(k, extra), (*path, k))
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                yield from walk(v, node.get("items"), (*path, i))

    yield from walk(instance, root, ())


def _mentions(node: Any, root: Mapping[str, Any], keyword: str, seen: set[str]) -> bool:
    """True when ``keyword`` is used anywhere in ``node`` (following local ``$ref``)."""
    if isinstance(node, Mapping):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            if _mentions(resolve_ref({"$ref": ref}, root), root, keyword, seen):
                return True
        return keyword in node or any(_mentions(v, root, keyword, seen) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, root, keyword, seen) for v in node)
    return False


# --------------------------------------------------------------------------- TOML lines


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


class TomlLocator:
    """Find the line of a key path in TOML text, for error messages (best effort).

    Handles tables, arrays of tables (``[[section]]``) and dotted/inline keys at the start of
    a line; for keys inside inline tables it returns the line of the enclosing key.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str | int, ...], int] = {}
        counters: dict[tuple[str, ...], int] = {}
        table: tuple[str | int, ...] = ()
        for number, line in enumerate(text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                parts = tuple(p.strip().strip("\"'") for p in header.group(2).split("."))
                if header.group(1) == "[[":
                    index = counters.get(parts, -1) + 1
                    counters[parts] = index
                    table = (*parts, index)
                else:
                    table = parts
                self._lines.setdefault(table, number)
                continue
            key = _KEY.match(line)
            if key:
                parts = tuple(p.strip("\"'") for p in key.group(1).split("."))
                self._lines.setdefault((*table, *parts), number)

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the longest known prefix of ``path``."""
        for end in range(len(path), 0, -1):
            found = self._lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def paths(self) -> Iterator[tuple[str | int, ...]]:
        return iter(self._lines)
