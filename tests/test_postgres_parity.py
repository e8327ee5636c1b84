"""SQLite and PostgreSQL give the same amounts, warnings, statements, reports and verify
verdicts for the same project and commands (the PostgreSQL parity campaign). Each test is
a difference found between the two backends that a user was not told about."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import edit
from postgres_server import login_role

import ecocomp

LISHUI = "agreements/lishui-zjj-cd-2020.toml"


def settle(project: Path, db: str, year: int = 2021) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 1))



def _cli(*args: str):
    from click.testing import CliRunner

    from ecocomp.cli import main

    return CliRunner().invoke(main, list(args))


def test_verify_with_readings_on_postgres_says_which_checks_it_cannot_run(project, pg_url):
    """`ledger verify --with-readings` on SQLite also compares the readings tables' schema
    with ecocomp's and runs SQLite's integrity_check over them; on PostgreSQL both were
    skipped and the OK line read the same, so a reader took them as done."""
    import json

    settle(project, pg_url, 2021)
    result = _cli("ledger", "verify", "--with-readings", "--json", "--db", pg_url)
    assert result.exit_code == 0, result.output
    unchecked = json.loads(result.output)["readings"]["unchecked"]
    assert any("schema" in u for u in unchecked) and any("pg_amcheck" in u for u in unchecked)
    text = _cli("ledger", "verify", "--with-readings", "--db", pg_url)
    assert text.exit_code == 0 and "not checked on PostgreSQL" in text.output


def test_demo_given_a_postgres_url_says_it_writes_an_sqlite_file():
    """`ecocomp demo --db postgresql://…` took the URL for a file name and said "the folder
    …/postgresql:/user@host:5432 does not exist" (exit 1); every other command without
    PostgreSQL support says that it works on an SQLite file, and exits 2."""
    result = _cli("demo", "--db", "postgresql://ecocomp@localhost/ecocomp")
    assert result.exit_code == 2, result.output
    assert "SQLite file" in result.output and "does not exist" not in result.output


def test_ledger_verify_on_postgres_says_the_storage_is_not_checked(project, pg_url):
    """`ledger verify` on SQLite also runs SQLite's integrity_check over the file (and says
    when --quick left the indexes out); on PostgreSQL it checks no storage and its OK line
    read the same, --quick included."""
    import json

    settle(project, pg_url, 2021)
    result = _cli("ledger", "verify", "--db", pg_url, "--json")
    assert result.exit_code == 0, result.output
    assert any("pg_amcheck" in u for u in json.loads(result.output)["unchecked"])
    text = _cli("ledger", "verify", "--db", pg_url, "--quick")
    assert text.exit_code == 0 and "pg_amcheck" in text.output


def test_a_writer_role_settles_a_database_made_before_the_terms_were_recorded(
        project, pg_url, tmp_path):
    """A database whose owner settled before `settlement_terms` existed (an upgrade) and a
    writer role (no right to create tables) settling next: the run failed with psycopg's
    InsufficientPrivilege. It settles, and says that the terms are not recorded and why."""
    from ecocomp import postgres
    from ecocomp.ledger.postgres import grant_writer

    readings = tmp_path / "readings.db"

    def run(url: str) -> ecocomp.SettlementResult:
        with ecocomp.Ledger.open(url) as ledger, ecocomp.ReadingStore.open(readings) as store:
            return ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                                  store=store, today=date(2022, 3, 1))

    first = run(pg_url)
    conn = postgres.connect(pg_url)
    try:
        conn.execute("DROP TABLE settlement_terms")  # as before the upgrade
    finally:
        conn.close()
    with login_role(pg_url, "parity_writer", grant_writer) as writer:
        again = run(writer)
        assert again.unchanged == first.posted
        assert [w for w in again.warnings if "settlement_terms" in w and "grant_writer" in w]


def test_a_database_error_on_postgres_is_described_not_a_traceback(project, pg_url):
    """A role that may only read, recording a payment: on SQLite a file it may not write
    gives one `error:` line (exit 1); on PostgreSQL psycopg's InsufficientPrivilege came out
    as a traceback."""

    settle(project, pg_url, 2021)
    with login_role(pg_url, "parity_reader", lambda c, name: c.execute(
            f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}")) as reader:
        result = _cli("pay", "--db", reader, "--agreement", "lishui-zjj-cd-2020", "--year",
                      "2021", "--payer", "430700", "--payee", "430800", "--amount", "1",
                      "--date", "2022-04-01", "--reference", "X")
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), \
            result.exception
        assert "error:" in result.output and "may not do this" in result.output
        assert "Traceback" not in result.output


def test_terms_recorded_in_a_migrated_sqlite_file_still_warn_on_postgres(
        project, pg_url, tmp_path):
    """2020 and 2021 settled into an SQLite file, `ledger migrate` to PostgreSQL, an
    agreement's terms edited, 2021 settled on PostgreSQL: the SQLite file would have warned
    that 2020 was settled under other terms; the copy had lost the recorded terms and said
    nothing."""
    db = str(tmp_path / "settle.db")
    settle(project, db, 2020)
    settle(project, db, 2021)
    result = _cli("ledger", "migrate", "--from", db, "--to", pg_url)
    assert result.exit_code == 0, result.output
    edit(project / LISHUI, 'II           = { payer = "none" }',
         'II           = { payer = "upstream", amount = 10 }')
    assert [w for w in settle(project, db, 2021).warnings if "2020 was settled under" in w]
    assert [w for w in settle(project, pg_url, 2021).warnings
            if "2020 was settled under" in w]
