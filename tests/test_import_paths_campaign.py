"""Issue 12's campaign: every way into the readings store agrees, on files nobody wrote by hand.

Hypothesis writes whole readings files — long or wide, UTF-8, UTF-8 with BOM or GB18030,
English or Chinese headers, codes or Chinese names for sections and parameters, values
written every way the parser accepts (``0.050``, ``.5``, ``5.``, ``1e-3``, ``＜0.01``,
full-width digits, spaces, ``-0``, units to convert), flags and sources in English and
Chinese, times in every accepted format and offset, CRLF or LF, with or without a final
line break, quoted cells, comment lines, blank rows, trailing empty columns, now and then a
bad cell; now and then the same rows as an Excel workbook — and imports sequences of them
(repeats within and across files, re-imports, corrections, files changed under one name,
``forget``) into fresh stores by each of these ways:

``columns``              import_file, the columnar reader (pyarrow) and the compiled insert;
``columns-executemany``  the same with ``executemany`` instead of the compiled insert;
``columns-small``        the columnar reader in blocks of a few lines (sums merged across them);
``rows``                 import_file with the columnar reader off: the row parser, directly;
``rows-small``           the same in batches of two readings, the sums flushed at each group;
``staging``              the staging table and its one ``INSERT … SELECT`` (``_write_fresh``);
``general``              the staging table checked in full (``_repeats``, ``_write``).

Each of these ways must return the same ``ImportResult`` (or the same file:row:field
messages) and leave the same stored state (readings, monthly sums, imports). An oracle
written here from the files' meaning (not from their text) says what must be stored, what
each import counts, which imports are refused, and what ``aggregates()`` and
``daily_means()`` return; the store's export must import again as the same readings.
"""

from __future__ import annotations

import io
import os
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_import_paths import NAMES, state, sums_agree_with_sql

import ecocomp.store as store_module
from ecocomp import columnar
from ecocomp.errors import ValidationFailed
from ecocomp.periods import Period
from ecocomp.store import ImportResult, ReadingStore

WAYS = ("columns", "columns-executemany", "columns-small", "rows", "rows-small", "staging",
        "general")


def imported(store: ReadingStore, path: Path, way: str, correction: bool,
             monkeypatch: pytest.MonkeyPatch) -> Any:
    """One import by one way: its result (the time of the import left out) or its messages."""
    with monkeypatch.context() as m:
        if way in ("staging", "general"):
            m.setattr(store_module, "_COLUMNAR", False)
            m.setattr(ReadingStore, "_write_direct", lambda *args, **kwargs: None)
            if way == "general":
                m.setattr(ReadingStore, "_write_fresh", lambda *args, **kwargs: None)
        else:
            m.setattr(store_module, "_COLUMNAR", way.startswith("columns"))
            m.setattr(store_module, "_COLUMNAR_MIN_BYTES", 0)  # small files too
            if way == "columns-executemany":
                m.setattr(store, "_native", None)
            if way.endswith("-small"):  # many blocks, batches and flushes of the sums
                m.setattr(columnar, "BLOCK_BYTES", 96)
                m.setattr(store_module, "_BATCH", 2)
                m.setattr(store_module, "_MONTHLY_HELD", 1)
        try:
            result = store.import_file(path, sections=NAMES, correction=correction)
        except ValidationFailed as exc:
            return [str(p) for p in exc.problems]
    return attrs.evolve(result, corrected=tuple(
        attrs.evolve(c, imported_at="") for c in result.corrected))


# --------------------------------------------------------------------------- the files' meaning

@attrs.frozen
class Param:
    """A parameter as a file may name it: long cell and unit, wide header, and what it is."""

    long: str
    unit: str
    wide: str
    code: str
    factor: Decimal
    kind: str  # amount | signed | ph


PARAMS = (
    Param("tp", "", "tp", "tp", Decimal(1), "amount"),
    Param("总磷", "mg/L", "总磷(mg/L)", "tp", Decimal(1), "amount"),
    Param("TP", "µg/L", "TP(µg/L)", "tp", Decimal("0.001"), "amount"),
    Param("氨氮", "", "氨氮(NH3-N)", "nh3n", Decimal(1), "amount"),
    Param("cu", "µg/L", "铜(µg/L)", "cu", Decimal("0.001"), "amount"),
    Param("temp", "℃", "水温(℃)", "temp", Decimal(1), "signed"),
    Param("pH", "", "pH", "ph", Decimal(1), "ph"),
    Param("流量", "m³/s", "流量(m³/s)", "flow", Decimal(1), "amount"),
    Param("flow", "", "flow", "flow", Decimal(1), "amount"),
    Param("sd", "cm", "透明度(cm)", "sd", Decimal("0.01"), "amount"),
)

#: Sampling times (China Standard Time); near month and year ends, so an offset moves them.
MOMENTS = (
    datetime(2023, 1, 9), datetime(2023, 1, 9, 8), datetime(2023, 1, 31, 23, 30),
    datetime(2023, 2, 1), datetime(2023, 2, 28, 12, 34, 56), datetime(2023, 3, 1, 7, 59),
    datetime(2022, 12, 31, 20), datetime(2023, 1, 9, 8, 0, 0, 500000),
)


def time_texts(moment: datetime) -> list[str]:
    """Every way a file may write ``moment`` (naive = CST; offsets converted)."""
    texts = [moment.strftime("%Y-%m-%d %H:%M:%S"), moment.strftime("%Y/%m/%d %H:%M:%S")]
    micro = f".{moment.microsecond:06d}" if moment.microsecond else ""
    texts.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + (micro.rstrip("0") or micro))
    texts.append(moment.strftime("%Y-%m-%dT%H:%M:%S") + micro + "+08:00")
    utc = moment - timedelta(hours=8)
    texts.append(utc.strftime("%Y-%m-%dT%H:%M:%S") + micro + "Z")
    texts.append((moment - timedelta(hours=12)).strftime("%Y-%m-%d %H:%M:%S") + micro + "-04:00")
    if micro:
        return texts[2:]
    texts[:2] = [t for t in texts[:2] if not t.endswith(":00") or moment.second]
    if not moment.second:
        texts += [moment.strftime("%Y-%m-%dT%H:%M"), moment.strftime("%Y-%m-%d %H:%M"),
                  f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:{moment.minute:02d}",
                  utc.strftime("%Y-%m-%dT%H:%MZ")]
    if moment.second and not micro:
        texts.append(f"{moment.year}/{moment.month}/{moment.day} {moment.hour}:"
                     f"{moment.minute:02d}:{moment.second:02d}")
    if moment == datetime(moment.year, moment.month, moment.day):
        texts += [moment.strftime("%Y-%m-%d"), f"{moment.year}/{moment.month}/{moment.day}"]
    return texts


SECTION_TEXTS = {code: [code, name, f" {code}", f"{name} ", code.upper()]
                 for code, name in NAMES.items()}
SOURCE_TEXTS = {"manual": ["", "manual", "手工", "人工", "Manual", " manual"],
                "automatic": ["automatic", "自动", "自动站", "AUTOMATIC"]}
FLAG_TEXTS = {"": ["", "有效", "valid"], "suspect": ["suspect", "可疑", "Suspect "],
              "invalid": ["invalid", "无效"]}
#: Cells a file must be refused for, whatever the parameter.
BAD_VALUES = ("ND", "0.15①", "abc", '"1,5"', "0.025L", "NaN", "1e400", "<", "0.1.2",
              "1e-30")
FULL_WIDTH = str.maketrans("0123456789.<", "０１２３４５６７８９．＜")


@attrs.frozen
class Cell:
    """One value as written, and what it means in the parameter's canonical unit."""

    text: str
    value: Decimal | None  # None: the cell is bad
    below: bool = False


@st.composite
def cells(draw: st.DrawFn, param: Param, *, bad: bool) -> Cell:
    """A value cell for ``param``: written any accepted way, or (when ``bad``) a bad one."""
    if bad and draw(st.integers(0, 9)) == 0:
        text = draw(st.sampled_from(BAD_VALUES))
        if param.kind == "ph":
            text = draw(st.sampled_from([text, "<7", "15", "14.01"]))
        elif param.kind == "amount":
            text = draw(st.sampled_from([text, "-0.5", "<0", "<-1", "< 0.000"]))
        else:
            text = draw(st.sampled_from([text, "<4"]))
        return Cell(text, None)
    written = draw(st.one_of(
        st.sampled_from(["0.050", "0.05", "0.5", "5", "12.0", "0", "0.000", "7.1", "0.10"]),
        st.builds(lambda digits, places: Decimal(digits).scaleb(-places),
                  st.integers(0, 10**9), st.integers(0, 12)).map(lambda d: format(d, "f")),
        st.sampled_from(["1000000000", "923456789.5", "0.000000000001", "0.0000000000005",
                         "1E+27", "9999999999999999999999999999", "1E-20", "1.5E-15",
                         "0E-25", "922337203.6854775808", "0.00000000000000000001"]),
    ))
    number = Decimal(written)
    if "E" in written:  # read as the parser reads it: no exponent above zero, zero at 20
        number = number.quantize(1) if number.as_tuple().exponent > 0 else number
        number = Decimal("0E-20") if not number and number.as_tuple().exponent < -20 else number
        written = format(number, "f")
    if param.kind == "ph" and number > 14:
        number = number.scaleb(-len(str(int(number))))  # into 0..1
        written = format(number, "f")
    negative = param.kind == "signed" and number and draw(st.booleans())
    below = param.kind == "amount" and number > 0 and draw(st.integers(0, 3)) == 0
    way = draw(st.sampled_from(["plain", "plain", "exp", "EXP", "dot", "spaces", "full",
                                "minus0"]))
    text = written
    if way in ("exp", "EXP"):
        text = format(number, "E")
        text = text.lower() if way == "exp" else text
    elif way == "dot":
        if text.startswith("0.") and number:
            text = text[1:]  # .5
        elif "." not in text:
            text += "."  # 5.
    elif way == "full":
        text = text.translate(FULL_WIDTH)
    elif way == "minus0" and not number:
        text = "-" + text
    if negative:
        text = "-" + text
        number = -number
    if below:
        mark = draw(st.sampled_from(["<", "< ", "＜"]))
        text = mark + text
    if way == "spaces":
        text = f" {text} "
    value = number * param.factor  # exact: a factor is a power of ten
    if not value and value.is_signed():
        value = -value
    if value and value.adjusted() < -20:  # too small to be measured, in the stored unit too
        return Cell(text, None)
    if not value and value.as_tuple().exponent < -20:
        value = Decimal("0E-20")  # a zero keeps 20 decimals, however it was written
    return Cell(text, value, below)


@attrs.frozen
class Sample:
    section: str
    moment: datetime
    param: Param
    source: str
    flag: str
    cell: Cell

    @property
    def key(self) -> tuple[str, datetime, str, str]:
        return (self.section, self.moment, self.param.code, self.source)


@attrs.frozen
class File:
    """A generated readings file: its bytes and, for each row, what it holds."""

    data: bytes
    samples: tuple[Sample, ...]  # in file order (a wide row's readings column by column)
    bad: bool  # holds a bad cell: must be refused
    empty: bool  # a wide file none of whose rows holds a value: refused too
    suffix: str = ".csv"


def _header_names(chinese: bool) -> dict[str, str]:
    if not chinese:
        return {f: f for f in ("section", "sampled_at", "parameter", "value", "unit",
                               "source", "flag")}
    return {"section": "断面名称", "sampled_at": "监测时间", "parameter": "监测项目",
            "value": "监测值", "unit": "单位", "source": "数据来源", "flag": "标记"}


def _quoted(text: str, quote: bool) -> str:
    return f'"{text}"' if quote and '"' not in text else text


@st.composite
def files(draw: st.DrawFn, *, bad: bool = True) -> File:
    """A whole readings file, long or wide, in any accepted encoding and line layout."""
    wide = draw(st.booleans())
    chinese = draw(st.booleans())
    names = _header_names(chinese)
    with_source = draw(st.booleans())
    with_flag = draw(st.booleans())
    quote = draw(st.integers(0, 4)) == 0
    samples: list[Sample] = []
    has_bad = False
    lines: list[list[str]] = []
    sections = st.sampled_from(sorted(NAMES))
    moments = st.sampled_from(MOMENTS)

    def common(section: str, moment: datetime, source: str, flag: str) -> dict[str, str]:
        return {
            "section": draw(st.sampled_from(SECTION_TEXTS[section])),
            "sampled_at": draw(st.sampled_from(time_texts(moment))),
            "source": draw(st.sampled_from(SOURCE_TEXTS[source])),
            "flag": draw(st.sampled_from(FLAG_TEXTS[flag])),
        }

    sources = st.sampled_from(["manual", "automatic"]) if with_source else st.just("manual")
    flags = st.sampled_from(["", "", "suspect", "invalid"]) if with_flag else st.just("")
    if wide:
        columns = draw(st.lists(st.sampled_from(PARAMS), min_size=1, max_size=4,
                                unique_by=lambda p: p.code))
        order = ["section", "sampled_at", *(f"p{i}" for i in range(len(columns)))]
        order += (["source"] if with_source else []) + (["flag"] if with_flag else [])
        order = draw(st.permutations(order))
        header = [names[f] if f in names else columns[int(f[1:])].wide for f in order]
        for _ in range(draw(st.integers(1, 6))):
            section, moment = draw(sections), draw(moments)
            source, flag = draw(sources), draw(flags)
            cell_of = common(section, moment, source, flag)
            for i, param in enumerate(columns):
                if draw(st.integers(0, 3)) == 0:
                    cell_of[f"p{i}"] = draw(st.sampled_from(["", "", "  "]))
                    continue
                cell = draw(cells(param, bad=bad))
                has_bad |= cell.value is None
                cell_of[f"p{i}"] = cell.text
                samples.append(Sample(section, moment, param, source, flag, cell))
            lines.append([cell_of[f] for f in order])
    else:
        with_unit = draw(st.booleans())
        fields = ["section", "sampled_at", "parameter", "value"]
        fields += (["unit"] if with_unit else []) + (["source"] if with_source else [])
        fields += ["flag"] if with_flag else []
        order = draw(st.permutations(fields))
        header = [names[f] for f in order]
        params = st.sampled_from(PARAMS if with_unit else [p for p in PARAMS if not p.unit])
        for _ in range(draw(st.integers(1, 12))):
            section, moment, param = draw(sections), draw(moments), draw(params)
            source, flag = draw(sources), draw(flags)
            cell = draw(cells(param, bad=bad))
            has_bad |= cell.value is None
            cell_of = common(section, moment, source, flag)
            cell_of.update(parameter=param.long, value=cell.text, unit=param.unit)
            samples.append(Sample(section, moment, param, source, flag, cell))
            lines.append([cell_of[f] for f in order])
    if draw(st.integers(0, 5)) == 0:  # a row of empty cells Excel leaves behind
        lines.insert(draw(st.integers(0, len(lines))), [""] * len(header))
    if draw(st.integers(0, 5)) == 0:
        return File(workbook(draw, header, lines), tuple(samples), has_bad,
                    wide and not samples, ".xlsx")
    trailing = draw(st.integers(0, 4)) == 0  # empty columns Excel leaves at the right
    rows = [[*header, "", ""] if trailing else header]
    rows += [[_quoted(c, quote and draw(st.booleans())) for c in line]
             + (["", ""] if trailing else []) for line in lines]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join(",".join(row) for row in rows)
    if draw(st.booleans()):
        text += newline
    if draw(st.integers(0, 4)) == 0:
        text = "# 2023年 水质监测数据" + newline + text
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    return File(text.encode(encoding), tuple(samples), has_bad, wide and not samples)


def workbook(draw: st.DrawFn, header: list[str], lines: list[list[str]]) -> bytes:
    """The rows as an Excel workbook: text cells, with numbers and date-times as Excel holds
    them where they read back as the same text (``0.05``, ``12``, 2023-01-09 08:00)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = draw(st.sampled_from(["Sheet1", "3月"]))
    if draw(st.booleans()):
        sheet.append(["# 2023年 水质监测数据"])
    sheet.append(header)
    for line in lines:
        row: list[Any] = []
        for text in line:
            cell: Any = text or None
            if text and draw(st.integers(0, 2)) == 0:
                if text.isdigit() and len(text) < 16:
                    cell = int(text)
                elif re.fullmatch(r"[0-9]+\.[0-9]*[1-9]", text) and repr(float(text)) == text:
                    cell = float(text)
                elif len(text) == 19 and text[4] == "-" and text[10] == " ":
                    cell = datetime.fromisoformat(text)
            row.append(cell)
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- the oracle

@attrs.define
class Oracle:
    """What the store must hold after each import, worked out from the files' meaning."""

    current: dict[tuple[str, datetime, str, str], Sample] = attrs.Factory(dict)
    superseded: dict[tuple[str, datetime, str, str], list[tuple[Decimal, bool, str]]] = \
        attrs.Factory(lambda: defaultdict(list))
    digests: dict[bytes, tuple[int, int]] = attrs.Factory(dict)  # bytes → (rows, skipped)

    @staticmethod
    def same(a: Sample, b: Sample) -> bool:
        return (a.cell.value, a.cell.below, a.flag) == (b.cell.value, b.cell.below, b.flag)

    def apply(self, file: File, correction: bool) -> tuple[int, int, int, int, int] | None:
        """(rows, inserted, unchanged, skipped, corrected), or None: refused."""
        if file.data in self.digests:
            rows, skipped = self.digests[file.data]
            return rows, 0, rows - skipped, skipped, 0
        if file.bad or file.empty:
            return None
        first: dict[tuple[str, datetime, str, str], Sample] = {}
        repeats = 0
        for s in file.samples:
            seen = first.get(s.key)
            if seen is None:
                first[s.key] = s
            elif self.same(seen, s):
                repeats += 1
            else:
                return None
        inserted = unchanged = restated = 0
        corrections = []
        for key, s in first.items():
            stored = self.current.get(key)
            if stored is None:
                inserted += 1
            elif self.same(stored, s):
                unchanged += 1
            elif correction:
                corrections.append((key, s))
            elif (s.cell.value, s.cell.below, s.flag) in self.superseded[key]:
                restated += 1
            else:
                return None
        for key, s in first.items():
            if key not in self.current:
                self.current[key] = s
        for key, s in corrections:
            old = self.current[key]
            self.superseded[key].append((old.cell.value, old.cell.below, old.flag))
            self.current[key] = s
        self.digests[file.data] = (len(file.samples), repeats + restated)
        return len(file.samples), inserted, unchanged, repeats + restated, len(corrections)

    def readings(self) -> list[tuple[Any, ...]]:
        return sorted((s.section, s.moment, s.param.code, s.source, s.cell.value.as_tuple(),
                       s.cell.below, s.flag) for s in self.current.values())

    def aggregates(self, year: int) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
        groups: dict[tuple[str, str, str, str], list[Any]] = {}
        with localcontext() as ctx:
            ctx.prec = 100
            for s in self.current.values():
                if s.moment.year != year:
                    continue
                key = (s.section, s.param.code, f"{s.moment:%Y-%m}", s.source)
                g = groups.setdefault(key, [0, Decimal(0), 0, 0, 0])
                g[3] += s.flag == "suspect"
                if s.flag == "invalid":
                    g[4] += 1
                    continue
                g[0] += 1
                g[1] += s.cell.value / 2 if s.cell.below else s.cell.value
                g[2] += s.cell.below
        return {k: (count, str(total), *rest) for k, (count, total, *rest) in groups.items()}

    def daily_means(self, code: str) -> dict[str, dict[date, Decimal]]:
        days: dict[str, dict[date, list[Decimal]]] = {}
        with localcontext() as ctx:
            ctx.prec = 100
            for s in self.current.values():
                if s.param.code == code and s.flag != "invalid":
                    value = s.cell.value / 2 if s.cell.below else s.cell.value
                    days.setdefault(s.section, {}).setdefault(s.moment.date(), []).append(value)
            sums = {section: {day: (sum(v, Decimal(0)), len(v)) for day, v in by_day.items()}
                    for section, by_day in days.items()}
            ctx.prec = 50  # a quotient that does not terminate: 50 digits
            return {section: {day: str(total / count) for day, (total, count) in by_day.items()}
                    for section, by_day in sums.items()}


def stored(store: ReadingStore) -> list[tuple[Any, ...]]:
    return sorted((r.section, r.sampled_at, r.parameter, r.source, r.value.as_tuple(),
                   r.below_dl, r.flag) for r in store.readings())


def aggregates(store: ReadingStore, period: int | Period,
               sections: list[str] | None = None,
               ) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    """The store's monthly sums, totals as text: the digits count, not only the number."""
    if isinstance(period, int):
        period = Period(period)
    return {(a.section, a.parameter, str(a.month), a.source):
            (a.count, str(a.total), a.nondetects, a.suspect, a.invalid)
            for a in store.aggregates(period, sections)}


def means(store: ReadingStore, parameter: str, period: Period | None = None,
          sections: list[str] | None = None) -> dict[str, dict[date, str]]:
    """Daily means as text: the digits count, not only the number."""
    return {section: {day: str(mean) for day, mean in days.items()}
            for section, days in store.daily_means(parameter, period, sections).items()}


# --------------------------------------------------------------------------- the properties

def check_sequence(folder: Path, steps: list[tuple[File, bool]],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Import ``steps`` (file, as a correction?) in order by every way; all must agree, with
    each other and with the oracle."""
    paths = []
    for i, (file, _correction) in enumerate(steps):
        # the same bytes again are the same file imported again (a re-import)
        earlier = next((p for p, (f, _c) in zip(paths, steps, strict=False)
                        if f.data == file.data), None)
        if earlier is None:
            earlier = folder / f"f{i}{file.suffix}"
            earlier.write_bytes(file.data)
        paths.append(earlier)
    outcomes, states = {}, {}
    for way in WAYS:
        with ReadingStore.open(":memory:") as s:
            outcomes[way] = [imported(s, path, way, c, monkeypatch)
                             for path, (_f, c) in zip(paths, steps, strict=True)]
            states[way] = state(s)
            assert sums_agree_with_sql(s), way
            if way == WAYS[0]:
                got = (stored(s), aggregates(s, 2022), aggregates(s, 2023),
                       means(s, "flow"), means(s, "tp"))
                filtered = (aggregates(s, Period(2023, 1), ["zhuting"]),
                            means(s, "flow", Period(2023, 2), ["pingtang", "zhuting"]))
                exported = folder / "export.csv"
                if s.export_csv(exported):  # import → export → import gives them back
                    with ReadingStore.open(":memory:") as again:
                        again.import_file(exported)
                        assert stored(again) == got[0]
    for way in WAYS[1:]:
        assert outcomes[way] == outcomes[WAYS[0]], (way, outcomes[way], outcomes[WAYS[0]])
        assert states[way] == states[WAYS[0]], way
    oracle = Oracle()
    for (file, correction), outcome in zip(steps, outcomes[WAYS[0]], strict=True):
        want = oracle.apply(file, correction)
        if want is None:
            assert isinstance(outcome, list) and outcome, outcome
        else:
            assert isinstance(outcome, ImportResult), outcome
            assert (outcome.rows, outcome.inserted, outcome.unchanged, outcome.skipped,
                    len(outcome.corrected)) == want
    assert got == (oracle.readings(), oracle.aggregates(2022), oracle.aggregates(2023),
                   oracle.daily_means("flow"), oracle.daily_means("tp"))
    assert filtered == (
        {k: v for k, v in got[2].items() if k[0] == "zhuting" and k[2] == "2023-01"},
        {section: {day: mean for day, mean in days.items() if f"{day:%Y-%m}" == "2023-02"}
         for section, days in got[3].items() if section in ("pingtang", "zhuting")
         and any(f"{day:%Y-%m}" == "2023-02" for day in days)})


#: Examples per property: modest, so the file runs in seconds. For a campaign, raise them:
#: ECOCOMP_CAMPAIGN_SCALE=20 runs twenty times as many (minutes a property).
_SCALE = int(os.environ.get("ECOCOMP_CAMPAIGN_SCALE", "1"))


def _campaign(examples: int) -> Any:
    return settings(max_examples=examples * _SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@_campaign(100)
@given(file=files())
def test_any_generated_file_is_stored_and_reported_alike_by_every_way(
        tmp_path_factory, monkeypatch, file):
    check_sequence(tmp_path_factory.mktemp("one"), [(file, False)], monkeypatch)


@_campaign(50)
@given(first=files(bad=False), later=st.lists(st.tuples(files(), st.booleans()), min_size=1,
                                              max_size=2),
       again=st.booleans())
def test_sequences_of_files_repeats_reimports_and_corrections_agree_every_way(
        tmp_path_factory, monkeypatch, first, later, again):
    steps = [(first, False), *later] + ([(first, False)] if again else [])
    distinct = {f.data for f, _c in [(first, False), *later]}
    assume(len(distinct) == 1 + len(later))  # a re-import is the explicit one at the end
    check_sequence(tmp_path_factory.mktemp("seq"), steps, monkeypatch)


def recomputed(store: ReadingStore, year: int) -> dict[tuple[str, str, str, str], tuple[Any, ...]]:
    """The monthly sums of the store's current readings, added up here with Decimal."""
    groups: dict[tuple[str, str, str, str], list[Any]] = {}
    with localcontext() as ctx:
        ctx.prec = 100
        for r in store.readings(period=Period(year)):
            g = groups.setdefault((r.section, r.parameter, f"{r.sampled_at:%Y-%m}", r.source),
                                  [0, Decimal(0), 0, 0, 0])
            g[3] += r.flag == "suspect"
            if r.flag == "invalid":
                g[4] += 1
                continue
            g[0] += 1
            g[1] += r.value / 2 if r.below_dl else r.value
            g[2] += r.below_dl
    return {k: (count, str(total), *rest) for k, (count, total, *rest) in groups.items()}


_NAMES = st.sampled_from(["a.csv", "b.csv", "c.csv"])


@_campaign(40)
@given(contents=st.lists(files(bad=False), min_size=1, max_size=3),
       steps=st.lists(st.one_of(
           st.tuples(st.just("import"), _NAMES, st.integers(0, 2), st.booleans()),
           st.tuples(st.just("forget"), _NAMES)), min_size=2, max_size=6))
def test_files_changed_forgotten_and_imported_again_agree_every_way(
        tmp_path_factory, monkeypatch, contents, steps):
    """A name imported with one content, then another; corrections applied in name order;
    ``forget``; the same bytes again: every way stores and reports the same."""
    folder = tmp_path_factory.mktemp("names")
    outcomes, states = {}, {}
    for way in WAYS:
        results: list[Any] = []
        with ReadingStore.open(":memory:") as s:
            for step in steps:
                path = folder / step[1]
                if step[0] == "forget":
                    try:
                        results.append(s.forget(str(path)))
                    except store_module.StoreError as exc:
                        results.append(str(exc))
                    continue
                path.write_bytes(contents[step[2] % len(contents)].data)
                results.append(imported(s, path, way, step[3], monkeypatch))
            outcomes[way], states[way] = results, state(s)
            assert sums_agree_with_sql(s), way
            for year in (2022, 2023):
                assert aggregates(s, year) == recomputed(s, year), way
    for way in WAYS[1:]:
        assert outcomes[way] == outcomes[WAYS[0]], (way, outcomes[way], outcomes[WAYS[0]])
        assert states[way] == states[WAYS[0]], way


# --------------------------------------------------------------------------- found by the campaign

def every_way(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The one outcome of importing ``path`` into a fresh store by each way (asserted alike)."""
    outcomes = []
    for way in WAYS:
        with ReadingStore.open(":memory:") as s:
            outcomes.append((imported(s, path, way, False, monkeypatch), state(s)))
    assert all(o == outcomes[0] for o in outcomes[1:]), outcomes
    return outcomes[0][0]


@pytest.mark.parametrize(("text", "where"), [
    ("section,sampled_at,parameter,value,unit\n"
     "zhuting,2023-01-09,tp,0.00000000000000000001,µg/L\n"  # 1E-20 µg/L is 1E-23 mg/L
     "zhuting,2023-01-10,tp,0.0000000000000000001,µg/L\n"  # the parser's plain fast path
     "zhuting,2023-01-11,sd,1E-20,cm\n"
     "zhuting,2023-01-12,tp,<0.00000000000000000001,µg/L\n",
     ["2:value", "3:value", "4:value", "5:value"]),
    ("断面名称,监测时间,TP(µg/L),透明度(cm)\n朱亭镇,2023-01-09,0.00000000000000000001,1E-20\n",
     ["2:TP(µg/L)", "2:透明度(cm)"]),
])
def test_a_value_a_unit_carries_below_1e_20_is_refused_as_one_written_below_it(
        tmp_path, monkeypatch, text, where):
    """Stored, 1E-23 mg/L could not be exported and imported again (refused as too small):
    the bound holds in the parameter's unit too, as the upper bound does."""
    path = tmp_path / "tiny.csv"
    path.write_text(text, encoding="utf-8")
    messages = every_way(path, monkeypatch)
    assert [m.split(": ", 1)[0] for m in messages] == [f"{path}:{w}" for w in where]
    assert all("in the unit of" in m and "too small to be a measured value (below 1E-20)" in m
               for m in messages), messages


def test_a_zero_a_unit_gives_more_than_20_decimals_keeps_20_and_exports_as_stored(
        tmp_path, monkeypatch):
    path = tmp_path / "zero.csv"
    path.write_text("section,sampled_at,parameter,value,unit\n"
                    "zhuting,2023-01-09,tp,0.00000000000000000000,µg/L\n"
                    "zhuting,2023-01-10,sd,0E-20,cm\n", encoding="utf-8")
    result = every_way(path, monkeypatch)
    assert result.inserted == 2
    with ReadingStore.open(":memory:") as s, ReadingStore.open(":memory:") as again:
        s.import_file(path)
        assert [str(r.value) for r in s.readings()] == ["0E-20", "0E-20"]
        s.export_csv(tmp_path / "export.csv")
        again.import_file(tmp_path / "export.csv")
        assert stored(again) == stored(s)
