"""The compiled packer (``bulk_insert.pack``, ``ecocomp/_bulkc.c``) against a Python one.

A block of readings becomes parts of at most ``max_readings`` readings of one (section,
parameter, source, month), its readings as JSON text that SQLite's ``json_each`` unpacks
(each time without the ``YYYY-MM-`` its month says), with their monthly sums. Whatever
columns it is given — dictionary values with and without indices, pyarrow strings and
int64s with nulls, slices at any offset, row numbers — the parts must be exactly the
reference's below; None exactly when a group holds one sampled_at twice; the JSON, parsed
by Python or unpacked by SQLite, must give back the block's rows (:func:`bulk_insert.rows`)
value for value and type for type; and the parts' sums, added up by month, must be the
block's monthly sums as the store's SQL (``store._MONTHLY_SELECT``) and the columnar reader
(``Batch.monthly``) make them.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecocomp import bulk_insert, columnar
from ecocomp.columnar import _indexed, _int64, _strings
from ecocomp.store import _MONTHLY_GROUP, _MONTHLY_SELECT, _SPLIT, SCALE, _exact_parts

pytestmark = pytest.mark.skipif(not bulk_insert.can_pack(), reason="ecocomp._bulkc not built")

DATA = Path(__file__).parent / "data" / "readings"
#: the wide files name their sections in Chinese
NAMES = {"zhuting": "朱亭镇", "zhangshugang": "樟树港"}

# --------------------------------------------------------------------------- reference

#: json.dumps's short escapes, which the packer writes as \u00xx like every byte below 0x20
_SHORT = {"b": "\\u0008", "f": "\\u000c", "n": "\\u000a", "r": "\\u000d", "t": "\\u0009"}


def _json(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    # every backslash of json.dumps's output starts an escape: pairs taken left to right
    return re.sub(r"\\(.)", lambda m: _SHORT.get(m[1], m[0]), text)


def _time(at: str) -> str:
    """sampled_at without the ``YYYY-MM-`` its part's month says; ValueError if it has no
    such 8 characters or nothing after them."""
    if len(at) > 8 and at[7] == "-":
        return at[8:]
    raise ValueError(f"the sampled_at column holds {at!r}")


_INT64 = range(-(2**63), 2**63)


def _sums(readings: list[tuple[Any, ...]], split: int) -> tuple[Any, ...]:
    """The monthly sums of ``readings`` (time, value, below_dl, flag, eff_units, eff_exp,
    row), added in their order with a 64-bit check after each reading (the packer's)."""
    valid = inexact = nondetects = suspect = invalid = 0
    high: int | None = None
    low: int | None = None
    exponent: int | None = None
    for _at, _value, below, flag, units, exp, _row in readings:
        suspect += flag == "suspect"
        invalid += flag == "invalid"
        if flag == "invalid":
            continue
        valid += 1
        nondetects += below != 0
        exponent = exp if exponent is None else min(exponent, exp)
        if units is None:
            inexact += 1
            continue
        quotient = abs(units) // split * (1 if units >= 0 else -1)  # toward zero, as C's /
        high = (high or 0) + quotient
        low = (low or 0) + units - quotient * split  # the sign of units, as C's %
        if high not in _INT64 or low not in _INT64:
            raise OverflowError("the eff_units column's sums overflow 64 bits")
    return valid, high, low, inexact, exponent, nondetects, suspect, invalid


def reference(rows: Iterable[tuple[Any, ...]], most: int = 64,
              split: int = 10**10) -> list[tuple[Any, ...]] | None:
    """What ``pack`` gives for these rows (section, sampled_at, parameter, source, value,
    below_dl, flag, eff_units, eff_exp, row), in Python (or what it raises)."""
    groups: dict[tuple[str, str, str, str], list[tuple[Any, ...]]] = {}
    rows = list(rows)
    for row in rows:
        _time(row[1])  # every time checked before anything else
    for sec, at, par, src, value, below, flag, units, exp, row in rows:
        groups.setdefault((sec, par, src, at[:7]), []).append(
            (at, value, below, flag, units, exp, row))
    parts = []
    repeated = False
    for key in sorted(groups, key=lambda k: tuple(s.encode() for s in k)):
        readings = sorted(groups[key], key=lambda r: r[0].encode())  # stable: rows in order
        times = [r[0] for r in readings]
        repeated = repeated or len(set(times)) < len(times)
        cuts = -(-len(readings) // most)
        size, big = divmod(len(readings), cuts)
        start = 0
        for k in range(cuts):
            chunk = readings[start:start + size + (k < big)]
            start += len(chunk)
            parts.append((*key, chunk[0][0], chunk[-1][0], len(chunk),
                          _json([[_time(r[0]), *r[1:]] for r in chunk]),
                          *_sums(chunk, split)))
    return None if repeated else parts


def by_month(parts: list[tuple[Any, ...]]) -> dict[tuple[str, ...], tuple[Any, ...]]:
    """The parts' sums added up by (section, month, parameter, source), the key and the
    columns of ``readings_monthly``."""
    total: dict[tuple[str, ...], tuple[Any, ...]] = {}

    def add(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else a + b

    def least(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else min(a, b)

    for sec, par, src, month, *_, valid, high, low, inexact, exp, nd, sus, inv in parts:
        key = (sec, month, par, src)
        was = total.get(key, (0, None, None, 0, None, 0, 0, 0))
        total[key] = (was[0] + valid, add(was[1], high), add(was[2], low), was[3] + inexact,
                      least(was[4], exp), was[5] + nd, was[6] + sus, was[7] + inv)
    return total


def monthly_in_sqlite(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[str, ...],
                                                                tuple[Any, ...]]:
    """The store's own ``_MONTHLY_SELECT`` over the rows in a table of its columns. below_dl
    goes in as 0 or 1, as the store's check keeps it (the SQL counts ``below_dl = 1``, the
    packer any non-zero: the same on what the store holds)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE readings (section, sampled_at, parameter, source, value, "
                 "below_dl, flag, eff_units, eff_exp, row, superseded_by)")
    conn.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                     [(*r[:5], int(r[5] != 0), *r[6:]) for r in rows])
    found = {tuple(r[:4]): tuple(r[4:])
             for r in conn.execute(_MONTHLY_SELECT + _MONTHLY_GROUP)}
    conn.close()
    return found


def unpacked(parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The readings of ``parts`` as Python's json reads them back, in the columns' order."""
    out = []
    for sec, par, src, month, _first, _last, _count, data, *_sums in parts:
        for at, value, below, flag, units, exp, row in json.loads(data):
            out.append((sec, f"{month}-{at}", par, src, value, below, flag, units, exp, row))
    return out


def typed(rows: Iterable[tuple[Any, ...]]) -> Counter[tuple[tuple[str, Any], ...]]:
    """The rows with each value's type (1 and True, or 1 and 1.0, are not the same here)."""
    return Counter(tuple((type(v).__name__, v) for v in row) for row in rows)


def in_sqlite(parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The readings of ``parts`` as SQLite's json_each unpacks them (what the store's view
    does)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (section TEXT, parameter TEXT, source TEXT, month TEXT, "
                 "first_at TEXT, last_at TEXT, count INTEGER, data TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [p[:8] for p in parts])
    found = conn.execute(  # the store's view: the month and the time of the month
        "SELECT t.section, t.month || '-' || json_extract(j.value, '$[0]'), t.parameter, "
        "t.source, "
        "json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), "
        "json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), "
        "json_extract(j.value, '$[5]'), json_extract(j.value, '$[6]') "
        "FROM t, json_each(t.data) j").fetchall()
    counts = conn.execute("SELECT sum(count), sum(json_array_length(data)) FROM t").fetchone()
    assert counts[0] == counts[1] or not parts
    conn.close()
    return found


def check(columns: tuple[Any, ...], n: int, most: int = 64, split: int = _SPLIT) -> Any:
    """pack equals the reference (or raises what it raises), its parts give back the rows,
    and their sums are the block's monthly sums."""
    rows = list(bulk_insert.rows(columns, n))
    try:
        expected = reference(rows, most, split)
    except (ValueError, OverflowError) as exc:
        with pytest.raises(type(exc), match=r"the sampled_at column|eff_units column's sums"):
            bulk_insert.pack(columns, n, max_readings=most, split=split)
        return None
    parts = bulk_insert.pack(columns, n, max_readings=most, split=split)
    assert parts == expected
    if parts is not None:
        assert typed(unpacked(parts)) == typed(rows)
        for part in parts:
            times = [f"{part[3]}-{r[0]}" for r in json.loads(part[7])]
            assert part[4:7] == (times[0], times[-1], len(times))
            assert 1 <= part[6] <= most
        # SQLite's json_extract ends a text at a NUL (\u0000): none comes from the parser
        if not any("\x00" in r[k] for r in rows for k in (1, 4, 6)):
            assert typed(in_sqlite(parts)) == typed(rows)
            if split == _SPLIT:
                assert by_month(parts) == monthly_in_sqlite(rows)
    return parts


# ---------------------------------------------------------------------- random blocks

#: group keys that sort differently by bytes than by length or case, and non-ASCII
_KEYS = st.sampled_from(["a", "B", "ab", "a\x00", "", "é", "湘江", "\U0001f600", "z"])
#: any text
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
#: times: ISO ones of several months and odd ones (non-ASCII within the month, any text
#: after it, a day in one character)
_TIMES = st.sampled_from([
    "2021-01-05T08:00:00", "2021-01-05T09:00:00", "2021-01-31T23:59:59", "2021-02-01",
    "2021-02-01T00:00:00", "2021-é5-01", "2021-é5-02", "2021-01-1", "2021-01-\x00",
]) | st.builds(lambda month, rest: f"{month}-{rest}", st.sampled_from(["2021-01", "2021-é5"]),
              _TEXT.filter(bool))
#: times the packer refuses: no '-' 8th, or nothing after it
_BAD_TIMES = st.sampled_from(["2021-1", "", "2021-01", "2021-01-", "2021-01T08", "2021é01-1",
                              "\U0001f600" * 8]) | _TEXT
#: flags: the two the sums count, near misses, any text
_FLAGS = st.sampled_from(["", "suspect", "invalid", "Invalid", "invalid ", "suspec"]) | _TEXT
_INT = st.sampled_from([0, 1, -1]) | st.integers(-(2**63), 2**63 - 1)


@st.composite
def text_column(draw: Any, total: int, skip: int, texts: Any, keep: list[Any]) -> Any:
    """A text column of ``total - skip`` rows in one of the forms the store gives."""
    form = draw(st.sampled_from(["indexed", "one", "strings"]))
    if form == "one":
        return _indexed([draw(texts), *draw(st.lists(texts, max_size=2))], None)
    if form == "strings":
        array = pa.array(draw(st.lists(texts, min_size=total, max_size=total)), pa.string())
        keep.append(array)
        return _strings(array.slice(skip))
    # a dictionary, possibly with a text twice and values no row picks
    return dictionary(draw, draw(st.lists(texts, min_size=1, max_size=6)), total, skip, keep)


def dictionary(draw: Any, words: list[Any], total: int, skip: int, keep: list[Any]) -> Any:
    """A dictionary column of ``words``, ``total`` drawn picks sliced at ``skip``."""
    picks = pa.array(draw(st.lists(st.integers(0, len(words) - 1), min_size=total,
                                   max_size=total)), pa.int32())
    keep.append(picks)
    return _indexed(words, picks.slice(skip))


@st.composite
def int_column(draw: Any, total: int, skip: int, nulls: bool, keep: list[Any]) -> Any:
    """An integer column (with NULLs where ``nulls``) of ``total - skip`` rows."""
    form = draw(st.sampled_from(["indexed", "one", "int64", "range"]))
    ints = st.none() | _INT if nulls else _INT
    if form == "one":
        return _indexed([draw(ints)], None)
    if form == "range":
        return (3, draw(st.integers(-(2**40), 2**40)))
    if form == "int64":
        array = pa.array(draw(st.lists(ints, min_size=total, max_size=total)), pa.int64())
        keep.append(array)
        return _int64(array.slice(skip))
    return dictionary(draw, draw(st.lists(ints, min_size=1, max_size=4)), total, skip, keep)


@st.composite
def blocks(draw: Any) -> tuple[tuple[Any, ...], int, list[Any]]:
    """(columns, n, arrays kept alive): the ten columns of a block, each in a drawn form,
    sliced at a drawn offset; sampled_at often all distinct, often not, now and then one that
    the packer refuses."""
    n = draw(st.integers(0, 40))
    skip = draw(st.integers(0, 5))
    total = n + skip
    keep: list[Any] = []
    times_drawn = draw(st.sampled_from([_TIMES] * 4 + [_TIMES | _BAD_TIMES]))
    if draw(st.booleans()):  # every time distinct: parts for every block
        times = draw(st.lists(times_drawn, min_size=total, max_size=total, unique=True))
        array = pa.array(times, pa.string())
        keep.append(array)
        forms = [_strings(array.slice(skip))]
        if times:  # a dictionary of no values is refused, as insert refuses it
            forms.append(_indexed(times, pa.array(range(total), pa.int32()).slice(skip)))
        at = draw(st.sampled_from(forms))
    else:
        at = draw(text_column(total, skip, times_drawn, keep))
    columns = (
        draw(text_column(total, skip, _KEYS, keep)),
        at,
        draw(text_column(total, skip, _KEYS, keep)),
        draw(text_column(total, skip, _KEYS, keep)),
        draw(text_column(total, skip, _TEXT, keep)),
        draw(int_column(total, skip, False, keep)),
        draw(text_column(total, skip, _FLAGS, keep)),
        draw(int_column(total, skip, True, keep)),
        draw(int_column(total, skip, False, keep)),
        draw(int_column(total, skip, False, keep)),
    )
    return columns, n, keep


@settings(max_examples=300, deadline=None)
@given(block=blocks(), most=st.sampled_from([64, 64, 1, 2, 3, 7]),
       split=st.sampled_from([_SPLIT, _SPLIT, 1, 7, 2**63 - 1]))
def test_pack_is_the_reference_packer_for_any_columns(block, most, split):
    columns, n, _keep = block
    check(columns, n, most, split)


def test_a_time_twice_in_one_group_gives_none_and_in_two_groups_does_not():
    at = "2021-03-01T08:00:00"
    one = ["s", at, "p", "manual", "1", 0, "", 10, -1]
    same = (_indexed(["s"], None), _indexed([at], None), _indexed(["p"], None),
            _indexed(["manual"], None), _indexed(["1"], None), _indexed([0], None),
            _indexed([""], None), _indexed([10], None), _indexed([-1], None), (3, 2))
    assert bulk_insert.pack(same, 2) is None
    # the same time of another source: two parts of one reading each
    sources = pa.array([0, 1], pa.int32())
    other = (*same[:3], _indexed(["manual", "automatic"], sources), *same[4:])
    parts = bulk_insert.pack(other, 2)
    assert [p[2] for p in parts] == ["automatic", "manual"]
    assert parts[1][7] == json.dumps([[at[8:], *one[4:], 2]], separators=(",", ":"))  # row 0
    assert parts[1][8:] == (1, 0, 10, 0, -1, 0, 0, 0)  # 10 units: 10 // 10^10, 10 % 10^10
    # one dictionary holding the same text twice: still the same time
    twice = (same[0], _indexed([at, at], sources), *same[2:])
    assert bulk_insert.pack(twice, 2) is None


def test_parts_sort_by_bytes_and_readings_by_time():
    sections = ["b", "a\x00", "a", "B", "湘", "a"]
    times = ["2021-02-01T00:00:00", "2021-01-09T00:00:00", "2021-01-31T00:00:00",
             "2021-01-02T00:00:00", "2021-01-01T00:00:00", "2021-01-01T00:00:00"]
    columns = (_strings(pa.array(sections)), _strings(pa.array(times)), _indexed(["p"], None),
               _indexed(["manual"], None), _indexed(["1.5"], None), _indexed([0], None),
               _indexed([""], None), _indexed([None], None), _indexed([-1], None), (3, 2))
    parts = bulk_insert.pack(columns, 6)
    assert [(p[0], p[3], p[4], p[5], p[6]) for p in parts] == [
        ("B", "2021-01", "2021-01-02T00:00:00", "2021-01-02T00:00:00", 1),
        ("a", "2021-01", "2021-01-01T00:00:00", "2021-01-31T00:00:00", 2),
        ("a\x00", "2021-01", "2021-01-09T00:00:00", "2021-01-09T00:00:00", 1),
        ("b", "2021-02", "2021-02-01T00:00:00", "2021-02-01T00:00:00", 1),
        ("湘", "2021-01", "2021-01-01T00:00:00", "2021-01-01T00:00:00", 1),
    ]
    assert parts[1][7] == ('[["01T00:00:00","1.5",0,"",null,-1,7],'
                           '["31T00:00:00","1.5",0,"",null,-1,4]]')
    assert parts[1][8:] == (2, None, None, 2, -1, 0, 0, 0)  # no eff_units: inexact


@pytest.mark.parametrize("times", ["dictionary", "strings"])
def test_texts_are_escaped_and_non_ascii_copied_as_it_is(times):
    value = 'a"b\\c\n\x01\x1f\x7f湘\U0001f600'
    at = '2021-é5-"\\\n湘'  # the time of the month escaped too
    columns = (_indexed(["湘江"], None),
               _indexed([at], None) if times == "dictionary" else _strings(pa.array([at])),
               _indexed(["p"], None), _indexed(["manual"], None), _strings(pa.array([value])),
               (2, pa.array([1], pa.int64()).buffers()[1], None, 0),
               _indexed(['"suspect"\t'], pa.array([0], pa.int32())),
               _int64(pa.array([-(2**63)], pa.int64())), _indexed([2**63 - 1], None), (3, -5))
    parts = check(columns, 1)
    # -2^63 / 10^10 and -2^63 % 10^10 truncated toward zero; '"suspect"\t' is no 'suspect'
    assert parts == [("湘江", "p", "manual", "2021-é5", at, at, 1,
                      '[["\\"\\\\\\u000a湘",'
                      '"a\\"b\\\\c\\u000a\\u0001\\u001f\x7f湘\U0001f600",1,'
                      '"\\"suspect\\"\\u0009",-9223372036854775808,9223372036854775807,-5]]',
                      1, -922337203, -6854775808, 0, 2**63 - 1, 1, 0, 0)]


def test_an_empty_block_has_no_parts():
    columns = tuple(_indexed(["x"], None) for _ in range(10))
    assert bulk_insert.pack(columns, 0) == []


_ONE = ("s", "2021-01-01", "p", "manual", "1", 0, "", 5, -1)
_GOOD = (*(_indexed([v], None) for v in _ONE), (3, 2))


@pytest.mark.parametrize(("at", "column", "name"), [
    (0, _indexed([7], None), "section"),
    (1, _indexed([None], None), "sampled_at"),
    (4, (3, 0), "value"),
    (6, _int64(pa.array([1], pa.int64())), "flag"),
    (5, _indexed(["0"], None), "below_dl"),
    (5, _int64(pa.array([None], pa.int64())), "below_dl"),
    (7, _strings(pa.array(["5"])), "eff_units"),
    (8, _indexed([None], None), "eff_exp"),
    (9, _indexed(["2"], pa.array([0], pa.int32())), "row"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_its_column(at, column, name):
    columns = (*_GOOD[:at], column, *_GOOD[at + 1:])
    with pytest.raises(ValueError, match=f"the {name} column holds a value of the wrong type"):
        bulk_insert.pack(columns, 1)


@pytest.mark.parametrize("at", ["2021-01", "2021-1-05", "2021-01-", "2021-01T08:00",
                                "2021é0-15", "", "20210105T080000"])
@pytest.mark.parametrize("form", ["dictionary", "strings"])
def test_a_time_without_its_month_and_a_dash_is_refused_naming_sampled_at(at, form):
    """The time of the month is sampled_at past its 8th character, a '-': a text without
    one (or with nothing after it) cannot be rebuilt as month || '-' || time."""
    times = [_ONE[1], at]
    column = (_indexed(times, pa.array([0, 1], pa.int32())) if form == "dictionary"
              else _strings(pa.array(times)))
    columns = (_GOOD[0], column, *_GOOD[2:])
    with pytest.raises(ValueError, match=f"the sampled_at column holds {re.escape(repr(at))} "
                                         r"\(row 2 of the block\)"):
        bulk_insert.pack(columns, 2)


def test_a_time_of_nine_characters_packs_and_a_bad_one_no_row_picks_is_not_refused():
    column = _indexed(["2021-01", "2021-01-5"], pa.array([1], pa.int32()))
    parts = bulk_insert.pack((_GOOD[0], column, *_GOOD[2:]), 1)
    assert (parts[0][3], parts[0][4], parts[0][7]) == (
        "2021-01", "2021-01-5", '[["5","1",0,"",5,-1,2]]')


def _readings(n: int, flags: list[str] | None = None, units: list[int | None] | None = None,
              below: list[int] | None = None) -> tuple[Any, ...]:
    """n readings of one group (section s, parameter p, manual, January 2021), one an hour
    from the last to the first row (times the other way round from the rows)."""
    times = [f"2021-01-{1 + h // 24:02d}T{h % 24:02d}:00" for h in reversed(range(n))]
    return (_GOOD[0], _strings(pa.array(times)), *_GOOD[2:5],
            _int64(pa.array(below or [0] * n, pa.int64())),
            _strings(pa.array(flags or [""] * n)),
            _int64(pa.array(units or list(range(n)), pa.int64())),
            _int64(pa.array([-(k % 3) for k in range(n)], pa.int64())), (3, 2))


@pytest.mark.parametrize(("n", "most", "sizes"), [
    (130, 64, [44, 43, 43]), (128, 64, [64, 64]), (64, 64, [64]), (65, 64, [33, 32]),
    (5, 1, [1] * 5), (7, 3, [3, 2, 2]), (1, 64, [1]),
])
def test_a_group_is_cut_in_time_order_into_parts_of_at_most_max_readings(n, most, sizes):
    columns = _readings(n)
    parts = bulk_insert.pack(columns, n, max_readings=most)
    assert [p[6] for p in parts] == sizes
    assert parts == reference(bulk_insert.rows(columns, n), most)
    times = [f"{p[3]}-{r[0]}" for p in parts for r in json.loads(p[7])]
    assert times == sorted(times) and len(set(times)) == n  # each reading once, in order
    assert [t for p in parts for t in (p[4], p[5])] == [
        f"{p[3]}-{json.loads(p[7])[k][0]}" for p in parts for k in (0, -1)]
    assert all(p[:4] == parts[0][:4] for p in parts)


def test_the_default_part_holds_64_readings_at_most():
    parts = bulk_insert.pack(_readings(200), 200)
    assert [p[6] for p in parts] == [50] * 4


def test_each_part_has_the_sums_of_its_own_readings():
    # times run backwards from the rows: the earliest three readings are rows 5, 4, 3
    flags = ["", "suspect", "invalid", "", "invalid", "suspect"]
    units = [-25, None, 7, 3 * 10**10 + 4, None, 10**10 + 9]
    below = [0, 1, 1, 0, 1, 2]
    parts = bulk_insert.pack(_readings(6, flags, units, below), 6, max_readings=3)
    # part 1, rows 5, 4, 3: suspect 10^10 + 9 below 2 eff_exp -2; invalid; 3·10^10 + 4 eff_exp 0
    # part 2, rows 2, 1, 0: invalid 7; suspect NULL below 1 eff_exp -1; -25 eff_exp 0
    assert [p[8:] for p in parts] == [(2, 4, 13, 0, -2, 1, 1, 1), (2, 0, -25, 1, -1, 1, 1, 1)]
    # by 7: 10^10 + 9 = 7·1428571429 + 6, 3·10^10 + 4 = 7·4285714286 + 2, -25 = 7·-3 - 4
    assert [p[8:] for p in bulk_insert.pack(_readings(6, flags, units, below), 6,
                                            max_readings=3, split=7)] == [
        (2, 1428571429 + 4285714286, 6 + 2, 0, -2, 1, 1, 1), (2, -3, -4, 1, -1, 1, 1, 1)]


def test_a_part_without_valid_readings_or_units_has_null_sums():
    parts = bulk_insert.pack(_readings(2, ["invalid", "invalid"], [5, 6]), 2)
    assert parts[0][8:] == (0, None, None, 0, None, 0, 0, 2)
    parts = bulk_insert.pack(_readings(2, ["", "suspect"], [None, None]), 2)
    assert parts[0][8:] == (2, None, None, 2, -1, 0, 1, 0)


def test_sums_past_64_bits_raise_overflow_error():
    big = 2**62
    with pytest.raises(OverflowError, match="eff_units column's sums overflow 64 bits"):
        bulk_insert.pack(_readings(2, units=[big, big]), 2, split=1)
    # an invalid reading is not summed; two parts are summed apart
    assert bulk_insert.pack(_readings(2, ["invalid", ""], [big, big]), 2, split=1)[0][9] == big
    assert [p[9] for p in bulk_insert.pack(_readings(2, units=[big, big]), 2, split=1,
                                           max_readings=1)] == [big, big]
    with pytest.raises(OverflowError):
        bulk_insert.pack(_readings(2, units=[-big, -big - 1]), 2, split=1)


def test_a_value_of_the_wrong_type_that_no_row_picks_is_not_refused():
    picks = pa.array([1], pa.int32())
    columns = (_indexed([None, "s"], picks), *_GOOD[1:7], _indexed(["x", 5], picks),
               *_GOOD[8:])
    assert bulk_insert.pack(columns, 1)[0][0] == "s"


@pytest.mark.parametrize(("columns", "n", "error"), [
    (_GOOD[:9], 1, ValueError),  # nine columns
    (_GOOD, -1, ValueError),
    ((_indexed(["s"], pa.array([1], pa.int32())), *_GOOD[1:]), 1, ValueError),  # index
    ((*_GOOD[:4], _strings(pa.array(["a"])), *_GOOD[5:]), 2, ValueError),  # short buffer
    ((_indexed([], None), *_GOOD[1:]), 1, ValueError),
    ((*_GOOD[:9], (9, 0)), 1, ValueError),  # unknown kind
    ((_indexed([1.5], None), *_GOOD[1:]), 1, TypeError),  # what insert refuses too
])
def test_unsound_columns_raise_instead_of_packing(columns, n, error):
    with pytest.raises(error):
        bulk_insert.pack(columns, n)


@pytest.mark.parametrize(("keywords", "message"), [
    ({"max_readings": 0}, "max_readings must be 1 or more"),
    ({"split": 0}, "split must be 1 or more"),
    ({"split": -(10**10)}, "split must be 1 or more"),
])
def test_parts_of_no_readings_or_a_split_below_one_are_refused(keywords, message):
    with pytest.raises(ValueError, match=message):
        bulk_insert.pack(_GOOD, 1, **keywords)


def test_without_the_compiled_module_pack_raises_and_can_pack_says_so(monkeypatch):
    monkeypatch.setattr(bulk_insert, "_packer", None)
    assert not bulk_insert.can_pack()
    with pytest.raises(RuntimeError, match="compiled"):
        bulk_insert.pack(_GOOD, 1)


def test_threads_packing_at_once_each_get_their_own_parts():
    """The packing runs without the GIL: blocks packed in threads at once stay apart."""
    n = 20_000
    blocks = []
    for k in range(4):
        times = pa.array([f"2021-{1 + i % 12:02d}-01T{i // 12:05d}" for i in range(n)])
        blocks.append((_indexed([f"s{k}"], None), _strings(times), _indexed(["p", "q"],
                       pa.array([i % 2 for i in range(n)], pa.int32())),
                       _indexed(["manual"], None), _strings(times), _indexed([0], None),
                       _indexed([""], None), _int64(pa.array(range(n), pa.int64())),
                       _indexed([-1], None), (3, 2)))
    expected = [reference(bulk_insert.rows(block, n)) for block in blocks]
    found: list[Any] = [None] * len(blocks)

    def work(k: int) -> None:
        for _ in range(5):
            found[k] = bulk_insert.pack(blocks[k], n)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(blocks))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == expected
    assert len({p[:4] for p in found[0]}) == 12  # p in the odd months, q in the even ones
    assert len(found[0]) == 12 * 27  # 1,666 or 1,667 readings a group: 27 parts of <= 64


# ----------------------------------------------------------------------- real blocks

def _batches(path: Path, sections: Any = None) -> list[columnar.Batch]:
    return list(columnar.batches(path, sections, path.name, SCALE, _exact_parts))


@pytest.mark.parametrize(("name", "sections"), [
    ("long.csv", None), ("long_bom.csv", None), ("wide_utf8_bom.csv", NAMES),
    ("wide_gb18030.csv", NAMES),
])
def test_the_fixtures_blocks_pack_as_the_reference_and_unpack_to_their_rows(name, sections):
    (batch,) = _batches(DATA / name, sections)
    parts = bulk_insert.pack(batch.columns, batch.count)
    rows = list(batch.rows())
    assert parts == reference(rows)
    assert typed(in_sqlite(parts)) == typed(rows)
    assert sum(p[6] for p in parts) == batch.count
    assert_sums_are_the_monthly_ones(batch, rows, parts)


def assert_sums_are_the_monthly_ones(batch: columnar.Batch, rows: list[tuple[Any, ...]],
                                     parts: list[tuple[Any, ...]]) -> None:
    """The parts' sums, added up by month, are the block's monthly sums as the columnar
    reader (pyarrow) and the store's SQL make them."""
    monthly = {tuple(m[:4]): tuple(m[4:]) for m in batch.monthly}
    assert by_month(parts) == monthly == monthly_in_sqlite(rows)


_PLAIN = st.builds(lambda digits, places: format(Decimal(digits).scaleb(-places), "f"),
                   st.integers(0, 10**12), st.integers(0, 12))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(readings=st.lists(st.tuples(st.sampled_from(["s1", "s2", "zhuting"]),
                                   st.sampled_from(["tp", "nh3n", "temp"]), _PLAIN,
                                   st.booleans(), st.sampled_from(["", "manual", "automatic"]),
                                   st.sampled_from(["", "", "suspect", "invalid"])),
                         min_size=1, max_size=80),
       most=st.sampled_from([64, 1, 2, 3, 10]))
def test_generated_files_parts_add_up_to_the_readers_monthly_sums(tmp_path_factory, readings,
                                                                  most):
    """A generated file's block (values of up to 12 decimals, more than the units hold; non-
    detects; flags; two months), packed in parts of at most ``most``: the parts' sums added
    up by month are the block's ``Batch.monthly`` (pyarrow) and ``_MONTHLY_SELECT``'s."""
    path = tmp_path_factory.mktemp("gen") / "g.csv"
    path.write_text("section,sampled_at,parameter,value,unit,source,flag\n" + "".join(
        f"{sec},2023-{1 + i % 2:02d}-{1 + i // 2 % 28:02d}T{i // 56:02d}:00,{par},"
        f"{'<' if below and par != 'temp' and value.strip('0.') else ''}{value},,{src},{flag}\n"
        for i, (sec, par, value, below, src, flag) in enumerate(readings)), encoding="utf-8")
    (batch,) = _batches(path)
    rows = list(batch.rows())
    parts = bulk_insert.pack(batch.columns, batch.count, max_readings=most)
    assert parts == reference(rows, most)
    assert_sums_are_the_monthly_ones(batch, rows, parts)


def test_a_file_of_several_blocks_packs_each_as_the_reference(tmp_path):
    """Blocks of a file big enough to be read in several (long layout; sections, parameters,
    sources, months, non-detects, values of more decimals than the units hold, flags), the
    last rows repeating times of their group: that block gives None. Each other block's
    parts, of at most 64 or 5 readings, add up to its monthly sums."""
    lines = ["section,sampled_at,parameter,value,unit,source,flag"]
    start = datetime(2022, 1, 1)
    for i in range(60_000):
        step = i // 12 if i < 57_000 else i // 12 - 200  # (section, parameter): i % 12
        at = (start + timedelta(hours=2 * step)).strftime("%Y-%m-%dT%H:%M")
        value = (f"<0.0{i % 9 + 1}" if i % 11 == 0 and i % 4 < 2 else
                 "0.000000000001" if i % 13 == 0 else f"{i % 5}.{i % 97 + 1}")
        lines.append(f"s{i % 3},{at},{('nh3n', 'tp', 'do', 'codmn')[i % 4]},{value},"
                     f"mg/L,{('manual', 'automatic')[i // 30_000]},"
                     f"{('', 'suspect', 'invalid', '')[i % 7 % 4]}")
    path = tmp_path / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    batches = _batches(path)
    assert len(batches) >= 2
    results = []
    for batch in batches:
        rows = list(batch.rows())
        parts = bulk_insert.pack(batch.columns, batch.count)
        assert parts == reference(rows)
        results.append(parts)
        if parts is not None:
            assert typed(in_sqlite(parts)) == typed(rows)
            assert_sums_are_the_monthly_ones(batch, rows, parts)
            small = bulk_insert.pack(batch.columns, batch.count, max_readings=5)
            assert small == reference(rows, 5)
            assert_sums_are_the_monthly_ones(batch, rows, small)
    assert results[-1] is None
    assert all(r is not None for r in results[:-1])


@settings(max_examples=40, deadline=None)
@given(picks=st.lists(st.tuples(*[st.integers(0, 599)] * 4), min_size=1, max_size=60),
       skip=st.integers(0, 3))
def test_blocks_of_many_distinct_texts_sort_as_the_reference(picks, skip):
    """Ranks of over 32 bits in all (600 texts in each dictionary): the counting sorts one
    rank at a time instead of the one radix sort of a packed key."""
    words = [f"w{k:03d}{'é' if k % 5 else ''}" for k in range(600)]
    times = [f"20{k % 40 + 10}-{k % 12 + 1:02d}-01T{k:04d}" for k in range(600)]
    picks = [(0, 0, 0, 0)] * skip + picks
    n = len(picks) - skip

    def column(values: list[str], k: int) -> tuple[Any, ...]:
        return _indexed(values, pa.array([p[k] for p in picks], pa.int32()).slice(skip))

    columns = (column(words, 0), column(times, 1), column(words, 2), column(words, 3),
               column(words, 1), (3, 0), column(words, 0), (3, 5), (3, -5), (3, 2))
    check(columns, n)
