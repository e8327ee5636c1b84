"""Readings: one measured value of one parameter at one section and time.

Parsing of the monitoring centres' files (long and wide CSV, UTF-8/GB18030, Chinese headers,
``<DL`` non-detects, units, flags) lives below the value class in this module.

The parser streams: it holds one row at a time plus small caches (resolved sections,
parameters, units and timestamps), so memory does not grow with the size of a file. The one
check that needs to remember earlier rows — duplicate samples — keeps its keys in a private
temporary SQLite database on disk (see :func:`check_readings`), and the readings store does
the same check in SQL, so it stays flat as well. The rules for each cell (patterns, enums)
are read from ``schemas/readings.schema.json`` when this module is imported.
"""

from __future__ import annotations

import calendar
import codecs
import csv
import difflib
import io
import os
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import IO, Any, Literal

import attrs

from ecocomp.errors import InputError, Problem, StandardError, ValidationFailed
from ecocomp.money import CONTEXT  # value arithmetic: never the caller's decimal context
from ecocomp.standards import gb3838
from ecocomp.validation import schema

__all__ = [
    "CST",
    "FLAGS",
    "HEADER_ALIASES",
    "MAX_IMPLAUSIBLE",
    "MAX_PROBLEMS",
    "PLAUSIBLE_DO",
    "PLAUSIBLE_MULTIPLE",
    "PLAUSIBLE_TEMP",
    "SOURCES",
    "Reading",
    "check_readings",
    "declared_supersedes",
    "implausible",
    "load_readings",
    "plausible_tops",
    "read_readings",
]

SourceKind = Literal["manual", "automatic"]
Flag = Literal["", "suspect", "invalid"]


@attrs.frozen(slots=True)
class Reading:
    """One sample value, in the parameter's canonical unit.

    For a non-detect (``below_dl``), ``value`` is the detection limit itself; assessment
    counts it as half the limit. ``sampled_at`` is naive China Standard Time.
    """

    section: str
    sampled_at: datetime
    parameter: str
    value: Decimal
    below_dl: bool = False
    source: SourceKind = "manual"
    flag: Flag = ""

    @property
    def effective_value(self) -> Decimal:
        """The value used in means: half the detection limit for a non-detect."""
        return self.value / 2 if self.below_dl else self.value


# --------------------------------------------------------------------------- the rules

#: China Standard Time; naive times in files are read as CST, aware ones converted to it.
CST = timezone(timedelta(hours=8), "CST")

#: Problems listed per file before the loader stops listing (a wrong column in a million-row
#: file would otherwise produce a million identical lines); the rest are counted.
MAX_PROBLEMS = 1000


_SCHEMA = schema("readings")
_PROPS: Mapping[str, Any] = _SCHEMA["properties"]
_SECTION_RE = re.compile(_PROPS["section"]["pattern"])
_WHEN_RE = re.compile(_PROPS["sampled_at"]["pattern"])
_VALUE_RE = re.compile(_PROPS["value"]["pattern"])
_EXPECT = {name: spec.get("description", "") for name, spec in _PROPS.items()}

#: Accepted ``source`` values (the schema's enum without the empty default).
SOURCES: tuple[str, ...] = tuple(s for s in _PROPS["source"]["enum"] if s)
#: Accepted ``flag`` values: '' (valid), 'suspect', 'invalid'.
FLAGS: tuple[str, ...] = tuple(_PROPS["flag"]["enum"])

# Words monitoring centres write in these columns, mapped onto the schema's enums.
_SOURCE_WORDS = {
    **{s: s for s in SOURCES},
    "": "manual", "手工": "manual", "手工监测": "manual", "人工": "manual",
    "自动": "automatic", "自动监测": "automatic", "自动站": "automatic",
}  # fmt: skip
_FLAG_WORDS = {
    **{f: f for f in FLAGS},
    "valid": "", "有效": "", "可疑": "suspect", "无效": "invalid",
}  # fmt: skip
for _word in (*_SOURCE_WORDS.values(), *_FLAG_WORDS.values()):
    if _word not in _PROPS["source"]["enum"] and _word not in FLAGS:
        raise RuntimeError(f"readings: alias target {_word!r} is not in the schema")

_LONG_FIELDS = ("section", "sampled_at", "parameter", "value", "unit", "source", "flag")

#: Header aliases (after NFKC, case folding and removing spaces) → canonical field name.
HEADER_ALIASES: Mapping[str, str] = {
    **{f: f for f in _LONG_FIELDS},
    "断面": "section", "断面名称": "section", "断面编码": "section", "断面代码": "section",
    "监测断面": "section",
    "监测时间": "sampled_at", "采样时间": "sampled_at", "时间": "sampled_at", "日期": "sampled_at",
    "监测日期": "sampled_at", "采样日期": "sampled_at",
    "项目": "parameter", "监测项目": "parameter", "指标": "parameter", "参数": "parameter",
    "监测值": "value", "数值": "value", "浓度": "value", "测定值": "value",
    "单位": "unit",
    "来源": "source", "数据来源": "source",
    "标记": "flag", "标识": "flag",
}  # fmt: skip

_NOT_A_VALUE = {"nd", "n.d.", "未检出", "检出限以下", "<dl", "bdl"}
_NON_FINITE = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity", "snan"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_OFFSET_RE = re.compile(r"([+-])([0-9]{2}):([0-9]{2})$")
_PARTS_RE = re.compile(
    r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?"
)
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*[(（]([^()（）]*)[)）]\s*$")
_ONE = Decimal(1)
#: Values from 1E+28 up are refused: as written (a slip of the exponent) and once a unit
#: factor has converted them (chlorophyll a written in mg/L is multiplied by 1000).
_TOO_LARGE = Decimal("1E+28")
#: The smallest measured value: a non-zero value below 1E-20 is refused as a typo in the
#: exponent, as written and once a unit factor has converted it (1E-20 µg/L is 1E-23 mg/L,
#: which the store could not export and import again). Together with the
#: 28-significant-digit limit this keeps every value's plain decimal text short (the store
#: writes it out digit for digit).
_MIN_EXPONENT = -20
_SMALLEST = Decimal(1).scaleb(_MIN_EXPONENT)
_ZERO = Decimal(0).scaleb(_MIN_EXPONENT)  # a zero written with more decimals is kept as 0E-20
# A cell shorter than this without an exponent has at most 20 decimals and 21 digits, so the
# fast paths below may read it with Decimal() directly; longer ones take _parse_value.
_FAST_LEN = 22
_PREFIX_BYTES = 64 * 1024
_CACHE_LIMIT = 65536
# Times repeat locally (one per parameter of a sample), so a small cache that is emptied when
# full catches nearly every repeat while keeping memory flat.
_TIME_CACHE_LIMIT = 1024

# One parsed cell: (row, header of the value's column, section, sampled_at, parameter code,
# value in the canonical unit, below_dl, source, flag). Plain tuples keep the hot path fast;
# read_readings turns them into Reading objects.
_Row = tuple[int, str, str, datetime, str, Decimal, bool, str, str]


def _key(text: str) -> str:
    """A comparison key for headers and names: NFKC, case-folded, no spaces, no BOM."""
    return unicodedata.normalize("NFKC", text).replace("\ufeff", "").strip().lower().replace(
        " ", ""
    )


def _suggest(text: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(text, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


class _Err:
    """A cached failure: the message to report for a cell text seen before."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


# --------------------------------------------------------------------------- cells


class _Sections:
    """Resolve section cells: a code, or a Chinese name when the project names its sections."""

    def __init__(self, sections: Collection[str] | Mapping[str, str] | None) -> None:
        self._known: dict[str, str] | None = None
        if sections is not None:
            self._known = {code: code for code in sections}
            if isinstance(sections, Mapping):
                for code, name in sections.items():
                    if name:
                        self._known.setdefault(_key(str(name)), code)
        self._cache: dict[str, str | _Err] = {}

    def __call__(self, text: str) -> str | _Err:
        found = self._cache.get(text)
        if found is None:
            found = self._resolve(text)
            if len(self._cache) < _CACHE_LIMIT:
                self._cache[text] = found
        return found

    def _resolve(self, text: str) -> str | _Err:
        if not text:
            return _Err("section is empty; write the section code (e.g. zhuting) or its name")
        if self._known is None:
            if _SECTION_RE.fullmatch(text):
                return text
            return _Err(f"section {text!r} is not a section code: expected {_EXPECT['section']}")
        code = self._known.get(text) or self._known.get(_key(text))
        if code is not None:
            return code
        return _Err(
            f"unknown section {text!r}{_suggest(text, self._known)}; use a section code or "
            "name listed in sections.toml, or add the section there"
        )


class _Params:
    """Resolve (parameter, unit) → (code, factor to the canonical unit, value kind)."""

    def __init__(self) -> None:
        self._standard = gb3838()
        self._cache: dict[tuple[str, str], tuple[str, Decimal, str] | _Err] = {}

    def __call__(self, name: str, unit: str) -> tuple[str, Decimal, str] | _Err:
        found = self._cache.get((name, unit))
        if found is None:
            found = self._resolve(name, unit)
            self._cache[(name, unit)] = found
        return found

    def code(self, name: str) -> str | None:
        return self._standard.resolve(name) if name.strip() else None

    def written(self, name: str, unit: str) -> str:
        """The unit a (parameter, unit) pair of cells gives, as written: the unit cell, or
        the unit in the parameter cell itself (总磷(mg/L)); '' when none is written."""
        if unit or self.code(name) is not None:
            return unit
        match = _UNIT_SUFFIX.match(name)
        return match.group(2) if match is not None else ""

    def unknown(self, name: str) -> _Err:
        if not name:
            return _Err("parameter is empty; write a code such as nh3n or a name such as 氨氮")
        names = [
            n for p in self._standard.parameters.values() for n in (p.code, p.name, *p.aliases)
        ]
        return _Err(
            f"unknown parameter {name!r}{_suggest(name, names)}; use a code such as nh3n, tp, "
            "codmn or a Chinese name such as 氨氮 (see docs/readings.md)"
        )

    def _resolve(self, name: str, unit: str) -> tuple[str, Decimal, str] | _Err:
        code = self.code(name)
        if code is None:
            match = _UNIT_SUFFIX.match(name)  # 总磷(mg/L) in the parameter cell itself
            if match is None or unit or self.code(match.group(1)) is None:
                return self.unknown(name)
            return self._resolve(match.group(1), match.group(2))
        param = self._standard.parameters[code]
        try:
            factor = param.to_canonical(_ONE, unit)
        except StandardError as exc:
            return _Err(str(exc))
        return code, (_ONE if factor == _ONE else factor), _kind(code)


class _Times:
    """Parse sampled_at cells (cached: a long file repeats each time once per parameter)."""

    def __init__(self) -> None:
        self._cache: dict[str, datetime | _Err] = {}

    def __call__(self, text: str) -> datetime | _Err:
        found = self._cache.get(text)
        if found is None:
            found = _parse_when(text)
            if len(self._cache) >= _TIME_CACHE_LIMIT:
                self._cache.clear()  # keeps memory flat on files with millions of times
            self._cache[text] = found
        return found


def _footnote(text: str, what: str) -> _Err | None:
    """A cell holding a superscript, subscript, circled or other such number (Unicode
    category No): NFKC, which reads full-width digits, would read it as a digit too —
    ``0.15①`` (a footnote mark) as 0.151, ``2023/1①/9`` as November."""
    mark = next((c for c in text if unicodedata.category(c) == "No"), None)
    if mark is None:
        return None
    return _Err(f"{_clip(text)} holds {mark!r}, a superscript, subscript or circled number (a "
                f"footnote mark?) that would be read as a digit; write the {what} alone and "
                "put the note in another column")


def _parse_when(text: str) -> datetime | _Err:
    if not text:
        return _Err("sampled_at is empty; write the sampling date or date-time, e.g. 2023-01-09")
    if not _WHEN_RE.fullmatch(text):
        if (mark := _footnote(text, "date or time")) is not None:
            return mark
        normal = unicodedata.normalize("NFKC", text)
        if normal != text and _WHEN_RE.fullmatch(normal):
            return _parse_when(normal)
        return _Err(f"sampled_at {text!r} is not valid: expected {_EXPECT['sampled_at']}")
    try:
        if "/" in text:
            day, _, clock = text.partition(" ")
            y, m, d = (int(p) for p in day.split("/"))
            hh, mm, ss = (int(p) for p in [*clock.split(":"), "0"][:3]) if clock else (0, 0, 0)
            moment = datetime(y, m, d, hh, mm, ss)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        return _Err(_not_real(text))
    if moment.tzinfo is not None:
        if _bad_offset(text):  # Python reads +08:75 as 9:15
            return _Err(_not_real(text))
        moment = moment.astimezone(CST).replace(tzinfo=None)
    if not 1900 <= moment.year <= 2999:
        return _Err(f"{text!r} is out of range (years 1900–2999); check the year")
    return moment


def _bad_offset(text: str) -> str | None:
    """The UTC offset at the end of a date-time when it is out of range (+25:00, +08:75)."""
    offset = _OFFSET_RE.search(text)
    if offset and (int(offset[2]) > 23 or int(offset[3]) > 59):
        return offset[0]
    return None


def _not_real(text: str) -> str:
    """Why a date-time that matches the pattern does not exist, in words (not Python's)."""
    offset = _bad_offset(text)
    if offset:
        return (f"{text!r} has UTC offset {offset}, which is out of range (-23:59..+23:59); "
                "write the sampling place's offset, e.g. +08:00 for China Standard Time, or "
                "leave it out")
    parts = _PARTS_RE.match(text)
    if parts is None:  # cannot happen for text that matched the schema's pattern
        return f"{text!r} is not a real date or time; check the date and the time"
    year, month, day = (int(p) for p in parts.group(1, 2, 3))
    hour, minute, second = (int(p or 0) for p in parts.group(4, 5, 6))
    if not 1900 <= year <= 2999:
        return f"{text!r} is out of range (years 1900–2999); check the year"
    if not 1 <= month <= 12:
        return f"{text!r} is not a real date: there is no month {month}; check the day and month"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        why = "there is no day 0" if day == 0 else f"{year}-{month:02d} has {days} days"
        return f"{text!r} is not a real date: {why}; check the day and month"
    for what, number, top in (("hour", hour, 23), ("minute", minute, 59),
                              ("second", second, 59)):
        if number > top:
            return (f"{text!r} is not a real date or time: {what} {number} is out of range "
                    f"(0–{top}); check the time")
    return f"{text!r} is not a real date or time; check the date and the time"


def _value_error(text: str, wide: bool) -> str:
    """Why a value cell failed the schema's pattern, and how to fix it."""
    if not text:
        return "value is empty; write the measured value, or <DL for a value below the " \
            "detection limit DL (leave out the row if nothing was measured)"
    low = text.lower()
    if low in _NOT_A_VALUE:
        return f"{text!r} has no detection limit; write <DL with the limit, e.g. <0.01"
    if low.lstrip("<").strip() in _NON_FINITE:
        empty = "leave the cell empty" if wide else "drop the row"
        return f"{text!r} is not a finite number; write a measured value or {empty}"
    if low.endswith("l") and _VALUE_RE.fullmatch(text[:-1].strip()):
        limit = text[:-1].strip().lstrip("<").strip()  # '<0.01L' is '<0.01', not '<<0.01'
        return (f"{text!r} looks like the 检出限+L notation; write <{limit} for a "
                "value below the detection limit")
    if text.startswith("="):
        return (f"{text!r} is a formula whose result the workbook does not hold (it was "
                "written by a program and never calculated); open it in Excel and save it, "
                "or write the value")
    if text in ("-", "/", "—", "－", "--"):
        return f"{text!r} is not a value; leave the cell empty when nothing was measured" \
            if wide else f"{text!r} is not a value; drop the row when nothing was measured"
    return f"{text!r} is not a number: expected {_EXPECT['value']}"


def _clip(text: str) -> str:
    """A cell as quoted in a message, shortened when it is long (a cell may hold thousands)."""
    return repr(text) if len(text) <= 40 else f"{text[:30]!r}… ({len(text)} characters)"


def _out_of_scale(text: str, small: bool) -> _Err:
    if small:
        return _Err(f"{_clip(text)} is too small to be a measured value (below 1E-20); check "
                    "the exponent and the unit")
    return _Err(f"{_clip(text)} is too large to be a measured value; check the exponent")


def _parse_value(text: str, wide: bool) -> tuple[Decimal, bool] | _Err:
    """The slow path for value cells the fast path did not take (Unicode, exponents, …)."""
    if not _VALUE_RE.fullmatch(text):
        if (mark := _footnote(text, "value")) is not None:
            return mark
        normal = unicodedata.normalize("NFKC", text).strip()
        if normal != text and _VALUE_RE.fullmatch(normal):
            text = normal
        else:
            return _Err(_value_error(text, wide))
    below = text.startswith("<")
    number = text[1:].lstrip() if below else text
    digits = number.lstrip("+-").replace(".", "").split("e")[0].split("E")[0].lstrip("0")
    if len(digits) > 28:
        return _Err(f"{_clip(text)} has more than 28 significant digits; round it to what was "
                    "measured")
    try:
        value = Decimal(number, CONTEXT)
    except InvalidOperation:  # an exponent beyond what Decimal holds (1E-99999999999999999999)
        return _out_of_scale(text, small="e-" in number.lower())
    exponent: int = value.as_tuple().exponent  # type: ignore[assignment]
    if exponent > 0:
        try:
            # "1.5E+3" → 1500, so stored text round-trips
            value = value.quantize(_ONE, context=CONTEXT)
        except InvalidOperation:
            return _out_of_scale(text, small=False)
    elif exponent < _MIN_EXPONENT:
        if value and value.adjusted() < _MIN_EXPONENT:
            return _out_of_scale(text, small=True)
        if not value:
            value = _ZERO  # 0E-4400 is 0: keep 20 decimals, not thousands
    if not value and value.is_signed():
        value = value.copy_abs()
    return value, below


# --------------------------------------------------------------------------- files


class _FileProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class _Prefixed(io.RawIOBase):
    """A raw stream that replays bytes already read before continuing with the rest."""

    def __init__(self, prefix: bytes, rest: IO[bytes]) -> None:
        self._prefix = memoryview(prefix)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._prefix):
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _decodes(encoding: str, data: bytes, final: bool) -> str | None:
    try:
        return codecs.getincrementaldecoder(encoding)("strict").decode(data, final=final)
    except UnicodeDecodeError:
        return None


def _utf8_rest_ok(stream: IO[bytes]) -> bool:
    """Whether the rest of a seekable stream decodes as UTF-8 (reads in 64 KiB chunks)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        while chunk := stream.read(1 << 16):
            if chunk.isascii() and not decoder.getstate()[0]:
                continue
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _detect(binary: IO[bytes], name: str) -> tuple[str, IO[bytes]]:
    """The encoding (utf-8-sig or gb18030) and a stream positioned at the start of the text.

    UTF-8 is tried strictly first, then GB18030; anything else (UTF-16, binary) is refused.
    When the first 64 KiB are plain ASCII, a seekable file is scanned to the end (at C speed)
    so a GB18030 name far down a file is not misread; a pipe is judged by its first 64 KiB.
    """
    seekable = False
    try:
        seekable = binary.seekable()
        start = binary.tell() if seekable else 0
    except (OSError, AttributeError):
        seekable = False
    prefix = binary.read(_PREFIX_BYTES)
    if not isinstance(prefix, bytes):
        raise TypeError(f"{name}: open readings files in binary mode ('rb'), not text mode")
    complete = len(prefix) < _PREFIX_BYTES
    encoding = None
    for candidate in ("utf-8-sig", "gb18030"):
        text = _decodes(candidate, prefix, complete)
        if text is not None:
            encoding = candidate if not _CONTROL.search(text) else None
            break
    if encoding is None:
        raise _FileProblem(Problem(
            f"file {name} is not UTF-8 or GB18030 text (binary, UTF-16 or another encoding?); "
            "save it from Excel as 'CSV UTF-8' or as CSV in GB18030/GBK", file=name,
        ))
    if encoding == "utf-8-sig" and prefix.isascii() and not complete and seekable:
        if not _utf8_rest_ok(binary):
            encoding = "gb18030"
    if seekable:
        binary.seek(start)
        return encoding, binary
    return encoding, io.BufferedReader(_Prefixed(prefix, binary))


class _Layout:
    """Where each field sits in a file's rows, from its header."""

    def __init__(self, header: list[str], name: str, params: _Params) -> None:
        self.problems: list[Problem] = []
        self.fields: dict[str, tuple[int, str]] = {}
        self.columns: list[tuple[int, str, str, str]] = []  # (index, header, name, unit)
        cells = [h.replace("\ufeff", "").strip() for h in header]
        self.names = cells[:]  # every header cell, the empty ones Excel leaves at the right too
        self.empty_row = 0  # the first wide row whose parameter cells are all empty
        while cells and not cells[-1]:
            cells.pop()  # Excel leaves empty columns behind; their cells must stay empty
        self.width = len(cells)
        others: list[tuple[int, str]] = []
        for index, text in enumerate(cells):
            field = HEADER_ALIASES.get(_key(text))
            if field is None:
                others.append((index, text))
            elif field in self.fields:
                self._problem(name, text, f"column {text!r} repeats the {field} column "
                              f"{self.fields[field][1]!r}; keep one of them")
            else:
                self.fields[field] = (index, text)
        self.long = "parameter" in self.fields or "value" in self.fields
        if len(cells) == 1 and ("\t" in cells[0] or ";" in cells[0]):
            self._problem(name, None, "the header has a single column; the file seems to be "
                          "separated by tabs or semicolons — save it as comma-separated CSV")
            return
        required = ("section", "sampled_at", "parameter", "value") if self.long \
            else ("section", "sampled_at")
        missing = [f for f in required if f not in self.fields]
        if missing:
            self._problem(name, None, f"the header lacks {', '.join(missing)}; a long file "
                          "needs section,sampled_at,parameter,value[,unit][,source][,flag], a "
                          "wide one section,sampled_at and one column per parameter")
        if self.long:
            for _index, text in others:
                self._problem(name, text, f"column {text!r} is not part of the long format "
                              "(section,sampled_at,parameter,value,unit,source,flag); remove it")
            return
        if "unit" in self.fields:
            self._problem(name, self.fields["unit"][1], "a wide file gives units in the "
                          "parameter headers, e.g. 总磷(mg/L); remove the unit column")
        seen: dict[str, str] = {}
        for index, text in others:
            found = self._parameter_column(text, params)
            if isinstance(found, _Err):
                self._problem(name, text or f"column {index + 1}", found.message)
                continue
            code, unit = found
            if code in seen:
                self._problem(name, text, f"column {text!r} repeats parameter {code} of column "
                              f"{seen[code]!r}; keep one of them")
                continue
            seen[code] = text
            self.columns.append((index, text, code, unit))
        if not self.columns and not missing:
            self._problem(name, None, "the header names no parameter column; a wide file has "
                          "one column per parameter, e.g. 氨氮 or tp(mg/L)")

    def _problem(self, name: str, field: str | None, message: str) -> None:
        self.problems.append(Problem(message, file=name, row=1, field=field))

    @staticmethod
    def _parameter_column(text: str, params: _Params) -> tuple[str, str] | _Err:
        # Whole-header aliases such as 氨氮(NH3-N) win over reading "(…)" as a unit.
        code = params.code(text)
        if code is not None:
            return code, ""
        match = _UNIT_SUFFIX.match(text)
        if match:
            code = params.code(match.group(1))
            if code is not None:
                found = params(code, match.group(2))
                if isinstance(found, _Err):
                    return found
                return code, match.group(2)
        return params.unknown(text)


def _rows(
    source: str | os.PathLike[str] | IO[bytes],
    sections: Collection[str] | Mapping[str, str] | None,
    name: str | None,
    odd: _Implausible | None = None,
) -> Iterator[_Row | Problem]:
    """Parse one file: every good cell as a _Row, every bad one as a Problem, in file order.

    ``odd``, when given, collects the implausible values of the good rows (warnings)."""
    if _is_workbook(source, name):
        yield from _workbook_rows(source, sections, name or _name_of(source, None), odd)
        return
    if isinstance(source, str | os.PathLike):
        name = name or str(source)
        try:
            binary: IO[bytes] = open(source, "rb")
        except OSError as exc:
            yield Problem(f"cannot open the file: {exc.strerror}", file=name)
            return
        owned = True
    else:
        name = name or str(getattr(source, "name", "<readings>"))
        binary = source
        owned = False
    text = None
    try:
        try:
            encoding, stream = _detect(binary, name)
        except _FileProblem as exc:
            yield exc.problem
            return
        text = io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")
        origin = binary.tell() if stream is binary else None  # where the text starts
        yield from _parse(text, sections, name, lambda: _bad_line(binary, origin, encoding),
                          lambda: _long_row(binary, origin, encoding), odd=odd)
    finally:
        if text is not None and not owned:
            try:
                text.detach()  # leave the caller's file open
            except ValueError:
                pass
        if owned:
            binary.close()


def _comment(row: list[str]) -> bool:
    return bool(row) and row[0].replace("\ufeff", "").lstrip().startswith("#")


_SUPERSEDES = re.compile(r"^#\s*supersedes\s*[:：=]\s*(.*)$", re.IGNORECASE)


def declared_supersedes(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """The files a corrections file names on its ``# supersedes: a.csv, b.csv`` lines.

    Such lines come before the header (in a workbook, in column A of the first sheet); the
    result is ``(line, file name)`` pairs. Files that cannot be read give ``[]`` (their
    problems are reported by :func:`check_readings`).
    """
    lines: list[str] = []
    try:
        if _is_workbook(path, None):
            from openpyxl import load_workbook

            book = load_workbook(path, read_only=True, data_only=True)
            try:
                sheet = book.worksheets[0] if book.worksheets else None
                for row in sheet.iter_rows(max_row=50, max_col=1, values_only=True) \
                        if sheet is not None else ():
                    lines.append(_cell_text(row[0]) if row else "")
            finally:
                book.close()
        else:
            with open(path, "rb") as binary:
                head = binary.read(_PREFIX_BYTES)
            for encoding in ("utf-8-sig", "gb18030"):
                try:
                    text = head.decode(encoding)
                    break
                except UnicodeDecodeError as exc:
                    text = head[: exc.start].decode(encoding, errors="replace")
            lines = text.splitlines()[:50]
    except Exception:  # unreadable: check_readings says why
        return []
    found = []
    for number, line in enumerate(lines, start=1):
        cell = line.replace("\ufeff", "").strip()
        if not cell:
            continue
        if not cell.startswith("#"):
            break  # the header: comments end here
        match = _SUPERSEDES.match(cell)
        if match:
            for item in re.split(r"[,，;；]", match.group(1)):
                item = item.strip().strip("\"'")
                if item:
                    found.append((number, item))
    return found


def _is_workbook(source: object, name: str | None) -> bool:
    """Whether a readings source is an Excel workbook (.xlsx), by its file name."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source).lower().endswith(".xlsx")
    return (name or str(getattr(source, "name", ""))).lower().endswith(".xlsx")


_UNSAVED = threading.local()  # on while a _SheetReader reads a row (see _unsaved_formulas)
_UNSAVED.on = False


def _unsaved_formulas() -> None:
    """Make openpyxl's read-only sheets give a formula cell that holds no saved result (a
    workbook written by a program, never calculated by Excel) as the formula's text.

    With ``data_only`` openpyxl reads such a cell as empty, which a wide file takes for "not
    measured": a value would be dropped without a word. Only while one of our
    ``_SheetReader`` reads a row (a thread-local switch); other readers are unaffected.
    """
    from openpyxl.worksheet import _read_only, _reader

    base = _reader.WorkSheetParser
    if getattr(_read_only.WorkSheetParser, "_ecocomp", False):
        return

    class Parser(base):  # type: ignore[misc,valid-type]
        _ecocomp = True

        def parse_cell(self, element: Any) -> dict[str, Any]:
            cell: dict[str, Any] = super().parse_cell(element)
            # no result: no <v>, or an empty one not typed as text (a formula giving ""
            # is saved by Excel as t="str" with an empty <v>: a blank cell, rightly)
            if (getattr(_UNSAVED, "on", False) and self.data_only and cell["value"] is None
                    and element.find(_reader.FORMULA_TAG) is not None
                    and (element.find(_reader.VALUE_TAG) is None
                         or element.get("t", "n") == "n")):
                formula = element.findtext(_reader.FORMULA_TAG) or ""
                cell["value"], cell["data_type"] = f"={formula}", "s"
            return cell

    _read_only.WorkSheetParser = Parser


class _SheetReader:
    """One worksheet's rows as lists of text cells, like ``csv.reader`` (with ``line_num``).

    With ``formats``, ``rows`` are cells (not values) and a date-time cell at midnight whose
    number format shows no time is read as the date Excel shows.
    """

    def __init__(self, rows: Iterator[tuple[Any, ...]], *, formats: bool = False) -> None:
        self._rows = rows
        self._formats = formats
        self.line_num = 0

    def __iter__(self) -> _SheetReader:
        return self

    def __next__(self) -> list[str]:
        _UNSAVED.on = True  # a formula without a saved result reads as its text (=...)
        try:
            row = next(self._rows)
        finally:
            _UNSAVED.on = False
        self.line_num += 1
        if self._formats:
            return [_cell_text(cell.value, getattr(cell, "number_format", None))
                    for cell in row]
        return [_cell_text(value) for value in row]


_QUOTED_FORMAT = re.compile(r'"[^"]*"|\\.|\[\$[^\]]*\]')


def _shows_time(number_format: str) -> bool:
    """Whether an Excel number format shows hours or seconds (``yyyy-mm-dd hh:mm``)."""
    plain = _QUOTED_FORMAT.sub("", number_format).lower()
    return "h" in plain or "s" in plain


def _cell_text(value: object, number_format: str | None = None) -> str:
    """A cell as the text a CSV export would hold: numbers exactly as Excel shows them.

    Excel stores numbers as binary doubles; the shortest text that reads back as the same
    double (Python's ``repr``) is what was typed (Excel keeps 15 significant digits), so
    0.15 stays 0.15, never 0.1499999999999999944…. A formula's result can need 16 or 17
    digits (``=0.1*3`` is saved as 0.30000000000000004); Excel shows it, and exports it to
    CSV, at 15 significant digits (0.3), and so is it read. Given the cell's
    ``number_format``, a date-time at midnight formatted as a date is that date
    (``2026-01-01``).
    """
    if value is None:
        return ""
    if (number_format is not None and isinstance(value, datetime)
            and value.time() == datetime.min.time() and not _shows_time(number_format)):
        return value.date().isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        shortest = Decimal(repr(value))
        if len(shortest.as_tuple().digits) > 15:  # a computed double: Excel shows 15 digits
            shortest = Decimal(format(value, ".15g"))
        return format(shortest, "f")
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if hasattr(value, "isoformat"):  # a date or a time
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value)


def _workbook_rows(
    source: str | os.PathLike[str] | IO[bytes],
    sections: Collection[str] | Mapping[str, str] | None,
    name: str,
    odd: _Implausible | None = None,
) -> Iterator[_Row | Problem]:
    """Parse every non-empty sheet of an .xlsx workbook as a long or wide table.

    Read with openpyxl in read-only mode (rows stream; memory stays flat). Problems are
    located as ``file:sheet:row:field``. Formulas are read as the values Excel saved.
    """
    for item in workbook_sheets(source, name):
        if isinstance(item, Problem):
            yield item
        else:
            title, reader = item
            yield from _parse(None, sections, f"{name}:{title}", reader=reader, odd=odd)


def workbook_sheets(
    source: str | os.PathLike[str] | IO[bytes], name: str, *, formats: bool = False,
) -> Iterator[tuple[str, _SheetReader] | Problem]:
    """Each non-empty sheet of an .xlsx workbook: ``(title, rows)``, the rows like
    ``csv.reader``'s (text cells, ``line_num`` the sheet's own row number), or a Problem
    (the file is not a workbook, or no sheet has data, or a sheet is hidden or has merged
    cells at its header or below: those are not read). Also used by the air readings.

    Read with openpyxl in read-only mode (rows stream; memory stays flat); formulas are read
    as the values Excel saved. ``formats``: dates as Excel shows them (see _SheetReader).
    """
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    _unsaved_formulas()
    try:
        book = load_workbook(source, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a valid .xlsx"
        yield Problem(f"cannot open the file as an Excel workbook ({why}); save it from Excel "
                      "as .xlsx (Excel Workbook) or as CSV", file=name)
        return
    try:
        sheets = 0
        for sheet in book.worksheets:
            first = _first_data_row(sheet)
            if first is None:
                continue  # an empty sheet: nothing to read
            sheets += 1
            where = f"{name}:{sheet.title}"
            if sheet.sheet_state != "visible":
                yield _hidden_sheet(sheet.sheet_state, where)
                continue
            header, merged = _merged_in_data(sheet, first)
            if merged:  # read, the sheet would give values for some of a merge's rows only
                for cells in merged[:_MERGES_SHOWN]:
                    yield _merged_problem(cells, header, where)
                if len(merged) > _MERGES_SHOWN:
                    yield Problem(f"{len(merged) - _MERGES_SHOWN} more merged ranges from "
                                  "this row down; unmerge every one", file=where,
                                  row=merged[_MERGES_SHOWN][0])
                continue
            reader = _SheetReader(sheet.iter_rows(min_row=first, values_only=not formats),
                                  formats=formats)
            reader.line_num = first - 1  # row numbers are the sheet's own
            yield sheet.title, reader
        if not sheets:
            yield Problem("the workbook has no sheet with data; it needs a header row and at "
                          "least one data row", file=name)
    finally:
        book.close()


def _first_data_row(sheet: Any) -> int | None:
    """The number of the sheet's first row with a non-blank cell, or None for a blank sheet."""
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if any(v is not None and str(v).strip() for v in row):
            return number
    return None


def _hidden_sheet(state: str, where: str) -> Problem:
    """A sheet with data that Excel does not show: its readings would come in unseen."""
    if state == "veryHidden":
        how = ("it is \"very hidden\", which Excel's Unhide does not list: in the VBA editor "
               "(Alt+F11) set the sheet's Visible property to xlSheetVisible")
    else:
        how = "right-click a sheet tab, Unhide"
    return Problem(f"the sheet is hidden, so its rows would be imported without being seen; "
                   f"if its readings are meant, unhide it ({how}), otherwise delete the "
                   "sheet", file=where)


#: A ``<mergeCell ref="B5:B9"/>`` element of a sheet's XML (any namespace prefix). Markup
#: only: a ``<`` in text or an attribute value is written ``&lt;``.
_MERGE_CELL = re.compile(
    rb"<(?:[A-Za-z_][\w.-]*:)?mergeCell\s[^>]*?\bref\s*=\s*[\"']"
    rb"\$?([A-Za-z]{1,3})\$?([0-9]{1,7})(?::\$?([A-Za-z]{1,3})\$?([0-9]{1,7}))?[\"']")
_MERGE_CHUNK = 1 << 20
_MERGES_SHOWN = 20  # a sheet's merged ranges named one by one; the rest are counted
_MERGE_TAIL = 4096  # longer than any mergeCell element: what a chunk boundary may cut


def _merged_ranges(stream: IO[bytes]) -> Iterator[tuple[int, int, int, int]]:
    """The merged ranges of a sheet's XML part, ``(first row, first column, last row, last
    column)``, multi-cell ones only.

    openpyxl's read-only sheets do not give merged cells, and the ``<mergeCells>`` element
    comes after the rows (``<sheetData>``): the part is scanned as bytes, a chunk at a time
    (memory stays flat, and it costs a small part of reading the rows with openpyxl).
    """
    tail = b""
    while chunk := stream.read(_MERGE_CHUNK):
        data = tail + chunk
        cut = data.rfind(b"<")  # an element the chunk may cut is read with the next one
        yield from _merges_in(data, len(data) if cut < 0 else cut)
        tail = data[cut:] if 0 <= cut and len(data) - cut <= _MERGE_TAIL else b""
    yield from _merges_in(tail, len(tail))


def _merges_in(data: bytes, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The multi-cell merged ranges of the ``<mergeCell>`` elements in ``data[:end]``."""
    from openpyxl.utils import column_index_from_string

    if data.find(b"mergeCell", 0, end) < 0:  # the rows: no regular expression over them
        return
    for match in _MERGE_CELL.finditer(data, 0, end):
        col1, row1, col2, row2 = (part.decode("ascii") if part else "" for part in match.groups())
        if not col2:
            continue  # one cell: nothing is merged
        a, b = column_index_from_string(col1.upper()), column_index_from_string(col2.upper())
        r1, r2 = int(row1), int(row2)
        if (r1, a) != (r2, b):
            yield min(r1, r2), min(a, b), max(r1, r2), max(a, b)


def _header_row(sheet: Any, first: int) -> int | None:
    """The sheet's header row: its first non-blank row that is not a comment (``#``), as
    :func:`_parse` (and the air readings) find it; None when there is none."""
    for number, row in enumerate(sheet.iter_rows(min_row=first, values_only=True),
                                 start=first):
        cells = [_cell_text(value) for value in row]
        if any(cell.strip() for cell in cells) and not _comment(cells):
            return number
    return None


def _merged_in_data(sheet: Any, first: int) -> tuple[int, list[tuple[int, int, int, int]]]:
    """The sheet's header row and its merged ranges that reach that row or the rows below
    it, top to bottom (merges in blank or comment lines above the header are skipped with
    those lines)."""
    with sheet._get_source() as stream:  # the sheet's XML part, as openpyxl reads its rows
        merged = list(_merged_ranges(stream))
    header = _header_row(sheet, first) if merged else None
    if header is None:
        return 0, []
    return header, sorted(cells for cells in merged if cells[2] >= header)


def _merged_problem(cells: tuple[int, int, int, int], header: int, where: str) -> Problem:
    """A merged range in the data: Excel keeps its value in the first cell only."""
    from openpyxl.utils import get_column_letter

    top, left, bottom, right = cells
    first = f"{get_column_letter(left)}{top}"
    ref = f"{first}:{get_column_letter(right)}{bottom}"
    beside = f"{get_column_letter(left + 1)}{top}" + (
        f":{get_column_letter(right)}{top}" if right > left + 1 else "")
    if top == bottom == header:  # a title line (not a comment), or a name over two columns
        return Problem(f"cells {ref} of the header row are merged, so {beside} read as "
                       "empty: columns without a name; unmerge them and name each column (a "
                       "title line above the header must start with # or be deleted)",
                       file=where, row=top)
    if left == right:  # a section name or a date over several rows: the usual merge
        rest = f"rows {top + 1}–{bottom}" if bottom > top + 1 else f"row {bottom}"
        fill = "fill the value into each row"
    else:
        rest = beside if top == bottom else "its other cells"
        fill = "fill the value into each cell"
    return Problem(f"cells {ref} are merged: the workbook holds the value in {first} only, "
                   f"and {rest} would read as empty; unmerge the cells and {fill}",
                   file=where, row=top)


def _bad_line(binary: IO[bytes], origin: int | None, encoding: str) -> int | None:
    """The line where a seekable file stops decoding (the text layer reads ahead in chunks)."""
    if origin is None:
        return None
    binary.seek(origin)
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    while chunk := binary.read(1 << 16):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return line + chunk[: max(0, exc.start - pending)].count(b"\n")
        line += chunk.count(b"\n")
    return None


def _long_row(binary: IO[bytes], origin: int | None, encoding: str) -> tuple[int, str] | None:
    """Where the row that overflowed the csv module's cell limit starts: (line, its text).

    Reads a seekable file again up to that row (only after the parse has stopped there).
    """
    if origin is None:
        return None
    binary.seek(origin)
    text = io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")
    pulled: list[str] = []

    def lines() -> Iterator[str]:
        for line in text:
            pulled.append(line)
            yield line

    reader = csv.reader(lines())
    try:
        while True:
            pulled.clear()  # the csv module reads no further ahead than the row it returns
            start = reader.line_num + 1
            if next(reader, None) is None:
                return None
    except csv.Error:
        return start, pulled[0] if pulled else ""
    finally:
        text.detach()


def _csv_problem(
    exc: csv.Error, line: int, name: str, names: list[str] | None, long_row: Any
) -> Problem:
    """A csv module error in plain words, at the line where the trouble starts."""
    if "field larger than field limit" in str(exc):
        limit = f"{csv.field_size_limit():,}"
        found = long_row()
        if found is None:  # a pipe cannot be read again
            return Problem(
                f"a cell is too long to read at this line (more than {limit} characters): a "
                'quote (") above is probably never closed; find it and remove it or close it',
                file=name, row=line,
            )
        start, first = found
        if start == line:
            return Problem(f"a cell of this line is longer than {limit} characters; a "
                           "readings cell holds one value — check the line", file=name, row=line)
        # The row ran on over several lines: its last cell on the first line opened a quote.
        index = len(next(csv.reader([first]), [""])) - 1
        field = names[index] if names and index < len(names) and names[index] else None
        return Problem(
            f'a quote (") opens here and is not closed on this line, so the cell takes in the '
            f"lines below until it is too long to read (more than {limit} characters, at line "
            f"{line}); remove the quote or close it on this line",
            file=name, row=start, field=field,
        )
    if "NUL" in str(exc):
        return Problem("the line holds a zero byte (NUL), which text files do not have; the "
                       "file may be damaged — export it again", file=name, row=line)
    return Problem("the line is not valid CSV; check its quotes and remove stray control "
                   "characters", file=name, row=line)


_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}


def _parse(
    text: IO[str] | None,
    sections: Collection[str] | Mapping[str, str] | None,
    name: str,
    bad_line: Any = lambda: None,
    long_row: Any = lambda: None,
    reader: Any = None,
    odd: _Implausible | None = None,
) -> Iterator[_Row | Problem]:
    reader = reader if reader is not None else csv.reader(text)  # type: ignore[arg-type]
    layout: _Layout | None = None
    try:
        header: list[str] | None = None
        for header in reader:
            # comment lines before the header (``# supersedes: …``) are not data
            if any(cell.strip() for cell in header) and not _comment(header):
                break
        else:
            header = None
        if header is None:
            yield Problem("the file is empty; it needs a header row and at least one data row",
                          file=name)
            return
        quote = _open_quote(header, [], name, reader.line_num)
        if quote is not None:
            yield quote
            return
        params = _Params()
        layout = _Layout(header, name, params)
        if layout.problems:
            yield from layout.problems
            return
        body = (_parse_long if layout.long else _parse_wide)(
            reader, layout, _Sections(sections), params, name, odd
        )
        first = next(body, None)
        if first is None:
            if layout.empty_row:
                yield Problem("every parameter cell of the file's rows is empty, so the file "
                              "holds no measured value; fill in the values or leave the file "
                              "out", file=name, row=layout.empty_row)
                return
            yield Problem("the file has a header but no data rows", file=name, row=1)
            return
        yield first
        yield from body  # one generator layer less on the hot path
    except UnicodeDecodeError:
        encoding = getattr(text, "encoding", "")
        encoding = _ENCODING_NAMES.get(encoding, encoding.upper() or "UTF-8 or GB18030")
        line = bad_line()
        where = f"at row {line}" if line else f"after row {reader.line_num}"
        yield Problem(
            f"the file stops being valid {encoding} text {where}; save the whole file in one "
            "encoding (UTF-8 or GB18030)", file=name, row=line or reader.line_num + 1,
        )
    except csv.Error as exc:
        yield _csv_problem(exc, reader.line_num, name, layout.names if layout else None,
                           long_row)


def _common(
    row: list[str], layout: _Layout, sections: _Sections, times: _Times, name: str, line: int
) -> tuple[str, datetime, str, str] | list[Problem]:
    """Section, sampled_at, source and flag of a row, or its problems."""
    fields = layout.fields
    problems: list[Problem] = []
    i, head = fields["section"]
    section = sections(row[i].strip())
    if isinstance(section, _Err):
        problems.append(Problem(section.message, file=name, row=line, field=head))
    i, head_t = fields["sampled_at"]
    when = times(row[i].strip())
    if isinstance(when, _Err):
        problems.append(Problem(when.message, file=name, row=line, field=head_t))
    source = "manual"
    if "source" in fields:
        i, head_s = fields["source"]
        cell = row[i].strip()
        found = _word(_SOURCE_WORDS.get, cell)
        if found is None:
            problems.append(Problem(f"source {cell!r} is not valid: expected "
                                    f"{_EXPECT['source']}", file=name, row=line, field=head_s))
        else:
            source = found
    flag = ""
    if "flag" in fields:
        i, head_f = fields["flag"]
        cell = row[i].strip()
        flag_found = _word(_FLAG_WORDS.get, cell)
        if flag_found is None:
            problems.append(Problem(f"flag {cell!r} is not valid: expected {_EXPECT['flag']}",
                                    file=name, row=line, field=head_f))
        else:
            flag = flag_found
    if problems:
        return problems
    return section, when, source, flag  # type: ignore[return-value]


def _kind(code: str) -> str:
    """Which checks a parameter's values get (:func:`_checked`): "ph" (0–14, no detection
    limit), "signed" (water temperature: may be below zero, no detection limit) or "amount"
    (a concentration or amount, not negative)."""
    return "ph" if code == "ph" else ("signed" if code == "temp" else "amount")


def _value_text(value: Decimal) -> str:
    """A value as the store writes it: its digits written out, never an exponent (``str()``
    writes tiny values as 5E-7, or 5e-7 under a caller's context with ``capitals=0``)."""
    text = str(value)
    return format(value, "f") if "E" in text or "e" in text else text


def _converted(value: Decimal, factor: Decimal) -> Decimal:
    """``value`` in the parameter's unit (a unit factor is a power of ten: exact). A zero
    keeps at most 20 decimals, as one written with more does (0.00000000000000000000 µg/L
    is 0E-20 mg/L, not 0E-23)."""
    value = CONTEXT.multiply(value, factor)
    if not value and value.adjusted() < _MIN_EXPONENT:  # a zero's adjusted() is its exponent
        return _ZERO
    return value


def _checked(
    value: Decimal, below: bool, kind: str, code: str, text: str
) -> str | None:
    """Why a converted value is impossible for its parameter, or None when it is fine."""
    if kind == "amount":
        if value < 0:
            return (f"negative value {text!r} for {code}; a concentration or amount cannot "
                    "be below zero — check the sign")
    elif kind == "ph" and not 0 <= value <= 14:
        return f"pH {text!r} is outside 0–14; check the value and the column"
    if below and value <= 0:  # water temperature's <0 or <-1 too: a limit is above zero
        return f"{text!r}: a detection limit must be greater than zero"
    if below and kind == "ph":  # half of '<7' would be pH 3.5: a log scale has no limit
        return (f"pH {text!r} has no detection limit; write the measured pH (a pH below a "
                "limit cannot be averaged as half the limit)")
    if below and kind == "signed":  # '<4' ℃ is a typing slip, or another quantity
        return (f"water temperature {text!r} has no detection limit; write the measured "
                "temperature (a temperature below a limit is not a non-detect)")
    if not -_TOO_LARGE < value < _TOO_LARGE:  # a unit factor carried it past 1E+28
        return (f"{_clip(text)} is {value.normalize(CONTEXT)} in the unit of {code}: too "
                "large to be a measured value; check the value and the unit")
    if value and abs(value) < _SMALLEST:  # a unit factor carried it below 1E-20
        return (f"{_clip(text)} is {value.normalize(CONTEXT)} in the unit of {code}: too "
                "small to be a measured value (below 1E-20); check the value and the unit")
    return None


# --------------------------------------------------------------------------- plausibility

#: A valid, detected value of a parameter GB 3838 classes (a concentration, a count) above
#: this many times its class Ⅴ limit is implausible: most often a value in μg/L written
#: without its unit (1000 times too large). For TP and TN, whose lake limits are lower, the
#: larger (river) limit counts, so that lakes are not over-warned. A warning, not a problem:
#: a real pollution incident can be extreme, and the value is imported as written.
PLAUSIBLE_MULTIPLE = Decimal(10)
#: Dissolved oxygen above this (mg/L) is implausible: even supersaturated water rarely holds
#: more than about 20 mg/L (a saturation in % is the usual slip).
PLAUSIBLE_DO = Decimal(20)
#: Water temperature above this (°C) is implausible for a river or a lake.
PLAUSIBLE_TEMP = Decimal(40)
#: Implausible values listed per file; the rest are counted in one line.
MAX_IMPLAUSIBLE = 20

_MICRO = "μg/l"  # μg/L as the standard's unit keys write it (_normalise_unit)
_THOUSANDTH = Decimal("0.001")
# value / limit in 60 digits: a value up to 1E+28 over a limit of 0.001 is still quantized
# to a tenth (33 digits) without InvalidOperation
_RATIO = Context(prec=60, rounding=ROUND_HALF_UP, Emin=-999999, Emax=999999)
_TENTH = Decimal("0.1")


def plausible_tops() -> dict[str, Decimal]:
    """The largest plausible value of each parameter that has one, in its canonical unit:
    :data:`PLAUSIBLE_MULTIPLE` times the class Ⅴ limit of every item GB 3838 classes by an
    upper limit (the larger of the river and lake limits), :data:`PLAUSIBLE_DO` for DO and
    :data:`PLAUSIBLE_TEMP` for water temperature. A value equal to its top is plausible.

    >>> plausible_tops()["tp"], plausible_tops()["do"]
    (Decimal('4.0'), Decimal('20'))
    """
    return dict(_TOPS)


def _class_v_limit(code: str) -> Decimal:
    param = gb3838().parameters[code]
    return max(limits[4] for limits in param.limits.values())


def _tops() -> dict[str, Decimal]:
    found: dict[str, Decimal] = {}
    for code, param in gb3838().parameters.items():
        if param.direction == "lower" and param.limits:
            found[code] = CONTEXT.multiply(_class_v_limit(code), PLAUSIBLE_MULTIPLE)
    found["do"] = PLAUSIBLE_DO
    found["temp"] = PLAUSIBLE_TEMP
    return found


_TOPS = _tops()


def _times(value: Decimal, limit: Decimal) -> str:
    """``value / limit`` in words: exact when it has at most one decimal (``125``, ``12.5``),
    else rounded half up to one decimal after "about" (``about 10.3``)."""
    ratio = _RATIO.divide(value, limit)
    if ratio == ratio.to_integral_value(context=_RATIO):
        return format(ratio.quantize(_ONE, context=_RATIO), "f")
    shown = ratio.quantize(_TENTH, context=_RATIO)
    return format(shown, "f") if shown == ratio else f"about {format(shown, 'f')}"


def implausible(code: str, value: Decimal, unit: str = "") -> str:
    """Why a value above its plausible top (:func:`plausible_tops`) is implausible, and how
    to fix it: the message of the warning. ``value`` is in the parameter's canonical unit;
    ``unit`` is the unit as written in the file ('' when none was written).

    >>> implausible("tp", Decimal("50"))  # doctest: +NORMALIZE_WHITESPACE
    'tp 50 mg/L is 125 times the class Ⅴ limit (0.4 mg/L); a value in μg/L written without
     its unit? Write the unit (50 μg/L) or check the value'
    """
    param = gb3838().parameters[code]
    text = _value_text(value)
    what = f"{code} {text} {param.unit}"
    fix = f"check the value and the unit written ({unit})" if unit else "check the value"
    if code == "do":
        hint = fix if unit else "a saturation in % written as mg/L? Check the value"
        return (f"{what} is above {PLAUSIBLE_DO} mg/L, more than water holds even "
                f"supersaturated; {hint}")
    if code == "temp":
        hint = fix if unit else "a temperature in °F? Check the value"
        return (f"{what} is above {PLAUSIBLE_TEMP} {param.unit}, warmer than rivers and "
                f"lakes get; {hint}")
    limit = _class_v_limit(code)
    if not unit and param.units.get(_MICRO) == _THOUSANDTH:
        hint = f"a value in μg/L written without its unit? Write the unit ({text} μg/L) or " \
            "check the value"
    else:
        hint = fix
    return (f"{what} is {_times(value, limit)} times the class Ⅴ limit ({limit} "
            f"{param.unit}); {hint}")


class _Implausible:
    """The implausible values of one file as it is read: the first :data:`MAX_IMPLAUSIBLE`
    as located warnings, the rest counted. The parsers (row by row, and
    :mod:`ecocomp.columnar` by columns) call :meth:`add` for each valid, detected value
    above its top (``tops``), in file order; the message is built only then."""

    __slots__ = ("found", "more", "tops")

    def __init__(self) -> None:
        self.tops = _TOPS
        self.found: list[Problem] = []
        self.more = 0

    def add(self, file: str, row: int, field: str, code: str, value: Decimal,
            unit: str) -> None:
        if len(self.found) < MAX_IMPLAUSIBLE:
            self.found.append(Problem(implausible(code, value, unit), file=file, row=row,
                                      field=field))
        else:
            self.more += 1

    def warnings(self, name: str) -> tuple[Problem, ...]:
        """The warnings of the file ``name``: the listed ones, then the count of the rest."""
        if not self.more:
            return tuple(self.found)
        plural = "s" if self.more > 1 else ""
        return (*self.found,
                Problem(f"… and {self.more} more implausible value{plural} in {name}"))


def _fit(row: list[str], width: int) -> list[str] | None:
    """The row padded to the header's width; None when extra cells hold data."""
    n = len(row)
    if n < width:
        return row + [""] * (width - n)
    if n > width and any(cell.strip() for cell in row[width:]):
        return None
    return row


def _too_wide(row: list[str], layout: _Layout, name: str, line: int) -> Problem:
    """The problem of a row with data beyond the header's named columns."""
    named, header = layout.width, len(layout.names)
    if (len(row) > header and any(cell.strip() for cell in row[header:])) or header == named:
        return Problem(f"the row has {len(row)} cells but the header has {header}; remove the "
                       "extra cells or quote cells that contain commas", file=name, row=line)
    # Data under the empty header cells Excel leaves at the right (总磷,,).
    filled = [(i + 1, _clip(cell.strip())) for i, cell in enumerate(row[named:header], named)
              if cell.strip()]
    if len(filled) == 1:
        (number, text), = filled
        return Problem(f"cell {number} has {text} under a column with no name; name the column "
                       "or clear the cell", file=name, row=line)
    numbers = _and([str(number) for number, _text in filled])
    texts = _and([text for _number, text in filled])
    return Problem(f"cells {numbers} have {texts} under columns with no name; name the columns "
                   "or clear the cells", file=name, row=line)


def _and(items: list[str]) -> str:
    return f"{', '.join(items[:-1])} and {items[-1]}" if len(items) > 1 else items[0]


_BREAK = re.compile(r"\r\n?|\n")


def _open_quote(row: list[str], names: list[str], name: str, line: int) -> Problem | None:
    """The problem of a row that a stray quote ran on over several lines, or None.

    A cell that starts with a quote runs up to the closing quote, across lines; an unbalanced
    one takes in the lines below (to the end of the file if it is never closed), and the row
    ends up with one cell holding them. Readings cells never hold a line break, so such a
    cell is reported where its quote opens, without its contents.
    """
    index = next((i for i, cell in enumerate(row) if "\n" in cell or "\r" in cell), -1)
    if index < 0:
        return None
    breaks = sum(len(_BREAK.findall(cell)) for cell in row[index:])
    # Never closed: the cell took in the file up to its end, the last line break included.
    to_end = row[index][-1] in "\r\n" and not any(row[index + 1:])
    start = line - breaks + (1 if to_end else 0)
    field = names[index] if index < len(names) and names[index] else None
    if to_end:
        runs = f"runs to line {line}, the end of the file" if line > start else \
            "runs to the end of the file"
        message = f'a quote (") opens here and is never closed, so the cell {runs}; remove ' \
            "the quote or close it"
    else:
        message = f'a quote (") opens here and is not closed on this line, so the cell runs ' \
            f"on to line {line}; remove the quote or close it on this line"
    return Problem(message, file=name, row=start, field=field)


def _value_cell(cell: str, wide: bool) -> tuple[Decimal, bool] | _Err:
    """A value cell's number and non-detect mark (the fast path inlined in the loops)."""
    if _VALUE_RE.fullmatch(cell) and cell[0] not in "<-" and "e" not in cell and "E" not in cell \
            and len(cell) < _FAST_LEN:
        return Decimal(cell), False
    return _parse_value(cell, wide)


def _word(lookup: Any, cell: str) -> str | None:
    """A source or flag cell through its word table (exact first, then case-folded)."""
    cell = cell.strip()
    found = lookup(cell)
    return lookup(cell.lower()) if found is None else found


def _blank(row: list[str]) -> bool:
    return not any(cell.strip() for cell in row)


def _parse_long(
    reader: Any, layout: _Layout, sections: _Sections, params: _Params, name: str,
    odd: _Implausible | None = None,
) -> Iterator[_Row | Problem]:
    times = _Times()
    fields = layout.fields
    width = layout.width
    i_sec = fields["section"][0]
    i_at = fields["sampled_at"][0]
    i_par, h_par = fields["parameter"]
    i_val, h_val = fields["value"]
    i_unit, h_unit = fields.get("unit", (-1, "unit"))
    i_src = fields.get("source", (-1, ""))[0]
    i_flag = fields.get("flag", (-1, ""))[0]
    # The loop below is the hot path of million-row imports: caches are read directly and
    # every message is built only when a row fails (by the slow path after the loop body).
    section_of = sections._cache.get
    time_of = times._cache.get
    param_of = params._cache.get
    source_of = _SOURCE_WORDS.get
    flag_of = _FLAG_WORDS.get
    value_ok = _VALUE_RE.fullmatch
    values: dict[str, Decimal] = {}
    value_of = values.get
    fast_len = _FAST_LEN
    one = _ONE
    dt = datetime
    top_of = odd.tops.get if odd is not None else {}.get  # no tops: nothing is checked
    for row in reader:
        if len(row) != width:
            fitted = _fit(row, width)
            if fitted is None:
                line = reader.line_num
                yield (_open_quote(row, layout.names, name, line)
                       or _too_wide(row, layout, name, line))
                continue
            row = fitted
        # Caches are keyed by stripped text, so a cell without spaces hits them unstripped.
        text = row[i_sec]
        section = section_of(text) or sections(text.strip())
        text = row[i_at]
        when = time_of(text) or times(text.strip())
        if i_src >= 0:
            source = source_of(row[i_src]) or _word(source_of, row[i_src])
        else:
            source = "manual"
        flag = flag_of(row[i_flag]) if i_flag >= 0 else ""
        if flag is None:
            flag = _word(flag_of, row[i_flag])
        key = (row[i_par].strip(), row[i_unit].strip() if i_unit >= 0 else "")
        par = param_of(key) or params(*key)
        cell = row[i_val].strip()
        # A plain non-negative decimal (the vast majority of cells) needs no further checks
        # for an amount; values repeat (0.15, 7.1, …), so their Decimals are cached.
        value = value_of(cell)
        plain = value is not None
        below = False
        if not plain:
            if value_ok(cell) and cell[0] not in "<-" and "e" not in cell and "E" not in cell \
                    and len(cell) < fast_len:
                value = Decimal(cell)
                plain = True
                if len(values) >= _CACHE_LIMIT:
                    values.clear()
                values[cell] = value
            else:
                parsed = _parse_value(cell, False)
                value, below = parsed if type(parsed) is tuple else (None, False)
        if (
            value is not None
            and type(par) is tuple
            and type(section) is str
            and type(when) is dt
            and source is not None
            and flag is not None
        ):
            code, factor, kind = par
            if factor is not one:
                value = _converted(value, factor)
                plain = False  # a unit factor can carry a value past 1E+28 or below 1E-20
            # a plain value in range needs no other check (the usual case)
            why = None if kind == "amount" and (plain or (not below and (
                not value or _SMALLEST <= value < _TOO_LARGE))) else _checked(
                value, below, kind, code, cell)
            if why is None:
                top = top_of(code)
                if top is not None and value > top and not below and flag != "invalid":
                    odd.add(name, reader.line_num, h_val, code, value,  # type: ignore[union-attr]
                            params.written(*key))
                yield (reader.line_num, h_val, section, when, code, value, below, source, flag)
                continue
            yield Problem(why, file=name, row=reader.line_num, field=h_val)
            continue
        if _blank(row):
            continue  # blank lines and rows of empty cells (Excel leaves them behind)
        line = reader.line_num
        quote = _open_quote(row, layout.names, name, line)
        if quote is not None:
            yield quote  # the row's cells hold the lines a stray quote took in
            continue
        common = _common(row, layout, sections, times, name, line)
        if isinstance(common, list):
            yield from common
        if isinstance(par, _Err):
            field = h_par if params.code(key[0]) is None else h_unit
            yield Problem(par.message, file=name, row=line, field=field)
        if value is None:
            yield Problem(_value_cell(cell, False).message, file=name, row=line,  # type: ignore[union-attr]
                          field=h_val)
        elif type(par) is tuple:
            code, factor, kind = par
            if factor is not one:
                value = _converted(value, factor)
            why = _checked(value, below, kind, code, cell)
            if why is not None:
                yield Problem(why, file=name, row=line, field=h_val)


def _parse_wide(
    reader: Any, layout: _Layout, sections: _Sections, params: _Params, name: str,
    odd: _Implausible | None = None,
) -> Iterator[_Row | Problem]:
    times = _Times()
    width = layout.width
    fields = layout.fields
    i_sec = fields["section"][0]
    i_at = fields["sampled_at"][0]
    i_src = fields.get("source", (-1, ""))[0]
    i_flag = fields.get("flag", (-1, ""))[0]
    columns = []
    for index, header, code, unit in layout.columns:
        found = params(code, unit)
        assert not isinstance(found, _Err)  # the layout checked every column's unit
        columns.append((index, header, found[0], found[1], found[2], unit))
    section_of = sections._cache.get
    time_of = times._cache.get
    source_of = _SOURCE_WORDS.get
    flag_of = _FLAG_WORDS.get
    value_ok = _VALUE_RE.fullmatch
    fast_len = _FAST_LEN
    one = _ONE
    dt = datetime
    top_of = odd.tops.get if odd is not None else {}.get  # no tops: nothing is checked
    for row in reader:
        line = reader.line_num
        if len(row) != width:
            fitted = _fit(row, width)
            if fitted is None:
                yield (_open_quote(row, layout.names, name, line)
                       or _too_wide(row, layout, name, line))
                continue
            row = fitted
        text = row[i_sec].strip()
        section = section_of(text) or sections(text)
        text = row[i_at].strip()
        when = time_of(text) or times(text)
        source = _word(source_of, row[i_src]) if i_src >= 0 else "manual"
        flag = _word(flag_of, row[i_flag]) if i_flag >= 0 else ""
        bad = not (type(section) is str and type(when) is dt and source is not None
                   and flag is not None)
        if bad:
            if _blank(row):
                continue  # blank lines and rows of empty cells (Excel leaves them behind)
            quote = _open_quote(row, layout.names, name, line)
            if quote is not None:
                yield quote  # the row's cells hold the lines a stray quote took in
                continue
            common = _common(row, layout, sections, times, name, line)
            if isinstance(common, list):
                yield from common
            else:
                section, when, source, flag = common
                bad = False
        cells: list[tuple[str, str, Decimal, bool, str]] = []
        for index, header, code, factor, kind, unit in columns:
            cell = row[index]
            if not cell:
                continue
            cell = cell.strip()
            if not cell:
                continue  # an empty cell: not measured
            if value_ok(cell) and cell[0] not in "<-" and "e" not in cell and "E" not in cell \
                    and len(cell) < fast_len:
                value = Decimal(cell)
                below = False
            else:
                parsed = _parse_value(cell, True)
                if isinstance(parsed, _Err):
                    bad = True
                    quote = _open_quote(row, layout.names, name, line)
                    if quote is not None:
                        yield quote  # the row's cells hold the lines a stray quote took in
                        break
                    yield Problem(parsed.message, file=name, row=line, field=header)
                    continue
                value, below = parsed
            if factor is not one:
                value = _converted(value, factor)
            if kind != "amount" or below or not (not value or _SMALLEST <= value < _TOO_LARGE):
                why = _checked(value, below, kind, code, cell)
                if why is not None:
                    bad = True
                    yield Problem(why, file=name, row=line, field=header)
                    continue
            cells.append((header, code, value, below, unit))
        if bad:
            continue
        if not cells:
            if not layout.empty_row:
                layout.empty_row = line
            continue
        for header, code, value, below, unit in cells:
            top = top_of(code)
            if top is not None and value > top and not below and flag != "invalid":
                odd.add(name, line, header, code, value, unit)  # type: ignore[union-attr]
            yield (line, header, section, when, code, value, below, source, flag)  # type: ignore[misc]


# --------------------------------------------------------------------------- duplicates


def duplicate_message(other_row: int, here: str, there: str) -> str:
    """The problem text for a sample repeated with a different value (file or store)."""
    return (
        f"same section, time, parameter and source as row {other_row} but a different value "
        f"({here} here, {there} there); a file gives each sample once, so keep the right "
        "row and delete the other"
    )


def shown(value: Decimal, below: bool, flag: str) -> str:
    """A value as people read it in a message: ``<0.01``, ``0.15 (suspect)``."""
    text = ("<" if below else "") + format(value, "f")
    return f"{text} ({flag})" if flag else text


class _Duplicates:
    """Samples repeated within one file: identical ones collapse, different ones are problems.

    The key (section, sampled_at, parameter, source) of every sample goes to a private
    temporary SQLite database on disk, so checking a file of millions of rows does not hold
    them in memory; one sort at the end finds the repeats.
    """

    _BATCH = 5_000

    def __init__(self, name: str) -> None:
        self._name = name
        self._db = sqlite3.connect("")  # "" = a temporary on-disk database, deleted on close
        self._db.execute(
            "CREATE TABLE seen (seq INTEGER, row INTEGER, field TEXT, k TEXT, value TEXT, "
            "below INTEGER, flag TEXT)"
        )
        self._batch: list[tuple[Any, ...]] = []
        self._when: datetime | None = None
        self._iso = ""

    def add(self, seq: int, item: _Row) -> None:
        line, field, section, when, code, value, below, source, flag = item
        if when is not self._when:
            self._when, self._iso = when, when.isoformat()
        self._batch.append((seq, line, field, f"{section}\x1f{self._iso}\x1f{code}\x1f{source}",
                            str(value), below, flag))
        if len(self._batch) >= self._BATCH:
            self._flush()

    def _flush(self) -> None:
        with self._db:
            self._db.executemany("INSERT INTO seen VALUES (?, ?, ?, ?, ?, ?, ?)", self._batch)
        self._batch.clear()

    def finish(self, repeats: bool) -> tuple[list[Problem], set[int]]:
        """The problems (different values) and, if asked, the seqs of identical repeats."""
        self._flush()
        # Without the repeats, rows equal to the first as text need not come back at all.
        plain = "" if repeats else \
            "WHERE NOT (s.value = f.value AND s.below = f.below AND s.flag = f.flag) "
        try:
            self._db.execute("CREATE INDEX seen_k ON seen (k, seq)")
            rows = self._db.execute(
                "SELECT s.seq, s.row, s.field, s.value, s.below, s.flag, f.row, f.value, "
                "f.below, f.flag "
                "FROM (SELECT k, MIN(seq) AS first FROM seen GROUP BY k HAVING COUNT(*) > 1) g "
                "JOIN seen f ON f.k = g.k AND f.seq = g.first "
                f"JOIN seen s ON s.k = g.k AND s.seq > g.first {plain}ORDER BY s.seq"
            )
            problems: list[Problem] = []
            found: set[int] = set()
            for seq, row, field, value, below, flag, first_row, first, first_below, \
                    first_flag in rows:
                if below == first_below and flag == first_flag and (
                    value == first or Decimal(value) == Decimal(first)
                ):
                    if repeats:
                        found.add(seq)  # the same sample again (0.10 and 0.1 are the same)
                elif len(problems) <= MAX_PROBLEMS:
                    here = shown(Decimal(value), bool(below), flag)
                    there = shown(Decimal(first), bool(first_below), first_flag)
                    problems.append(Problem(duplicate_message(first_row, here, there),
                                            file=self._name, row=row, field=field))
            return problems, found
        finally:
            self._db.close()


# --------------------------------------------------------------------------- public API


def _name_of(source: object, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, str | os.PathLike):
        return str(source)
    return str(getattr(source, "name", "<readings>"))


def read_readings(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    *,
    sections: Collection[str] | Mapping[str, str] | None = None,
    name: str | None = None,
) -> Iterator[Reading]:
    """Stream the readings of one file (long or wide, UTF-8 or GB18030), in file order.

    Pure streaming: memory stays flat for any file size. Raises :class:`InputError` at the
    first bad cell; use :func:`check_readings` or :func:`load_readings` to get every problem
    of a file at once. Samples repeated within the file are not checked here (that needs
    the earlier rows); the loaders and the store check them. ``sections`` restricts section
    codes (a mapping code → name also accepts the Chinese names); ``name`` names a file
    object in messages.

    >>> import io
    >>> data = "section,sampled_at,parameter,value,unit\\nzhuting,2023-01-09,tp,43,µg/L\\n"
    >>> [r.value for r in read_readings(io.BytesIO(data.encode()))]
    [Decimal('0.043')]
    """
    for item in _rows(path_or_file, sections, name):
        if type(item) is tuple:
            yield Reading(item[2], item[3], item[4], item[5], item[6], item[7], item[8])
        else:
            problem: Problem = item  # type: ignore[assignment]
            raise InputError(
                problem.message, file=problem.file, row=problem.row, field=problem.field
            )


def _gather(
    path: str | os.PathLike[str] | IO[bytes],
    sections: Collection[str] | Mapping[str, str] | None,
    name: str | None,
    keep: list[Reading] | None,
    warnings: list[Problem] | None = None,
) -> tuple[list[Problem], set[int]]:
    name = _name_of(path, name)
    problems: list[Problem] = []
    more = 0
    duplicates = _Duplicates(name)
    seq = 0
    odd = _Implausible() if warnings is not None else None
    for item in _rows(path, sections, name, odd):
        if type(item) is tuple:
            duplicates.add(seq, item)  # type: ignore[arg-type]
            if keep is not None:
                keep.append(Reading(item[2], item[3], item[4], item[5], item[6], item[7],
                                    item[8]))
            seq += 1
        elif len(problems) < MAX_PROBLEMS:
            problems.append(item)  # type: ignore[arg-type]
        else:
            more += 1
    found, repeats = duplicates.finish(repeats=keep is not None)
    if odd is not None:
        warnings.extend(odd.warnings(name))  # type: ignore[union-attr]
    problems = sorted([*problems, *found], key=lambda p: p.row or 0)
    if len(problems) > MAX_PROBLEMS:
        more += len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS]
    if more:
        problems.append(Problem(f"{more} more problem(s) not listed; fix the ones above and "
                                "check the file again", file=name))
    return problems, repeats


def check_readings(
    path: str | os.PathLike[str] | IO[bytes],
    sections: Collection[str] | Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    warnings: list[Problem] | None = None,
) -> list[Problem]:
    """Every problem of one readings file (empty when it is valid), in row order.

    Streams the file; the duplicate check keeps its keys in a temporary on-disk database,
    so memory stays flat. At most :data:`MAX_PROBLEMS` problems are listed, then counted.
    Pass a list as ``warnings`` to have the file's implausible values (a valid value far
    above anything measured in surface water, see :func:`plausible_tops`) appended to it,
    in row order: at most :data:`MAX_IMPLAUSIBLE`, then a count.

    >>> import io
    >>> bad = "section,sampled_at,parameter,value\\nzhuting,2023-01-09,tp,ND\\n"
    >>> [str(p) for p in check_readings(io.BytesIO(bad.encode()), name="r.csv")]
    ["r.csv:2:value: 'ND' has no detection limit; write <DL with the limit, e.g. <0.01"]
    """
    return _gather(path, sections, name, None, warnings)[0]


def load_readings(
    path: str | os.PathLike[str] | IO[bytes],
    sections: Collection[str] | Mapping[str, str] | None = None,
    *,
    name: str | None = None,
    warnings: list[Problem] | None = None,
) -> list[Reading]:
    """All readings of one file, validated; raises ValidationFailed listing every problem.

    Identical repeats of a sample are collapsed to the first; a repeat with a different
    value is a problem. For files too large to hold in memory, import them into the store
    (:meth:`ecocomp.store.ReadingStore.import_file`) or stream with :func:`read_readings`.
    ``warnings``: as for :func:`check_readings`.

    >>> import io
    >>> data = "断面,监测时间,氨氮,总磷(mg/L)\\nzhuting,2023/1/9 8:00,0.15,<0.01\\n"
    >>> [(r.parameter, r.value, r.below_dl) for r in load_readings(io.BytesIO(data.encode()))]
    [('nh3n', Decimal('0.15'), False), ('tp', Decimal('0.01'), True)]
    """
    readings: list[Reading] = []
    problems, repeats = _gather(path, sections, name, readings, warnings)
    if problems:
        raise ValidationFailed(problems, what=_name_of(path, name))
    if repeats:
        readings = [r for i, r in enumerate(readings) if i not in repeats]
    return readings
