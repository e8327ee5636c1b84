"""The compiled fast path of ``ledger verify`` never says "sound" where Python would not.

``ecocomp/ledger/_scanc.c`` only proves ranges sound or gives up; every problem is named by
the Python scan. So the property that matters is one-sided: whenever the compiled scan
accepts rows, the Python scan finds no problem in the same rows and returns the same
digests, hashes and keys. The rows here are a real ledger's, tampered with in memory the
way someone with write access could (a field rewritten, the hash chain recomputed so that
only the field rules can catch it), many hundreds of times.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_ledger_meta_check import metas

from ecocomp.ledger import GENESIS, Ledger, NewTransaction, Transfer, compiled
from ecocomp.ledger.merkle import MerkleTree, _level_up_python, leaf_hash
from ecocomp.ledger.verify import (
    _SCAN,
    _check_hashes,
    _full_meta_check,
    _leaves,
    _scan,
    _scan_compiled,
    _scan_rows,
)

scanc = compiled.scanc
FULL = _full_meta_check()

if os.environ.get("ECOCOMP_REQUIRE_COMPILED") and scanc is None:  # CI builds it
    raise RuntimeError("ECOCOMP_REQUIRE_COMPILED is set but ecocomp.ledger._scanc is "
                       "missing: the install did not build ecocomp/ledger/_scanc.c")
pytestmark = pytest.mark.skipif(scanc is None, reason="the compiled part is not built here "
                                "(no C compiler or OpenSSL headers at install)")


# -------------------------------------------------------------------------- the helpers


@settings(max_examples=800, deadline=None)
@given(metas())
@example(b'{"a":"\xff"}')
@example(b'{"a":123456789012345}')
@example(b'{"a":1234567890123456}')
@example(b'{"a":-123456789012345}')
@example(b'{"a":true,"b":false,"c":null}')
@example(b'{"a":tru}')
@example(b'{"\xc3\xa9":1,"z":2}')
@example(b'{"z":1,"\xc3\xa9":2}')
@example(b'{"a":01}')
@example(b'{"a":-}')
@example(b'{"a":{}}')
@example(b'{"a":trve}')
@example(b'{"a":nuLL,"b":1}')
@example(b'{"a":"x\x01"}')
@example(b'{"a\x1f":1}')
@example(b'{"":1,"a":2}')
@example(b'{"ab":1,"a":2}')
@example(b'{"a":1,"ab":2}')
def test_compiled_meta_check_is_never_wrong_when_it_says_canonical(meta: bytes) -> None:
    assert scanc is not None
    # the scan checks the UTF-8 of the whole encoding; the JSON test leaves it to that
    if scanc.meta_canonical(meta) and scanc.utf8_valid(meta):
        assert FULL(meta)


def test_compiled_meta_check_takes_the_plain_canonical_texts() -> None:
    assert scanc is not None
    for text in (b"{}", b'{"a":1}', b'{"a":"x y","b":[1,{"c":null}],"c":-42}',
                 b'{"amount":"1000","class":"IV","factors":["codmn","nh3n","tp"]}',
                 '{"水":"湘江","甲":[true,false]}'.encode()):
        assert FULL(text)
        assert scanc.meta_canonical(text), text
    for text in (b'{"b":1,"a":2}', b'{"a":1,"a":1}', b'{"a" :1}', b'{"a":1.0}',
                 b'{"a":-0}', b'{"a":9007199254740992}', b"[]", b'{"a":1}x'):
        assert not scanc.meta_canonical(text), text


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=12) | st.lists(st.sampled_from(
    [b"a", b"\x7f", b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xc2", b"\xdf", b"\xe0", b"\xa0",
     b"\xed", b"\x9f", b"\xee", b"\xef", b"\xf0", b"\x90", b"\xf4", b"\x8f", b"\xf5",
     b"\xff", b"abcdefgh"]), max_size=8).map(b"".join))
@example(b"\xed\xa0\x80")  # a surrogate
@example(b"\xc0\x80")  # overlong
@example(b"\xf4\x90\x80\x80")  # beyond U+10FFFF
def test_utf8_check_is_pythons(data: bytes) -> None:
    assert scanc is not None
    try:
        data.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    assert scanc.utf8_valid(data) is valid


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=9))
def test_merkle_level_is_pythons(level: list[bytes]) -> None:
    assert scanc is not None
    assert scanc.merkle_level(level) == _level_up_python(level)


def test_merkle_tree_with_other_node_types_goes_the_python_way() -> None:
    leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]
    assert MerkleTree(leaves).root() == MerkleTree([bytearray(x) for x in leaves]).root()


# ------------------------------------------------------------------------- the scan

_PARTIES = ("430100", "430200", "430300", "430521-baiyun-cun")


def _transactions() -> list[NewTransaction]:
    """Few distinct dates, names, parties and purposes, so that after the first
    transactions every value is one the scan has seen valid: from there on only the
    compiled scan's own checks stand between a tampered row and "sound"."""
    txs = []
    for i in range(24):
        payer, payee = _PARTIES[i % 2], _PARTIES[2 + i % 2]
        legs = [Transfer.between(payer, payee, Decimal(1000 + i), purpose="accrued")]
        if i % 3 == 0:
            legs.append(Transfer.between(payee, payer, Decimal("0.01"), purpose="paid"))
        txs.append(NewTransaction(
            key=f"a-{i % 2}/2023-{i:02d}/class", kind="accrual", transfers=legs,
            agreement=f"湘江-{i % 2}", period=f"2023-{1 + i % 2:02d}", component="class",
            booked_on=date(2023, 1 + i % 2, 28),
            inputs_digest=hashlib.sha256(b"%d" % i).hexdigest(),
            meta={"class": "IV", "month": i + 1, "items": ["codmn", "tp"],
                  "note": "水质 \"good\"" if i == 5 else "ok"}))
    for i in range(3):
        txs.append(NewTransaction(
            key=f"a-0/2023-{2 * i:02d}/class/fix", kind="adjustment",
            corrects=f"a-0/2023-{2 * i:02d}/class", reason="a late reading",
            transfers=[Transfer.between("430100", "430300", Decimal("5"), purpose="accrued")],
            booked_on=date(2023, 1, 28), due=date(2023, 2, 28), agreement="湘江-0",
            period="2023-01", component="class", meta={}))
    return txs


@pytest.fixture(scope="module")
def sound_rows(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Any, ...]]:
    path = tmp_path_factory.mktemp("compiled") / "ledger.db"
    with Ledger.open(path) as ledger:
        ledger.post_many(_transactions())
        assert ledger.verify().ok
    conn = sqlite3.connect(path)
    conn.text_factory = bytes
    try:
        return conn.execute(_SCAN, (1, 10**9)).fetchall()
    finally:
        conn.close()


def _t(value: bytes | None) -> bytes:
    return b"N" if value is None else b"T%d:%b" % (len(value), value)


def _i(value: int) -> bytes:
    digits = b"%d" % value
    return b"I%d:%b" % (len(digits), digits)


def _rehashed(rows: list[list[Any]], prev_of: dict[int, Any] | None = None
              ) -> list[tuple[Any, ...]]:
    """The rows with each prev_hash and hash recomputed from the (tampered) fields, as a
    forger would: tx/2 written out here from docs/ledger.md, not with the code under test.
    ``prev_of`` gives a transaction a prev_hash of its own (a broken link)."""
    by_seq: dict[Any, list[list[Any]]] = {}
    for row in rows:
        by_seq.setdefault(row[0], []).append(row)
    prev = GENESIS.encode()
    for group in by_seq.values():
        head = group[0]
        if type(head[0]) is not int or not all(
                type(v) in (bytes, type(None)) for v in head[2:16]):
            continue
        prev = (prev_of or {}).get(head[0], prev)
        parts = [_t(b"ecocomp.ledger.tx/2"), _t(prev), _i(head[0]), *map(_t, head[3:16])]
        for row in group:
            if type(row[21]) is int and all(type(v) is bytes for v in row[17:21]):
                parts += [*map(_t, row[17:21]), _i(row[21])]
        digest = hashlib.sha256(b"".join(parts)).hexdigest().encode()
        for row in group:
            row[1], row[2] = digest, prev
        prev = digest
    return [tuple(row) for row in rows]


_BAD_TEXT = [b"", b"a\x1fb", b"\x00", b"\xff", b"\xed\xa0\x80", b"x\xc3", 1, 1.5, "text"]
_DAYS = [b"2023-01-28", b"2023-02-28", b"2024-02-29", b"2023-02-29", b"2023-13-01",
         b"2023-1-28", b"x"]
_PARTY_VALUES = [b"430100", b"430200", b"430521-baiyun-cun", b"43010", b"430100-",
                 b"430100-Baiyun", b"\xe6\xb0\xb4"]
_PURPOSE_VALUES = [b"accrued", b"paid", b"Accrued", b"paid-", b"a b"]
# what each column may be set to: values the rules accept and values they refuse
_POOLS: dict[int, list[Any]] = {
    3: [b"a-1/2023-01/class", b"a-0/2023-00/class", b"new-key", "湘江".encode(), *_BAD_TEXT],
    4: [b"accrual", b"payment", b"clearing", b"reversal", b"adjustment", b"Accrual", None],
    5: [*_DAYS, None],
    6: [*_DAYS, None],
    7: [None, "湘江-1".encode(), b"x", *_BAD_TEXT],
    8: [None, b"2023-02", *_BAD_TEXT],
    9: [None, b"class", *_BAD_TEXT],
    10: [None, b"a-0/2023-00/class", b"a-1/2023-23/class", b"a-9/none", *_BAD_TEXT],
    11: [None, b"a late reading", *_BAD_TEXT],
    12: [None, b"REF-1", *_BAD_TEXT],
    13: [None, b"0" * 15, b"0" * 16, b"A" * 16, b"f" * 128, b"f" * 129, b"0123456789abcdeg",
         *_BAD_TEXT],
    14: [b"{}", b'{"a":1}', b'{"b":1,"a":2}', b'{"a":1.5}', b'{"a":-0}', b'{"a":"\\u0041"}',
         b'{"a":"\\n"}', b'{"a" :1}', b'{"a":9007199254740992}', b'{"a":123456789012345}',
         b"[]", b'{"a":"\xff"}', b'{"a":[1,{"c":2,"b":1}]}', None, *_BAD_TEXT],
    15: [b"2024-01-31T00:00:00.000000Z", b"2024-02-30T00:00:00.000000Z",
         b"2024-01-31 00:00:00", b"2024-01-31T00:00:00Z", None, *_BAD_TEXT],
    16: [0, 1, 2, -1, None, "0"],
    17: [*_PARTY_VALUES, None, *_BAD_TEXT],
    18: [*_PURPOSE_VALUES, None, *_BAD_TEXT],
    19: [*_PARTY_VALUES, None, *_BAD_TEXT],
    20: [*_PURPOSE_VALUES, None, *_BAD_TEXT],
    21: [1, 0, -1, 100, 10**14, 10**14 + 1, 2**63 - 1, 2**64, None, 1.5, b"1"],
    0: [0, -1, 2, 99, None, b"1"],
}


@st.composite
def tampered(draw: st.DrawFn, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    out = [list(row) for row in rows]
    for _ in range(draw(st.integers(1, 2))):
        how = draw(st.sampled_from(["set"] * 8 + ["drop", "swap", "copy"]))
        # mostly the later rows, whose values the scan has all seen valid
        at = draw(st.integers(len(out) // 2, len(out) - 1) | st.integers(0, len(out) - 1))
        if how == "set":
            column = draw(st.sampled_from(sorted(_POOLS)))
            out[at][column] = draw(st.sampled_from(_POOLS[column]))
        elif how == "drop" and len(out) > 1:
            del out[at]
        elif how == "swap":
            other = draw(st.integers(0, len(out) - 1))
            out[at], out[other] = out[other], out[at]
        elif how == "copy":
            column = draw(st.sampled_from([3, 7, 10, 14, 17, 19]))
            out[at][column] = out[draw(st.integers(0, len(out) - 1))][column]
    # mostly as a forger would: the chain recomputed, so only the field rules can tell
    rehash = draw(st.sampled_from([True, True, True, True, False]))
    return _rehashed(out) if rehash else [tuple(row) for row in out]


def _python(rows: list[tuple[Any, ...]], last: int) -> tuple[Any, list[Any]]:
    scanned = _scan_rows(iter(rows), 1, last, GENESIS.encode(), 1, set())
    problems = [scanned.problem] if scanned.problem else []
    problems += _check_hashes(scanned.digests, scanned.hashes)
    # (a key used twice is found after either scan, from the keys both return)
    return scanned, problems


def assert_as_python(fast: Any, slow: Any, problems: list[Any]) -> None:
    """A range the compiled scan accepted: the Python scan of the same rows found no
    problem, and both give the same digests, hashes, keys and Merkle leaves."""
    assert not problems, problems
    assert fast.digests == slow.digests
    assert fast.hashes == slow.hashes
    assert fast.keys == slow.keys
    assert fast.leaves == _leaves(slow.digests)


@settings(max_examples=1200, deadline=None)
@given(data=st.data())
def test_compiled_scan_accepts_only_what_python_accepts(
    sound_rows: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    rows = data.draw(tampered(sound_rows))
    last = max(r[0] for r in sound_rows)
    fast = _scan_compiled(iter(rows), 1, last, GENESIS.encode(), set(), None)
    slow, problems = _python(rows, last)
    if fast is not None:
        assert_as_python(fast, slow, problems)
    # and whichever path ran, _scan's verdict is the Python scan's
    scanned = _scan(lambda: iter(rows), 1, last, GENESIS.encode(), 1, set())
    assert (scanned.problem is None) == (slow.problem is None)


def test_compiled_scan_takes_a_sound_ledger_and_gives_up_on_a_forgery(
    sound_rows: list[tuple[Any, ...]],
) -> None:
    last = max(r[0] for r in sound_rows)
    fast = _scan_compiled(iter(sound_rows), 1, last, GENESIS.encode(), set(), None)
    assert fast is not None and fast.hashes_checked
    assert len(fast.digests) == last
    assert fast.leaves == _leaves(fast.digests)
    # a control character in an agreement name, the chain recomputed around it
    forged = [list(r) for r in sound_rows]
    forged[20][7] = b"\xe6\xb9\x98\x1f\xe6\xb1\x9f"
    assert _scan_compiled(iter(_rehashed(forged)), 1, last, GENESIS.encode(), set(),
                          None) is None
    # a stored hash changed: the compiled scan compares hashes itself
    forged = [list(r) for r in sound_rows]
    forged[-1][1] = b"0" * 64
    assert _scan_compiled(iter([tuple(r) for r in forged]), 1, last, GENESIS.encode(), set(),
                          None) is None


def test_a_worker_range_leaves_an_earlier_correction_to_the_join(
    sound_rows: list[tuple[Any, ...]],
) -> None:
    last = max(r[0] for r in sound_rows)
    tail = [r for r in sound_rows if r[0] == last]
    prev = tail[0][2]
    unresolved: list[tuple[int, bytes]] = []
    fast = _scan_compiled(iter(tail), last, last, prev, set(), unresolved)
    assert fast is not None
    assert unresolved == [(last, b"a-0/2023-04/class")]
    # without a join to leave it to, the compiled scan gives up and Python names it
    assert _scan_compiled(iter(tail), last, last, prev, set(), None) is None
    assert "not an earlier transaction" in _scan(lambda: iter(tail), last, last, prev, 1,
                                                 set()).problem.reason


def test_pure_python_switch(tmp_path: Path) -> None:
    import subprocess
    import sys
    code = "from ecocomp.ledger import compiled; print(compiled.describe())"
    env = {**os.environ, "ECOCOMP_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "Python"
    assert compiled.describe() == "compiled"


_LATE = 22  # a transaction with two transfers, whose every valid value the scan met before
_REFUSED = [
    (3, b"a\x1fb"), (3, b"\x00"), (3, b""), (4, b"Accrual"), (4, b"adjustment"),
    (5, b"2023-02-29"), (5, b"2023-1-28"), (6, b"2023-13-01"), (7, b"a\x1fb"), (7, b"\xff"),
    (7, b""), (8, b"x\xc3"), (9, b"\x00"), (10, b"a-1/2023-23/class"), (10, b"a-9/none"),
    (11, b"a\x1fb"), (12, b""), (13, b"A" * 16), (13, b"0" * 15), (13, b"f" * 129),
    (13, b"0123456789abcdeg"), (14, b'{"b":1,"a":2}'), (14, b'{"a" :1}'), (14, b'{"a":1.5}'),
    (14, b'{"a":-0}'), (14, b'{"a":9007199254740992}'), (14, b"[]"), (14, b'{"a":"\xff"}'),
    (15, b"2024-02-30T00:00:00.000000Z"), (15, b"2024-01-31T00:00:00Z"), (16, 1),
    (17, b"43010"), (17, b"430100-Baiyun"), (18, b"Accrued"), (19, b"430100-"),
    (20, b"a b"), (21, 0), (21, -1), (21, 10**14 + 1), (17, "self"), (14, None),
    (5, None), (15, None), (3, None), (14, b'{"a":trve}'), (14, b'{"a":"x\x01"}'),
    (14, b'{"a\x1f":1}'), (14, "text"), (21, None), (16, None), (2, b"0" * 64), (16, "second"),
]


@pytest.mark.parametrize(("column", "value"), _REFUSED)
def test_every_rule_is_checked_by_the_compiled_scan_itself(
    sound_rows: list[tuple[Any, ...]], column: int, value: Any
) -> None:
    """A rewritten field with the chain recomputed around it: the compiled scan gives up
    even where no value is new to it (so its own check, not Python's, must catch it)."""
    rows = [list(r) for r in sound_rows]
    at = next(i for i, r in enumerate(rows) if r[0] == _LATE)
    if value == "self":  # money moved from an account to itself
        rows[at][19], rows[at][20] = rows[at][17], rows[at][18]
    elif value == "second":  # the second transfer renumbered
        rows[at + 1][16] = 2
    elif column != 2:
        rows[at][column] = value
    # column 2: a broken link, the row's hash made to fit its rewritten prev_hash
    tampered_rows = _rehashed(rows, {_LATE: value} if column == 2 else None)
    last = max(r[0] for r in sound_rows)
    assert _python(tampered_rows, last)[1], "the Python scan must refuse this"
    assert _scan_compiled(iter(tampered_rows), 1, last, GENESIS.encode(), set(), None) is None


def test_the_report_says_which_scan_ran(tmp_path: Path) -> None:
    from ecocomp.ledger.verify import verify_file

    path = tmp_path / "ledger.db"
    with Ledger.open(path) as ledger:
        ledger.post_many(_transactions())
        assert ledger.verify().scan == "compiled"
    assert verify_file(path).scan == "compiled"
    assert verify_file(path, jobs=2).scan == "compiled"
    conn = sqlite3.connect(path)  # a forged agreement name: the Python scan names it
    for (name,) in conn.execute("SELECT name FROM sqlite_master "
                                "WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE ledger_transactions SET agreement = 'x' WHERE seq = 20")
    conn.commit()
    conn.close()
    report = verify_file(path)
    assert not report.ok and report.scan == "Python"
