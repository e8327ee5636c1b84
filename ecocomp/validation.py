"""Validate input data against the JSON Schemas in ``schemas/`` and name where problems are.

The schemas ship inside the package (``ecocomp.schemas``) and are the same files users read
in the repository's ``schemas/`` folder. Every problem is collected (``iter_errors``), not just
the first, and located as ``file:line:key`` where the input is TOML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
from jsonschema.validators import validator_for

from ecocomp.errors import Problem
from ecocomp.packagedata import data_folder

__all__ = ["TomlLocator", "schema", "schema_problems", "validator", "validator_for_schema"]


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
    checker = cls.TYPE_CHECKER.redefine("number", _is_number)
    typed = jsonschema.validators.extend(cls, type_checker=checker)
    return typed(sch, format_checker=cls.FORMAT_CHECKER)


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
    """Every schema violation of ``instance`` as a located Problem, in document order."""
    problems = []
    for err in validator(name).iter_errors(instance):
        path = (*prefix, *err.absolute_path)
        key = ".".join(str(p) for p in path) or None
        line = locate.line(path) if locate is not None else row
        problems.append(Problem(_message(err), file=file, row=line, field=key))
    return sorted(problems, key=lambda p: (p.row or 0, p.field or ""))


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"unknown key(s) {', '.join(map(repr, extra))}; check the spelling"
    if err.validator == "required":
        return err.message.replace("is a required property", "is required but missing")
    description = err.schema.get("description") if isinstance(err.schema, dict) else None
    message = err.message
    if description and err.validator in ("pattern", "enum", "format", "type"):
        message = f"{message} (expected {description})"
    return message


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
