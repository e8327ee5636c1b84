"""The compiled scan reading a database file itself (``_scanc.scan_file``).

On a file, ``ledger verify``'s compiled scan reads the rows on its own read-only connection
through the SQLite library Python's ``sqlite3`` uses, instead of receiving them from a
Python cursor. What must hold:

* the rows it reads are exactly the rows Python's cursor returns (same values, types and
  order), for files holding whatever a forger can write (wrong types, NULLs, duplicates);
* it accepts a file only where the Python scan of the same rows finds no problem, with the
  same digests, hashes, keys and Merkle leaves, and it accepts exactly what the compiled
  scan of the cursor's rows accepts;
* what it proves counts only if it ends at the hash the checked snapshot holds, so a file
  rewritten or appended to meanwhile is read on the checked connection instead;
* it keeps nothing: no memory grows over many scans.
"""

from __future__ import annotations

import os
import sqlite3
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ledger_compiled import (  # noqa: F401 (sound_rows: a fixture)
    _python,
    _rehashed,
    _transactions,
    assert_as_python,
    sound_rows,
    tampered,
)

from ecocomp.ledger import GENESIS, Ledger, compiled
from ecocomp.ledger.verify import (
    _SCAN,
    _file_scan,
    _FileScan,
    _scan_compiled,
    _scan_here,
    verify_file,
)

scanc = compiled.scanc
if os.environ.get("ECOCOMP_REQUIRE_COMPILED") and not compiled.reads_files():  # CI
    raise RuntimeError("ECOCOMP_REQUIRE_COMPILED is set but the compiled scan cannot read "
                       "ledger files: no _scanc, or Python's _sqlite3 links no shared SQLite")
pytestmark = pytest.mark.skipif(not compiled.reads_files(), reason="the compiled part is "
                                "not built here, or Python's sqlite3 has no SQLite to share")

_TX_COLUMNS = ("seq, hash, prev_hash, key, kind, booked_on, due, agreement, period, "
               "component, corrects, reason, reference, inputs_digest, meta, posted_at")
_XF_COLUMNS = "seq, idx, debit_party, debit_purpose, credit_party, credit_purpose, amount_fen"


def _uri(path: Path) -> str:
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def _write(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """A file whose ledger tables (untyped, no constraints: as a forger may leave them)
    hold the transactions and transfers of the joined rows ``rows``."""
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE ledger_transactions ({_TX_COLUMNS})")
    conn.execute(f"CREATE TABLE ledger_transfers ({_XF_COLUMNS})")
    heads: set[Any] = set()
    for row in rows:
        if row[0] not in heads or type(row[0]) is not int:
            heads.add(row[0])
            conn.execute(f"INSERT INTO ledger_transactions VALUES ({', '.join('?' * 16)})",
                         row[:16])
        if any(v is not None for v in row[16:]):
            conn.execute("INSERT INTO ledger_transfers VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (row[0], *row[16:]))
    conn.commit()
    conn.close()


def _cursor_rows(path: Path, last: int) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(_uri(path), uri=True)
    conn.text_factory = bytes
    try:
        return conn.execute(_SCAN, (1, last)).fetchall()
    finally:
        conn.close()


def _storable(value: Any) -> bool:
    return not (type(value) is int and not -(2**63) <= value < 2**63)


def _stored_hash(rows: list[tuple[Any, ...]]) -> Any:
    """What a checked snapshot holding ``rows`` says the stored hash at ``seq`` is."""
    def stored(seq: int) -> bytes | None:
        found = [r[1] for r in rows if r[0] == seq]
        return found[0] if found and type(found[0]) is bytes else None
    return stored


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_file_scan_reads_what_the_cursor_reads_and_accepts_only_what_python_accepts(
    sound_rows: list[tuple[Any, ...]],  # noqa: F811
    tmp_path: Path, data: st.DataObject,
) -> None:
    rows = data.draw(tampered(sound_rows))
    if not all(_storable(v) for row in rows for v in row):
        return  # SQLite stores no integer beyond 64 bits: nobody can write that file
    last = max(r[0] for r in sound_rows)
    path = tmp_path / "forged.db"
    path.unlink(missing_ok=True)  # the examples share the test's folder
    _write(path, rows)
    read = _cursor_rows(path, last)
    has_float = any(type(v) is float for row in read for v in row)
    assert scanc.file_rows(_uri(path), _SCAN, 1, last) == (None if has_float else read)

    file = _FileScan(_uri(path), _stored_hash(read))
    fast = _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=file)
    from_cursor = _scan_compiled(iter(read), 1, last, GENESIS.encode(), set(), None)
    assert (fast is None) == (from_cursor is None)
    slow, problems = _python(read, last)
    if fast is not None:
        assert_as_python(fast, slow, problems)


@pytest.fixture()
def ledger_file(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.db"
    with Ledger.open(path) as ledger:
        ledger.post_many(_transactions())
    return path


def test_a_sound_file_is_proven_by_the_file_scan(ledger_file: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _cursor_rows(ledger_file, 10**9)
    last = rows[-1][0]
    file = _FileScan(_uri(ledger_file), _stored_hash(rows))
    fast = _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=file)
    assert fast is not None and fast.compiled and len(fast.hashes) == last
    # `ledger verify` takes this path: with the cursor's compiled scan out of the way, it
    # still says the compiled scan ran
    monkeypatch.setattr(scanc, "scan", None)
    report = verify_file(ledger_file)
    assert report.ok and report.scan == "compiled"


def test_what_the_file_scan_proves_must_end_at_the_checked_snapshots_hash(
    ledger_file: Path,
) -> None:
    rows = _cursor_rows(ledger_file, 10**9)
    last = rows[-1][0]
    elsewhere = _FileScan(_uri(ledger_file), lambda seq: b"0" * 64)
    assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=elsewhere) is None
    missing = _FileScan(_uri(ledger_file), lambda seq: None)
    assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=missing) is None


def test_a_rewritten_file_is_read_on_the_checked_connection(ledger_file: Path,
                                                           tmp_path: Path) -> None:
    """The checked snapshot is the original; the file the compiled scan would read is a
    consistent forgery (an amount changed, every hash recomputed). The scan falls back to
    the checked connection's rows and proves those, never the forgery's."""
    rows = _cursor_rows(ledger_file, 10**9)
    forged_rows = [list(r) for r in rows]
    forged_rows[3][21] += 100
    forgery = tmp_path / "forgery.db"
    _write(forgery, _rehashed(forged_rows))
    conn = sqlite3.connect(_uri(ledger_file), uri=True, isolation_level=None)
    conn.text_factory = bytes
    try:
        conn.execute("BEGIN")
        scanned = _scan_here(conn, rows[-1][0], 1, file=str(forgery), mode="ro")
    finally:
        conn.close()
    assert scanned.problem is None
    assert scanned.hashes == [r[1] for r in rows if r[16] in (0, None)]


def test_transactions_appended_meanwhile_are_not_read(ledger_file: Path) -> None:
    conn = sqlite3.connect(_uri(ledger_file), uri=True, isolation_level=None)
    conn.text_factory = bytes
    try:
        conn.execute("BEGIN")
        count = conn.execute("SELECT count(*) FROM ledger_transactions").fetchone()[0]
        with Ledger.open(ledger_file) as ledger:  # another writer appends
            ledger.post_many([attrs.evolve(_transactions()[0], key="later/1")])
            assert ledger.verify().count == count + 1
        scanned = _scan_here(conn, count, 1, file=str(ledger_file), mode="ro")
    finally:
        conn.close()
    assert scanned.problem is None and scanned.compiled
    assert len(scanned.hashes) == count


def test_the_file_scan_keeps_nothing(ledger_file: Path) -> None:
    rows = _cursor_rows(ledger_file, 10**9)
    last = rows[-1][0]
    file = _FileScan(_uri(ledger_file), _stored_hash(rows))
    forged = _FileScan(_uri(ledger_file), lambda seq: b"0" * 64)

    def scans() -> None:
        for _ in range(10):
            assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None,
                                  file=file) is not None
            assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None,
                                  file=forged) is None
            assert scanc.file_rows(_uri(ledger_file), _SCAN, 1, last) == rows

    scans()  # warm: first-use allocations (interned strings, caches)
    tracemalloc.start()
    try:
        scans()
        before = tracemalloc.get_traced_memory()[0]
        scans()
        scans()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < 4096, after - before


def test_a_file_that_cannot_be_opened_is_read_on_the_checked_connection(
    ledger_file: Path,
) -> None:
    rows = _cursor_rows(ledger_file, 10**9)
    last = rows[-1][0]
    nowhere = _FileScan(_uri(ledger_file.with_name("missing.db")), _stored_hash(rows))
    assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=nowhere) is None
    assert scanc.file_rows(nowhere.uri, _SCAN, 1, last) is None


def test_file_scan_of_the_checked_connection(ledger_file: Path) -> None:
    conn = sqlite3.connect(_uri(ledger_file), uri=True, isolation_level=None)
    conn.text_factory = bytes
    try:
        assert _file_scan(conn, None, "ro") is None
        file = _file_scan(conn, str(ledger_file), "immutable")
        assert file is not None and file.uri.endswith("?immutable=1")
        assert file.stored_hash(1) == _cursor_rows(ledger_file, 1)[0][1]
        assert file.stored_hash(10**6) is None
    finally:
        conn.close()


def _utf16(value: Any) -> Any:
    """``value`` as a forger may store it in a UTF-16 file: a text whose UTF-16LE bytes
    are ``value``'s bytes where there is one, else unchanged (a BLOB, an integer)."""
    if type(value) is bytes and len(value) % 2 == 0:
        try:
            return value.decode("utf-16-le")
        except UnicodeDecodeError:
            pass
    return value


def test_a_utf16_file_is_read_as_the_cursor_reads_it(sound_rows: list[tuple[Any, ...]],  # noqa: F811
                                                     tmp_path: Path) -> None:
    """A database created with ``PRAGMA encoding = 'UTF-16le'`` stores its texts as UTF-16;
    Python's cursor gives them as UTF-8 bytes (what ``sqlite3_column_text`` returns), so the
    file scan must too, not the stored UTF-16 bytes. A forger stores each value of a sound
    ledger as the text whose UTF-16LE bytes it is (the last hash as it is, so that the
    checked snapshot's hash matches): Python's scan of that file finds it broken; the file
    scan must not call it sound."""
    last = max(r[0] for r in sound_rows)
    path = tmp_path / "utf16.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE made (x)")  # the encoding is fixed when the file is made
    conn.close()
    stored = [tuple(_utf16(v) if not (r[0] == last and k == 1) else v
                    for k, v in enumerate(r)) for r in sound_rows]
    _write(path, stored)
    read = _cursor_rows(path, last)
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
    check.close()
    assert read != sound_rows  # the cursor reads UTF-8, not the UTF-16 bytes
    assert scanc.file_rows(_uri(path), _SCAN, 1, last) == read
    file = _FileScan(_uri(path), _stored_hash(read))
    fast = _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=file)
    _slow, problems = _python(read, last)
    assert problems
    assert fast is None


def test_a_file_sqlite_fails_to_read_midway_is_read_on_the_checked_connection(
    ledger_file: Path, tmp_path: Path,
) -> None:
    """SQLite failing after the file opened (SQLITE_BUSY on the first step under a writer's
    lock, SQLITE_CORRUPT from a truncated copy) makes the file scan give up,
    with nothing raised, like any other doubt."""
    rows = _cursor_rows(ledger_file, 10**9)
    last = rows[-1][0]
    journal = tmp_path / "journal.db"
    source, copy = sqlite3.connect(ledger_file), sqlite3.connect(journal)
    source.backup(copy)
    source.close()
    assert copy.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    copy.close()
    locked = _FileScan(_uri(journal), _stored_hash(rows))
    assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None,
                          file=locked) is not None
    writer = sqlite3.connect(journal, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None,
                              file=locked) is None
        assert scanc.file_rows(locked.uri, _SCAN, 1, last) is None
    finally:
        writer.close()
    data = journal.read_bytes()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    cut = _FileScan(_uri(truncated), _stored_hash(rows))
    assert _scan_compiled(None, 1, last, GENESIS.encode(), set(), None, file=cut) is None
    assert scanc.file_rows(cut.uri, _SCAN, 1, last) is None
