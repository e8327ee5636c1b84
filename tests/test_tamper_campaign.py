"""Regressions found by the tamper-evidence campaign: edits to the stored data, made with
SQLite directly by someone who can write the file, that ``ledger verify`` (with and without
``--with-readings``) reported as fine."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

from click.testing import CliRunner, Result

import ecocomp
from ecocomp.cli import main
from ecocomp.evidence import verify_readings

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def execute(db: Path, *statements: str) -> None:
    conn = sqlite3.connect(db)
    with conn:
        for sql in statements:
            assert conn.execute(sql).rowcount >= 1, sql
    conn.close()


# A raw 澧水 TP reading of 2021-03 raised by 1 mg/L, with the monthly sum raised to match:
# what the settlement of 2021 read no longer follows from the readings.
RAISE_READING = (
    "UPDATE readings SET value = '1.048', eff_units = 10480000000 WHERE id = "
    "(SELECT id FROM readings WHERE section = 'lishui-zjj-cd' AND parameter = 'tp' "
    "AND sampled_at LIKE '2021-03%' AND superseded_by IS NULL)",
    "UPDATE readings_monthly SET high = high + 1 WHERE section = 'lishui-zjj-cd' "
    "AND month = '2021-03' AND parameter = 'tp'",
)


def test_a_run_record_with_another_scheme_is_not_skipped(db: Path):
    """Renaming a run's ``scheme`` made ``--with-readings`` skip re-deriving it, while its
    digest still covered the ledger's transactions: edited readings passed as
    "1 settlement(s) re-derived"."""
    execute(db, *RAISE_READING, "UPDATE settlement_inputs SET scheme = 'inputs/0'")
    problems = verify_readings(db).problems
    assert any("settlement_inputs #1" in p and "inputs/0" in p for p in problems), problems
    result = run("ledger", "verify", "--db", db, "--with-readings")
    assert result.exit_code == 1, result.output
    assert "inputs/0" in result.output


def test_a_reading_whose_value_and_effective_value_disagree_is_named(db: Path):
    """The sums (and the digests) add ``eff_units``; exports and reports show ``value``. A
    raw value edited alone (0.048 → 0.9 mg/L TP) passed ``--with-readings``."""
    execute(db, "UPDATE readings SET value = '0.9' WHERE id = (SELECT id FROM readings "
                "WHERE section = 'lishui-zjj-cd' AND parameter = 'tp' "
                "AND sampled_at LIKE '2021-03%' AND superseded_by IS NULL)")
    problems = verify_readings(db).problems
    assert any("lishui-zjj-cd 2021-03" in p and "'0.9'" in p and "tp" in p
               for p in problems), problems
    result = run("ledger", "verify", "--db", db, "--with-readings")
    assert result.exit_code == 1 and "'0.9'" in result.output, result.output


def test_a_reading_value_that_is_not_a_plain_decimal_is_named(db: Path):
    """``int()`` and ``Decimal()`` read ``1_0`` and Arabic-Indic digits; the store never
    writes them."""
    execute(db, "UPDATE readings SET value = '4_8' WHERE id = (SELECT id FROM readings "
                "WHERE section = 'lishui-zjj-cd' AND parameter = 'tp' "
                "AND sampled_at LIKE '2021-03%' AND superseded_by IS NULL)")
    problems = verify_readings(db).problems
    assert any("'4_8'" in p for p in problems), problems


def test_a_flow_index_rebuilt_with_fewer_rows_behind_its_original_sql_is_found(
        db: Path, tmp_path: Path):
    """``readings_flow`` rebuilt without 马家河's December flows, ``sqlite_master`` set back
    to the original text: the next settlement read no day below the target and took back
    株洲's 5万 penalty, and ``--with-readings`` re-derived the same from the same index.
    (The automatic file's flows are stored packed; 马家河's December is made rows first,
    as a correction of that month would, so that the index holds them.)"""
    with ecocomp.ReadingStore.open(db) as store, store.transaction():
        store._explode("(VALUES ('majiahe', '2021-12'))")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM readings WHERE section = 'majiahe' AND "
                        "parameter = 'flow' AND sampled_at LIKE '2021-12%'").fetchone()[0]
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'readings_flow'").fetchone()[0]
    conn.execute("DROP INDEX readings_flow")
    conn.execute(sql + " AND NOT (section = 'majiahe' AND sampled_at LIKE '2021-12%')")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'readings_flow'", (sql,))
    conn.commit()
    conn.close()
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "readings" / "late.csv").write_text(  # a new state: the run reads in full
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "majiahe,2021-12-31T23:00:00,do,9.1,mg/L,manual,\n", encoding="utf-8")
    with ecocomp.Ledger.open(db) as ledger:
        result = ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                                today=date(2022, 3, 2))
    assert result.adjusted == 2  # the flow penalty, taken back
    problems = verify_readings(db).problems
    assert any(p.startswith("readings: ") and "readings_flow" in p for p in problems), problems
    out = run("ledger", "verify", "--db", db, "--with-readings")
    assert out.exit_code == 1 and "readings_flow" in out.output, out.output


def test_the_packed_groups_index_rebuilt_with_fewer_rows_behind_its_original_sql_is_found(
        db: Path, tmp_path: Path):
    """The same attack on packed readings: ``readings_packed_group`` rebuilt without
    马家河's December flows behind its original text. What reads through it misses them,
    and ``--with-readings`` finds the index does not match its table."""
    conn = sqlite3.connect(db)
    name = "readings_packed_group"
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
    assert conn.execute("SELECT count(*) FROM readings_packed WHERE section = 'majiahe' AND "
                        "month = '2021-12' AND parameter = 'flow'").fetchone()[0]
    conn.execute(f"DROP INDEX {name}")
    conn.execute(sql.replace("CREATE UNIQUE INDEX", "CREATE INDEX")
                 + " WHERE NOT (section = 'majiahe' AND month = '2021-12')")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql, name))
    conn.commit()
    conn.close()
    problems = verify_readings(db).problems
    assert any(p.startswith("readings_packed: ") and name in p for p in problems), problems
    out = run("ledger", "verify", "--db", db, "--with-readings")
    assert out.exit_code == 1 and name in out.output, out.output


def test_a_monthly_sum_stored_twice_in_a_table_rebuilt_without_its_key_is_found(db: Path):
    """``readings_monthly`` rebuilt without its primary key (``sqlite_master`` edited), one
    2019 sum stored twice: the comparison with the readings is by sets, so the copy "matched",
    and a settlement of 2020 would read the month twice."""
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO readings (section, sampled_at, parameter, source, value, "
                 "below_dl, flag, eff_units, eff_exp, import_id) VALUES ('lvbutou', "
                 "'2019-06-10T00:00:00', 'tp', 'manual', '0.3', 0, '', 3000000000, -1, 1)")
    conn.execute("INSERT INTO readings_monthly VALUES "
                 "('lvbutou', '2019-06', 'tp', 'manual', 1, 0, 3000000000, 0, -1, 0, 0, 0)")
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'readings_monthly'"
                       ).fetchone()[0]
    conn.execute("ALTER TABLE readings_monthly RENAME TO m0")
    conn.execute(sql.replace(",\n                PRIMARY KEY (section, month, parameter, "
                             "source)\n            ) STRICT, WITHOUT ROWID", ") STRICT"))
    conn.execute("INSERT INTO readings_monthly SELECT * FROM m0")
    conn.execute("INSERT INTO readings_monthly SELECT * FROM m0 WHERE month = '2019-06'")
    conn.execute("DROP TABLE m0")
    conn.commit()
    conn.close()
    problems = verify_readings(db).problems
    assert any("schema of the readings" in p and "table readings_monthly" in p
               for p in problems), problems


def test_an_extra_trigger_on_the_readings_is_found(db: Path):
    """A trigger that rewrites what the next import stores (here: every new TP reading
    halved in the sums) is ecocomp's no more than a changed table."""
    conn = sqlite3.connect(db)
    conn.execute("CREATE TRIGGER r AFTER INSERT ON readings WHEN new.parameter = 'tp' "
                 "BEGIN UPDATE readings SET eff_units = new.eff_units / 2 WHERE id = new.id; "
                 "END")
    conn.close()
    problems = verify_readings(db).problems
    assert any("unexpected trigger r on readings" in p for p in problems), problems


def test_a_run_record_ecocomp_cannot_have_written_is_named_not_a_traceback(db: Path):
    """``settlement_inputs`` is not ``STRICT``: its section-month digests as broken JSON, a
    JSON list or a year as text ended ``--with-readings`` in a traceback."""
    for sql, field in (("section_months = '{'", "section_months"),
                       ("section_months = '[]'", "section_months"),
                       ("year = '2021x'", "year")):
        copy = db.with_name(f"copy-{field}-{len(sql)}.db")
        shutil.copy(db, copy)
        execute(copy, f"UPDATE settlement_inputs SET {sql}")
        problems = verify_readings(copy).problems
        assert any(p.startswith("settlement_inputs #1: ") and field in p
                   for p in problems), problems
        result = run("ledger", "verify", "--db", copy, "--with-readings")
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (
            result.output)
        assert "settlement_inputs #1" in result.output


def test_a_reading_at_no_real_time_is_named_not_a_traceback(db: Path):
    """A reading moved to month 13 (or to 30 February) ended ``--with-readings`` in a
    traceback from the month it was grouped under."""
    for at in ("2021-13-45T00:00:00", "2021-02-30T00:00:00"):
        copy = db.with_name(f"copy-{at[5:10]}.db")
        shutil.copy(db, copy)
        execute(copy, f"UPDATE readings SET sampled_at = '{at}' WHERE id = 7")
        problems = verify_readings(copy).problems
        assert any(p.startswith("readings #7 ") and at in p for p in problems), problems


def test_quick_says_it_did_not_compare_an_index_that_hides_an_accrual(db: Path):
    """``ledger_transactions_agreement`` rebuilt without transaction #1, ``sqlite_master``
    set back: ``net(agreement=…)`` no longer sees an 80万 accrual, and ``--quick`` printed
    the same OK line as the full check."""
    conn = sqlite3.connect(db)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = "
                       "'ledger_transactions_agreement'").fetchone()[0]
    agreement = conn.execute("SELECT agreement FROM ledger_transactions WHERE seq = 1"
                             ).fetchone()[0]
    conn.execute("DROP INDEX ledger_transactions_agreement")
    conn.execute(sql + " WHERE seq <> 1")
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = "
                 "'ledger_transactions_agreement'", (sql,))
    conn.commit()
    conn.close()
    with ecocomp.Ledger.open(db, create=False) as ledger:
        assert 1 not in [t.seq for t in ledger.transactions(agreement=agreement)]
    full = run("ledger", "verify", "--db", db)
    assert full.exit_code == 1 and "ledger_transactions_agreement" in full.output
    quick = run("ledger", "verify", "--db", db, "--quick")
    assert quick.exit_code == 0  # quick_check cannot see it, by design ...
    assert "indexes were not compared" in quick.output  # ... and now says so


def test_an_edited_zero_amount_a_statement_shows_is_caught(db: Path):
    """The zero months and in-kind lines (``catalog_zero_amounts``) are what a statement
    shows under "nothing to pay … and why"; no digest covered them, so a payer and payee
    swapped there (or a line deleted) passed."""
    assert run("ledger", "verify", "--db", db).exit_code == 0
    execute(db, "UPDATE catalog_zero_amounts SET payer = payee, payee = payer WHERE rowid = "
                "(SELECT min(rowid) FROM catalog_zero_amounts)")
    result = run("ledger", "verify", "--db", db)
    assert result.exit_code == 1 and "zero amounts" in result.output, result.output
    with ecocomp.Ledger.open(db, create=False) as ledger:
        assert not ledger.verify().ok


def test_a_checkpoint_made_before_zero_amounts_were_covered_still_verifies(db: Path):
    """A checkpoint/2 whose catalog digest is the names-only catalog/1 (every checkpoint
    made before) still verifies; the zero amounts are covered from the next checkpoint on."""
    from ledger_forgery import opened_without_triggers

    from ecocomp.ledger import _store
    from ecocomp.ledger.checkpoints import _CATALOG_V1, _catalog_digest
    from ecocomp.ledger.hashing import checkpoint_message_v2
    from ecocomp.ledger.merkle import MerkleTree, leaf_hash

    with opened_without_triggers(db) as conn:  # what an older ecocomp wrote: catalog/1
        old = _catalog_digest(conn, *_CATALOG_V1)
        number, seq, created, prev = conn.execute(
            "SELECT number, seq, created_at, prev_hash FROM ledger_checkpoints "
            "ORDER BY number DESC LIMIT 1").fetchone()
        hashes = [h for (h,) in conn.execute(
            f"SELECT hash FROM {_store.TRANSACTIONS} WHERE seq <= ? ORDER BY seq", (seq,))]
        root = MerkleTree([leaf_hash(bytes.fromhex(h)) for h in hashes]).root(seq).hex()
        digest = hashlib.sha256(checkpoint_message_v2(prev, number, seq, root, old,
                                                      created)).hexdigest()
        conn.execute("UPDATE ledger_checkpoints SET catalog = ?, hash = ? WHERE number = ?",
                     (old, digest, number))
    assert run("ledger", "verify", "--db", db).exit_code == 0


def test_a_forged_run_record_does_not_make_settle_skip_a_correction(db: Path, tmp_path: Path):
    """``settlement_runs`` is a shortcut beside the ledger. Someone with the code can compute
    the fingerprint the next run will have (after a correction file is added) and record it
    in advance with the old result: ``settle`` then returned "nothing new", the correction
    was never settled, and ``--with-readings`` still re-derived the old run fine. A run is
    now reused only if the year's inputs were recorded at the current readings state."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "corrections").mkdir()
    (project / "corrections" / "fix.csv").write_text(  # 澧水 in March: class V
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "lishui-zjj-cd,2021-03-10,codmn,9.5,mg/L,manual,\n", encoding="utf-8")
    rehearsal = tmp_path / "rehearsal.db"  # the forger's copy: what will the run record?
    shutil.copy(db, rehearsal)
    with ecocomp.Ledger.open(rehearsal) as ledger:
        assert ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                              today=date(2022, 3, 2)).adjusted > 0
    conn = sqlite3.connect(rehearsal)
    (future,) = conn.execute("SELECT fingerprint FROM settlement_runs ORDER BY id DESC "
                             "LIMIT 1").fetchone()
    conn.close()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO settlement_runs (year, fingerprint, seq, unchanged, result, "
                     "recorded_at) SELECT year, ?, seq, unchanged, result, recorded_at FROM "
                     "settlement_runs ORDER BY id DESC LIMIT 1", (future,))
    conn.close()
    with ecocomp.Ledger.open(db) as ledger:
        result = ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                                today=date(2022, 3, 2))
    assert result.adjusted > 0  # settled in full: the correction is in the ledger
    assert verify_readings(db).ok


def test_json_says_not_ok_when_a_forged_payment_comes_after_the_checkpoint(db: Path):
    """A payment appended with a recomputed chain after the latest checkpoint: ``ledger
    verify`` exits 1 and says so, but ``--json`` printed ``"ok": true`` (the rows' verdict)
    with the error only in ``tail``."""
    from ecocomp.ledger import NewTransaction, Transfer

    with ecocomp.Ledger.open(db, create=False) as ledger:
        ledger.post(NewTransaction(
            key="forged/payment", kind="payment", booked_on=date(2022, 5, 1), reference="X1",
            transfers=[Transfer.between("430700", "430800", "1.00", purpose="settled")]))
    result = run("ledger", "verify", "--db", db, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["ok"] is False and data["tail"].startswith("error"), data


def test_a_statement_warns_of_lines_its_receipt_does_not_cover(db: Path):
    """A payment appended after the latest checkpoint was shown in ``ecocomp statement`` as
    a line like any other, above a receipt that does not cover it, without a word."""
    from ecocomp.ledger import NewTransaction, Transfer

    with ecocomp.Ledger.open(db, create=False) as ledger:
        seq = ledger.post(NewTransaction(
            key="lishui-zjj-cd-2020/2021/payment/FORGED", kind="payment",
            agreement="lishui-zjj-cd-2020", period="2021", component="payment",
            booked_on=date(2021, 12, 30), reference="FORGED-1",
            transfers=[Transfer.between("430700", "430800", "800000.00",
                                        purpose="settled")])).transaction.seq
    for extra in ((), ("--json",)):
        result = run("statement", "430700", "--db", db, "--year", "2021", *extra)
        assert result.exit_code == 0, result.output
        assert f"warning: line(s) #{seq} come after the receipt's checkpoint" in result.stderr
