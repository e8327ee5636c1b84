"""Inputs found by reviewing ``ecocomp/ledger/_scanc.c`` against the Python scan.

Each case is one where the compiled scan must give up (return None) because the Python
scan reports a problem, or must not rely on undefined C behaviour. The rows are a real
ledger's (``sound_rows`` of test_ledger_compiled), rewritten and re-hashed as a forger
would.
"""

from __future__ import annotations

import hashlib
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ledger_compiled import _i, _python, _t, sound_rows, tampered  # noqa: F401

from ecocomp.ledger import GENESIS, compiled
from ecocomp.ledger.verify import _check_hashes, _leaves, _scan, _scan_compiled, _scan_rows

pytestmark = pytest.mark.skipif(compiled.scanc is None, reason="the compiled part is not "
                                "built here (no C compiler or OpenSSL headers at install)")


def _chained(groups: list[list[list[Any]]], prefix: dict[int, bytes] | None = None,
             prev: bytes = GENESIS.encode()) -> list[tuple[Any, ...]]:
    """Rows of transactions (each a list of its rows) with prev_hash and hash recomputed
    from the fields by tx/2 (docs/ledger.md); ``prefix`` puts bytes before one
    transaction's encoding (what a forger would hash to match a broken scan)."""
    for group in groups:
        head = group[0]
        parts = [_t(b"ecocomp.ledger.tx/2"), _t(prev), _i(head[0]), *map(_t, head[3:16])]
        for row in group:
            parts += [*map(_t, row[17:21]), _i(row[21])]
        message = (prefix or {}).get(head[0], b"") + b"".join(parts)
        digest = hashlib.sha256(message).hexdigest().encode()
        for row in group:
            row[1], row[2] = digest, prev
        prev = digest
    return [tuple(row) for group in groups for row in group]


def _groups(rows: list[tuple[Any, ...]]) -> list[list[list[Any]]]:
    by_seq: dict[int, list[list[Any]]] = {}
    for row in rows:
        by_seq.setdefault(row[0], []).append(list(row))
    return list(by_seq.values())


def test_a_transfer_row_before_the_first_transaction_is_not_hashed_into_it(
    sound_rows: list[tuple[Any, ...]],  # noqa: F811
) -> None:
    """A row of seq 0 first (rows from any backend, not only SQLite's BETWEEN): the Python
    scan calls it malformed. The compiled scan took it for a further transfer of a
    transaction not yet open, hashed its legs in front of transaction 1's encoding and,
    with transaction 1's hash forged to match that, said "sound"."""
    last = max(r[0] for r in sound_rows)
    junk = list(sound_rows[0])
    junk[0] = 0
    legs = b"".join([*map(_t, junk[17:21]), _i(junk[21])])
    rows = [tuple(junk), *_chained(_groups(sound_rows), prefix={1: legs})]
    assert _python(rows, last)[1], "the Python scan must refuse this"
    assert _scan_compiled(iter(rows), 1, last, GENESIS.encode(), set(), None) is None
    assert _scan(lambda: iter(rows), 1, last, GENESIS.encode(), 1, set()).problem is not None


def test_the_largest_sequence_number_does_not_overflow(
    sound_rows: list[tuple[Any, ...]],  # noqa: F811
) -> None:
    """seq 2**63-1 (SQLite's largest rowid): ``expected = seq + 1`` overflowed a C long long.
    Extensions inherit CPython's ``-fwrapv``, so it wrapped and the scan gave up; it now
    gives up there without relying on that flag, and the Python scan (no such limit)
    decides: sound."""
    top = 2**63 - 1
    group = [list(r) for r in sound_rows if r[0] == 1]
    for row in group:
        row[0] = top
        row[10] = None  # corrects nothing (there is no earlier transaction here)
    rows = _chained([group])
    assert _scan_compiled(iter(rows), top, top, GENESIS.encode(), set(), None) is None
    slow = _scan_rows(iter(rows), top, top, GENESIS.encode(), 1, set())
    assert slow.problem is None
    scanned = _scan(lambda: iter(rows), top, top, GENESIS.encode(), 1, set())
    assert scanned.problem is None and scanned.digests == slow.digests


def test_a_sound_range_still_goes_the_compiled_way(
    sound_rows: list[tuple[Any, ...]],  # noqa: F811
) -> None:
    last = max(r[0] for r in sound_rows)
    fast = _scan_compiled(iter(sound_rows), 1, last, GENESIS.encode(), set(), None)
    assert fast is not None and fast.leaves == _leaves(fast.digests)


@settings(max_examples=600, deadline=None)
@given(data=st.data())
def test_a_worker_range_is_accepted_only_as_python_accepts_it(
    sound_rows: list[tuple[Any, ...]], data: st.DataObject  # noqa: F811
) -> None:
    """The ``resolve_later`` mode (a worker's range, or verify_appended's): from a later
    first transaction, with corrections outside the range left to the join. Where the
    compiled scan accepts, the Python scan finds no problem, and both leave the same
    corrections unresolved."""
    rows = data.draw(tampered(sound_rows))
    last = max(r[0] for r in sound_rows)
    first = data.draw(st.integers(1, last))
    part = [r for r in rows if not (type(r[0]) is int and r[0] < first)]
    before = [r[1] for r in rows if r[0] == first - 1]
    prev = before[0] if first > 1 and before else GENESIS.encode()
    fast_later: list[tuple[int, bytes]] = []
    slow_later: list[tuple[int, bytes]] = []
    fast = _scan_compiled(iter(part), first, last, prev, set(), fast_later)
    slow = _scan_rows(iter(part), first, last, prev, 1, set(), slow_later)
    if fast is None:
        assert fast_later == []  # changed only on success
        return
    assert slow.problem is None
    assert not _check_hashes(slow.digests, slow.hashes, first)
    assert (fast.digests, fast.hashes, fast.keys) == (slow.digests, slow.hashes, slow.keys)
    assert fast.leaves == _leaves(slow.digests)
    assert fast_later == slow_later


def test_the_compiled_scan_keeps_no_reference_to_what_it_read(
    sound_rows: list[tuple[Any, ...]],  # noqa: F811
) -> None:
    """Reference counts of the rows, their values and ``prev`` are the same after many
    scans, sound and given up (a missing or extra DECREF in _scanc.c changes them)."""
    last = max(r[0] for r in sound_rows)
    prev = bytes(GENESIS.encode())
    header = max(i for i, r in enumerate(sound_rows) if r[16] == 0)
    forged = list(sound_rows)
    forged[header] = (forged[header][0], b"0" * 64, *forged[header][2:])
    objects = [prev, *sound_rows, *(v for r in sound_rows for v in r if type(v) is bytes)]
    before = [sys.getrefcount(o) for o in objects]
    for _ in range(20):
        assert _scan_compiled(iter(sound_rows), 1, last, prev, set(), None) is not None
        assert _scan_compiled(iter(forged), 1, last, prev, set(), None) is None
    assert [sys.getrefcount(o) for o in objects] == before
