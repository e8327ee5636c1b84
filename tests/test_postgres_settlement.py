"""The bundled example year settled with its ledger on PostgreSQL equals the SQLite run.

Issue 15's "done when": identical obligations, nets and ledger head (chain hash, Merkle
root, catalog digest, checkpoint hash). Also the command line: ``ledger migrate`` from
the demo's SQLite file to PostgreSQL, then ``ledger verify/head/balances`` on the URL.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import EXAMPLE
from postgres_server import login_role
from test_postgres_ledger import _sql

import ecocomp
from ecocomp import postgres
from ecocomp.cli import main
from ecocomp.errors import ProjectMismatch
from ecocomp.store import ReadingStore

pytestmark = pytest.mark.slow

TODAY = date(2022, 3, 1)


def clock() -> datetime:
    return datetime(2022, 3, 1, 8, 0, tzinfo=UTC)


def _settle(db: str, readings: Path) -> tuple[ecocomp.SettlementResult, ecocomp.Ledger]:
    ledger = ecocomp.Ledger.open(db, clock=clock)
    with ReadingStore.open(readings) as store:
        result = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                                store=store, today=TODAY)
    return result, ledger


def test_the_example_year_settles_to_the_same_obligations_nets_and_head(
    pg_url: str, tmp_path: Path
):
    on_sqlite, lite = _settle(str(tmp_path / "settle.db"), tmp_path / "settle.db")
    on_postgres, pg = _settle(pg_url, tmp_path / "readings.db")
    with lite, pg:
        assert on_postgres.posted == on_sqlite.posted > 0
        assert on_postgres.obligations == on_sqlite.obligations
        assert on_postgres.nets == on_sqlite.nets
        assert on_postgres.head == on_sqlite.head is not None
        assert pg.verify().head == lite.verify().head
        assert pg.net(agreement="lvshui-jx-hn-2019") == lite.net(agreement="lvshui-jx-hn-2019")
        assert pg.balances() == lite.balances()
    again, pg = _settle(pg_url, tmp_path / "readings.db")  # idempotent on PostgreSQL too
    with pg:
        assert again.posted == 0 and again.unchanged == on_sqlite.posted
        assert again.head == on_sqlite.head
        assert pg.verify().ok


def test_a_writer_role_settles_once_the_owner_made_the_tables(pg_url: str, tmp_path: Path):
    from ecocomp.ledger.postgres import grant_writer

    first, owner = _settle(pg_url, tmp_path / "readings.db")
    owner.close()
    with login_role(pg_url, "ecocomp_settler", grant_writer) as writer:
        again, ledger = _settle(writer, tmp_path / "readings.db")
        with ledger:
            assert again.unchanged == first.posted and again.head == first.head
            assert ledger.verify().ok


def test_another_project_is_refused_as_on_sqlite(pg_url: str, tmp_path: Path):
    _settle(pg_url, tmp_path / "readings.db")[1].close()
    other = tmp_path / "other"
    shutil.copytree(EXAMPLE, other)
    (other / "project.toml").write_text('id = "another-project"\n', encoding="utf-8")
    with ecocomp.Ledger.open(pg_url, clock=clock) as ledger, \
            ReadingStore.open(tmp_path / "other.db") as store, \
            pytest.raises(ProjectMismatch, match="hunan-2021-example") as caught:
        ecocomp.settle(ecocomp.load_project(other), year=2021, ledger=ledger, store=store,
                       today=TODAY)
    assert "postgresql://" in str(caught.value) and "object at" not in str(caught.value)


def _count(url: str, table: str) -> int:
    conn = postgres.connect(url)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def test_settle_keeps_the_readings_beside_a_postgres_ledger(pg_url: str, tmp_path: Path):
    on_sqlite, lite = _settle(str(tmp_path / "settle.db"), tmp_path / "settle.db")
    with ecocomp.Ledger.open(pg_url, clock=clock) as ledger:  # no store: the ledger's database
        on_postgres = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                                     today=TODAY)
    with lite, ReadingStore.open(tmp_path / "settle.db") as stored:
        assert on_postgres.obligations == on_sqlite.obligations
        assert on_postgres.nets == on_sqlite.nets
        assert on_postgres.head == on_sqlite.head
        assert _count(pg_url, "readings") == len(list(stored.readings())) > 0
        assert _count(pg_url, "readings_monthly") == len(list(stored.aggregates("2021"))) + len(
            list(stored.aggregates("2020")))


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_ledger_migrate_copies_the_demo_to_postgres_and_proves_the_same_head(
    pg_url: str, tmp_path: Path
):
    db = tmp_path / "demo.db"
    assert _run("demo", "--db", str(db))[0] == 0
    code, out, err = _run("ledger", "migrate", "--from", str(db), "--to", pg_url)
    assert code == 0, err
    assert "both ledgers verify" in out
    heads = []
    for where in (str(db), pg_url):
        code, out, err = _run("ledger", "head", "--db", where, "--json")
        assert code == 0, err
        heads.append(json.loads(out))
    assert heads[0] == heads[1]
    code, out, err = _run("ledger", "verify", "--db", pg_url)
    assert code == 0 and out.startswith("OK:"), err
    assert _run("ledger", "balances", "--db", pg_url, "--json")[1] == _run(
        "ledger", "balances", "--db", str(db), "--json")[1]
    for where, out in ((str(db), tmp_path / "lite.json"), (pg_url, tmp_path / "pg.json")):
        assert _run("ledger", "export", "--db", where, "--out", str(out))[0] == 0
    assert (tmp_path / "pg.json").read_bytes() == (tmp_path / "lite.json").read_bytes()
    # again: nothing new to copy, the same head
    code, out, _ = _run("ledger", "migrate", "--from", str(db), "--to", pg_url)
    assert code == 0 and out.startswith("copied 0 transactions and 0 checkpoints")


def test_ledger_migrate_refuses_a_target_holding_another_ledger(pg_url: str, tmp_path: Path):
    db = tmp_path / "demo.db"
    assert _run("demo", "--db", str(db))[0] == 0
    with ecocomp.Ledger.open(pg_url) as ledger:
        ledger.post(ecocomp.NewTransaction(
            key="other", kind="payment", booked_on=date(2022, 1, 1),
            transfers=[ecocomp.Transfer.between("430700", "430800", 1, purpose="paid")]))
    code, _, err = _run("ledger", "migrate", "--from", str(db), "--to", pg_url)
    assert code == 1 and "not the start of the source" in err and "Traceback" not in err
    with ecocomp.Ledger.open(pg_url) as ledger:
        assert len(ledger) == 1


def test_commands_without_postgres_support_say_so(pg_url: str):
    code, _, err = _run("air", "aqi", "--db", pg_url, "--year", "2021")
    assert code == 2 and "reads an SQLite file" in err and "air readings live in" in err
    code, _, err = _run("ledger", "backup", "--db", pg_url, "out.db")
    assert code == 2 and "pg_dump" in err
    code, _, err = _run("ledger", "head", "--db", pg_url)  # an empty database: no ledger
    assert code == 1 and "no ecocomp ledger in this database" in err
    assert postgres.redacted(pg_url) in err


def test_the_postgres_benchmark_runs_and_prints_both_backends(pg_server: str, capsys):
    from benchmarks.bench_postgres import main as bench

    assert bench(["--url", pg_server, "--sections", "1", "--ledger", "50",
                  "--settlers", "2"]) == 0
    out = capsys.readouterr().out
    assert "SQLite" in out and "PostgreSQL" in out
    assert len([line for line in out.splitlines() if line.strip()]) == 8  # heading + 7


def test_the_example_year_settled_by_the_cli_into_postgres_equals_sqlite(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Issue 15's done-when, from the command line: readings, ledger and catalog in one
    PostgreSQL database give the obligations and nets of the SQLite file (the head, which
    hashes the time of posting, is compared under one clock in the test above)."""
    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--db",
                          str(tmp_path / "settle.db"), "--json")
    assert code == 0, err
    on_sqlite = json.loads(out)
    monkeypatch.setenv("ECOCOMP_DB", pg_url)  # $ECOCOMP_DB names the database too
    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--json", "--dry-run")
    assert code == 0, err  # an empty database: a preview that creates nothing
    assert json.loads(out)["posted"] == on_sqlite["posted"] and _count(pg_url, "pg_class "
        "WHERE relname = 'readings'") == 0
    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--json")
    assert code == 0, err
    on_postgres = json.loads(out)
    for key in ("obligations", "nets", "posted", "unchanged", "adjusted", "warnings"):
        assert on_postgres[key] == on_sqlite[key], key
    assert on_postgres["posted"] > 0
    head = json.loads(_run("ledger", "head", "--db", pg_url, "--json")[1])
    assert head["seq"] == on_sqlite["head"]["seq"]
    assert head["chain"] == on_postgres["head"]["chain"] and head["unvouched"] == 0
    code, out, err = _run("ledger", "verify", "--db", pg_url)
    assert code == 0 and out.startswith("OK:"), err
    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--json")  # idempotent
    assert code == 0, err
    assert json.loads(out)["posted"] == 0 and json.loads(out)["head"] == on_postgres["head"]
    # a finance office's day: a statement, a payment, the transactions — as on SQLite
    for db in (str(tmp_path / "settle.db"), pg_url):
        code, out, err = _run("pay", "--db", db, "--agreement", "lishui-zjj-cd-2020",
                              "--year", "2021", "--payer", "常德市", "--payee", "430800",
                              "--amount", "80万", "--date", "2022-04-20",
                              "--reference", "GK2022-0042")
        assert code == 0, err
    shown = [json.loads(_run("statement", "常德", "--db", db, "--year", "2021",
                             "--as-of", "2022-05-01", "--json")[1])
             for db in (str(tmp_path / "settle.db"), pg_url)]
    for st in shown:  # the receipt's head and each line's hash hash the time of posting
        del st["receipt"]
        for line in st["lines"]:
            line.pop("hash", None)
            line.pop("posted_at", None)
    assert shown[0] == shown[1] and shown[0]["party"] == "430700"
    assert any(line["kind"] == "payment" for line in shown[1]["lines"])
    listed = [[{k: v for k, v in tx.items() if k not in ("hash", "prev_hash", "posted_at")}
               for tx in json.loads(_run("ledger", "transactions", "--db", db, "--party",
                                         "常德市", "--json")[1])["transactions"]]
              for db in (str(tmp_path / "settle.db"), pg_url)]
    assert listed[0] == listed[1] and any(tx["kind"] == "payment" for tx in listed[1])
    classes = [json.loads(_run("assess", "--db", db, "--year", "2021", "--json")[1])
               for db in (str(tmp_path / "settle.db"), pg_url)]
    assert classes[0] == classes[1] and classes[0]["sections"]
    code, out, err = _run("report", "--db", pg_url, "--year", "2021", "--out",
                          str(tmp_path / "report.html"))
    assert code == 0 and "常德市" in (tmp_path / "report.html").read_text(encoding="utf-8"), err
    code, out, err = _run("ledger", "verify", "--db", pg_url, "--with-readings")
    assert code == 0 and "monthly sums match the stored readings" in out, out + err
    code, out, err = _run("readings", "forget", "2021-wide-lishui.csv")
    assert code == 0 and "264 readings removed from postgresql://" in out, err
    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--quiet")
    assert code == 0, err
    # the runs before the forget are rebuilt from PostgreSQL's rows (a note, as on SQLite)
    code, out, err = _run("ledger", "verify", "--db", pg_url, "--with-readings")
    assert code == 0 and "note: settlement of 2021" in err, out + err
    _sql(pg_url, "UPDATE readings_monthly SET high = high + 1 WHERE section = 'jinyushi' "
                 "AND month = '2021-03' AND parameter = 'cd'")
    code, out, err = _run("ledger", "verify", "--db", pg_url, "--with-readings")
    assert code == 1 and "stored sums of jinyushi 2021-03" in err, out + err


def test_a_bad_file_in_a_run_on_postgres_writes_nothing(pg_url: str, tmp_path: Path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "readings" / "z-bad.csv").write_text(
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "jinyushi,2021-13-01,nh3n,0.2,mg/L,manual,\n", encoding="utf-8")
    code, out, err = _run("settle", str(project), "--year", "2021", "--db", pg_url)
    assert code == 1 and "z-bad.csv:2" in out + err and "Traceback" not in out + err
    for table in ("readings", "readings_imports", "readings_monthly"):
        assert _count(pg_url, table) == 0, table  # the good files before it: rolled back too


def test_a_project_with_air_data_is_refused_on_postgres(pg_url: str, tmp_path: Path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    (project / "air-readings").mkdir()
    code, out, err = _run("settle", str(project), "--year", "2021", "--db", pg_url)
    assert code == 1 and "air readings are kept in an SQLite file only" in out + err


def test_a_writer_role_settles_with_the_readings_once_granted(pg_url: str, tmp_path: Path):
    from ecocomp.ledger.postgres import grant_writer
    from ecocomp.store import StoreError
    from ecocomp.store_postgres import grant_readings

    code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--db", pg_url, "--json")
    assert code == 0, err  # as the owner: creates the tables
    posted = json.loads(out)["posted"]

    def grant(conn: postgres.Connection, role: str) -> None:
        grant_writer(conn, role)
        grant_readings(conn, role, years=[2022])

    with login_role(pg_url, "ecocomp_importer", grant) as writer:
        code, out, err = _run("settle", str(EXAMPLE), "--year", "2021", "--db", writer,
                              "--json")
        assert code == 0, err
        assert json.loads(out)["unchanged"] == posted
        late = tmp_path / "late.csv"
        late.write_text("section,sampled_at,parameter,value,unit,source,flag\n"
                        "jinyushi,2022-01-05,nh3n,0.2,mg/L,manual,\n"
                        "jinyushi,2019-01-05,nh3n,0.2,mg/L,manual,\n", encoding="utf-8")
        with ReadingStore.open(writer) as store:
            with pytest.raises(StoreError, match=r"readings_y2019.*grant_readings"):
                store.import_file(late)
            late.write_text(late.read_text(encoding="utf-8").rsplit("jinyushi,2019", 1)[0],
                            encoding="utf-8")
            assert store.import_file(late).inserted == 1  # 2022: the owner made its partition
