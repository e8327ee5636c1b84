"""The compiled packer (``bulk_insert.pack``, ``ecocomp/_bulkc.c``) against a Python one.

A block of readings becomes one part per (section, parameter, source, month), its readings
as JSON text that SQLite's ``json_each`` unpacks. Whatever columns it is given — dictionary
values with and without indices, pyarrow strings and int64s with nulls, slices at any
offset, row numbers — the parts must be exactly the reference's below; None exactly when a
group holds one sampled_at twice; and the JSON, parsed by Python or unpacked by SQLite,
must give back the block's rows (:func:`bulk_insert.rows`) value for value and type for type.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp import bulk_insert, columnar
from ecocomp.columnar import _indexed, _int64, _strings
from ecocomp.store import SCALE, _exact_parts

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


def reference(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]] | None:
    """What ``pack`` gives for these rows (section, sampled_at, parameter, source, value,
    below_dl, flag, eff_units, eff_exp, row), in Python."""
    groups: dict[tuple[str, str, str, str], list[tuple[Any, ...]]] = {}
    for sec, at, par, src, value, below, flag, units, exp, row in rows:
        groups.setdefault((sec, par, src, at[:7]), []).append(
            (at, value, below, flag, units, exp, row))
    parts = []
    for key in sorted(groups, key=lambda k: tuple(s.encode() for s in k)):
        readings = sorted(groups[key], key=lambda r: r[0].encode())
        times = [r[0] for r in readings]
        if len(set(times)) < len(times):
            return None
        parts.append((*key, times[0], times[-1], len(readings),
                      _json([list(r) for r in readings])))
    return parts


def unpacked(parts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The readings of ``parts`` as Python's json reads them back, in the columns' order."""
    out = []
    for sec, par, src, _month, _first, _last, _count, data in parts:
        for at, value, below, flag, units, exp, row in json.loads(data):
            out.append((sec, at, par, src, value, below, flag, units, exp, row))
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
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", parts)
    found = conn.execute(
        "SELECT t.section, json_extract(j.value, '$[0]'), t.parameter, t.source, "
        "json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), "
        "json_extract(j.value, '$[3]'), json_extract(j.value, '$[4]'), "
        "json_extract(j.value, '$[5]'), json_extract(j.value, '$[6]') "
        "FROM t, json_each(t.data) j").fetchall()
    counts = conn.execute("SELECT sum(count), sum(json_array_length(data)) FROM t").fetchone()
    assert counts[0] == counts[1] or not parts
    conn.close()
    return found


def check(columns: tuple[Any, ...], n: int) -> Any:
    """pack equals the reference, and its parts give back the rows."""
    rows = list(bulk_insert.rows(columns, n))
    parts = bulk_insert.pack(columns, n)
    assert parts == reference(rows)
    if parts is not None:
        assert typed(unpacked(parts)) == typed(rows)
        for part in parts:
            times = [r[0] for r in json.loads(part[7])]
            assert part[4:7] == (times[0], times[-1], len(times))
        # SQLite's json_extract ends a text at a NUL (\u0000): none comes from the parser
        if not any("\x00" in r[k] for r in rows for k in (1, 4, 6)):
            assert typed(in_sqlite(parts)) == typed(rows)
    return parts


# ---------------------------------------------------------------------- random blocks

#: group keys that sort differently by bytes than by length or case, and non-ASCII
_KEYS = st.sampled_from(["a", "B", "ab", "a\x00", "", "é", "湘江", "\U0001f600", "z"])
#: times: ISO ones of several months and odd ones (short, non-ASCII within the month)
_TIMES = st.sampled_from([
    "2021-01-05T08:00:00", "2021-01-05T09:00:00", "2021-01-31T23:59:59", "2021-02-01",
    "2021-02-01T00:00:00", "2021-1", "", "2021-é5-01", "2021-é5-02", "2021-01",
]) | st.text(st.characters(blacklist_categories=("Cs",)), max_size=10)
#: any text
_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
_INT = st.integers(-(2**63), 2**63 - 1)


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
    words = draw(st.lists(texts, min_size=1, max_size=6))
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
    words = draw(st.lists(ints, min_size=1, max_size=4))
    picks = pa.array(draw(st.lists(st.integers(0, len(words) - 1), min_size=total,
                                   max_size=total)), pa.int32())
    keep.append(picks)
    return _indexed(words, picks.slice(skip))


@st.composite
def blocks(draw: Any) -> tuple[tuple[Any, ...], int, list[Any]]:
    """(columns, n, arrays kept alive): the ten columns of a block, each in a drawn form,
    sliced at a drawn offset; sampled_at often all distinct, often not."""
    n = draw(st.integers(0, 40))
    skip = draw(st.integers(0, 5))
    total = n + skip
    keep: list[Any] = []
    if draw(st.booleans()):  # every time distinct: a part for every block
        times = draw(st.lists(_TIMES, min_size=total, max_size=total, unique=True))
        array = pa.array(times, pa.string())
        keep.append(array)
        at = draw(st.sampled_from([_strings(array.slice(skip)),
                                   _indexed(times, pa.array(range(total), pa.int32())
                                            .slice(skip))]))
    else:
        at = draw(text_column(total, skip, _TIMES, keep))
    columns = (
        draw(text_column(total, skip, _KEYS, keep)),
        at,
        draw(text_column(total, skip, _KEYS, keep)),
        draw(text_column(total, skip, _KEYS, keep)),
        draw(text_column(total, skip, _TEXT, keep)),
        draw(int_column(total, skip, False, keep)),
        draw(text_column(total, skip, _TEXT, keep)),
        draw(int_column(total, skip, True, keep)),
        draw(int_column(total, skip, False, keep)),
        draw(int_column(total, skip, False, keep)),
    )
    return columns, n, keep


@settings(max_examples=300, deadline=None)
@given(block=blocks())
def test_pack_is_the_reference_packer_for_any_columns(block):
    columns, n, _keep = block
    check(columns, n)


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
    assert parts[1][7] == json.dumps([[at, *one[4:], 2]], separators=(",", ":"))  # row 0
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
    assert parts[1][7] == ('[["2021-01-01T00:00:00","1.5",0,"",null,-1,7],'
                           '["2021-01-31T00:00:00","1.5",0,"",null,-1,4]]')


def test_texts_are_escaped_and_non_ascii_copied_as_it_is():
    value = 'a"b\\c\n\x01\x1f\x7f湘\U0001f600'
    columns = (_indexed(["湘江"], None), _indexed(["2021-é5-01"], None),
               _indexed(["p"], None), _indexed(["manual"], None), _strings(pa.array([value])),
               (2, pa.array([1], pa.int64()).buffers()[1], None, 0),
               _indexed(['"suspect"\t'], pa.array([0], pa.int32())),
               _int64(pa.array([-(2**63)], pa.int64())), _indexed([2**63 - 1], None), (3, -5))
    parts = check(columns, 1)
    assert parts == [("湘江", "p", "manual", "2021-é5", "2021-é5-01", "2021-é5-01", 1,
                      '[["2021-é5-01","a\\"b\\\\c\\u000a\\u0001\\u001f\x7f湘\U0001f600",1,'
                      '"\\"suspect\\"\\u0009",-9223372036854775808,9223372036854775807,-5]]')]


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
    assert len(found[0]) == 12  # p in the odd months, q in the even ones


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


def test_a_file_of_several_blocks_packs_each_as_the_reference(tmp_path):
    """Blocks of a file big enough to be read in several (long layout; sections, parameters,
    sources, months), the last rows repeating times of their group: that block gives None."""
    lines = ["section,sampled_at,parameter,value,unit,source,flag"]
    start = datetime(2022, 1, 1)
    for i in range(60_000):
        step = i // 12 if i < 57_000 else i // 12 - 200  # (section, parameter): i % 12
        at = (start + timedelta(hours=2 * step)).strftime("%Y-%m-%dT%H:%M")
        lines.append(f"s{i % 3},{at},{('nh3n', 'tp', 'do', 'codmn')[i % 4]},0.{i % 97 + 1},"
                     f"mg/L,{('manual', 'automatic')[i // 30_000]},{('', 'suspect')[i % 7 == 0]}")
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
