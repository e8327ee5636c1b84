"""The ``ecocomp`` command: exit codes, JSON shapes, reports, and no traceback for mistakes."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ecocomp.cli import main
from ecocomp.ledger import Ledger

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = "2021"
CONFLICT = "zz-extra.csv:lvbutou,2021-01-12,do,10.9,mg/L,manual,"  # 2021-manual.csv says 10.2
PAY = ["pay", "--agreement", "lishui-zjj-cd-2020", "--year", YEAR, "--payer", "430700",
       "--payee", "430800", "--reference", "R1"]


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def example_with(tmp_path: Path, **files: str) -> Path:
    """A copy of the example project plus long-format CSV rows, e.g. readings="zz.csv:row"."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    for folder, spec in files.items():
        for entry in spec.split(";"):
            name, row = entry.split(":", 1)
            (project / folder).mkdir(exist_ok=True)
            (project / folder / name).write_text(
                "section,sampled_at,parameter,value,unit,source,flag\n" + row + "\n",
                encoding="utf-8")
    return project


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception)


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    db = tmp_path_factory.mktemp("cli") / "settle.db"
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--json")
    assert result.exit_code == 0, result.output
    return db, json.loads(result.stdout)


@pytest.fixture
def db_copy(tmp_path: Path, settled: tuple[Path, dict[str, Any]]) -> Path:
    copy = tmp_path / "copy.db"
    shutil.copy(settled[0], copy)
    return copy


# --------------------------------------------------------------------------- check


def test_check_a_valid_project_exits_0():
    result = run("check", EXAMPLE)
    assert result.exit_code == 0, result.output
    assert "all files valid" in result.stdout


def test_check_a_broken_project_exits_1_with_one_line_per_problem(tmp_path):
    project = tmp_path / "broken"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    agreement = project / "agreements" / "lishui-zjj-cd-2020.toml"
    agreement.write_text(agreement.read_text(encoding="utf-8").replace(
        'upstream = "430800"', 'upstream = "439999"'), encoding="utf-8")
    (project / "readings" / "bad.csv").write_text(
        "section,sampled_at,parameter,value,unit,source,flag\n"
        "guiyangzhen,2021-05-03,nh3n,-0.2,mg/L,manual,\n"
        "nowhere,2021-05-03,nh3n,0.2,mg/L,manual,\n", encoding="utf-8")
    result = run("check", project)
    assert result.exit_code == 1
    no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: 3 problem(s)")
    problems = lines[1:]
    assert len(problems) == 3
    assert any("bad.csv:2:value" in line for line in problems)
    assert any("bad.csv:3:section" in line for line in problems)
    assert any("lishui-zjj-cd-2020.toml" in line and "upstream" in line for line in problems)


def test_check_a_missing_folder_exits_non_zero_without_traceback(tmp_path):
    result = run("check", tmp_path / "nowhere")
    assert result.exit_code != 0
    no_traceback(result)


# --------------------------------------------------------------------------- settle


def test_settle_json_has_the_spec_shape(settled):
    data = settled[1]
    assert data["year"] == 2021
    assert {"obligations", "nets", "posted", "unchanged", "adjusted"} <= set(data)
    assert data["posted"] > 0 and data["unchanged"] == data["adjusted"] == 0
    ob = data["obligations"][0]
    assert {"agreement", "period", "component", "payer", "payee", "amount", "basis"} <= set(ob)
    nets = {n["agreement"]: n for n in data["nets"]}
    lishui = nets["lishui-zjj-cd-2020"]
    assert (lishui["payer"], lishui["payee"], lishui["amount"], lishui["due"]) == (
        "430700", "430800", "800000.00", "2022-04-30")
    assert nets["lvshui-jx-hn-2019"]["amount"] == "8000000.00"


def test_settle_again_reports_everything_unchanged(db_copy, settled):
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db_copy, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["posted"], data["adjusted"]) == (0, 0)
    assert data["unchanged"] == settled[1]["posted"]


def test_settle_dry_run_writes_no_database(tmp_path):
    db = tmp_path / "dry.db"
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--dry-run", "--quiet")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing was written; a real run would post 62, leave 0" in result.stdout
    assert "lishui-zjj-cd-2020" in result.stdout
    assert not db.exists()


def test_settle_dry_run_previews_the_adjustments_of_a_correction(db_copy, tmp_path):
    project = example_with(tmp_path,
                           corrections="c.csv:guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,")

    def counts() -> tuple[int, int]:
        with sqlite3.connect(db_copy) as conn:
            return (conn.execute("SELECT count(*) FROM ledger_transactions").fetchone()[0],
                    conn.execute("SELECT count(*) FROM readings_imports").fetchone()[0])

    before = counts()
    dry = run("settle", project, "--year", YEAR, "--db", db_copy, "--dry-run", "--quiet")
    assert dry.exit_code == 0, dry.output
    assert counts() == before
    assert "a real run would post 1, leave 59 unchanged and adjust 3" in dry.stdout
    assert dry.stdout.count("  would adjust ") == 3
    real = run("settle", project, "--year", YEAR, "--db", db_copy, "--quiet")
    assert "ledger: 1 posted, 59 unchanged, 3 adjusted" in real.stdout


def test_settle_dry_run_on_a_file_that_is_not_a_ledger_fails_first(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"junk" * 100)
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", junk, "--dry-run")
    no_traceback(result)
    assert result.exit_code == 1 and "not an SQLite database" in result.output
    assert "imported" not in result.output


def test_settle_a_year_without_agreements_exits_1_with_one_line(tmp_path):
    result = run("settle", EXAMPLE, "--year", "2030", "--db", tmp_path / "x.db", "--quiet")
    assert result.exit_code == 1
    no_traceback(result)
    assert "in force in 2030" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_settle_a_missing_project_exits_1(tmp_path):
    result = run("settle", tmp_path / "nowhere", "--year", YEAR, "--db", tmp_path / "x.db")
    assert result.exit_code == 1
    no_traceback(result)
    assert not (tmp_path / "x.db").exists()


# --------------------------------------------------------------------------- assess


def test_assess_json_has_a_class_per_section_and_month(settled):
    result = run("assess", "--db", settled[0], "--year", YEAR, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    sections = {s["section"]: s for s in data["sections"]}
    assert sections["lishui-zjj-cd"]["months"] == [
        "I", "I", "II", "II", "III", "II", "III", "II", "II", "II", "II", "I"]
    assert sections["liyezhen"]["months"][7] is None
    assert sections["guiyangzhen"]["months"][6] == "III"


def test_assess_prints_a_roman_table(settled):
    result = run("assess", "--db", settled[0], "--year", YEAR)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("majiahe"))
    assert line.split()[2] == "Ⅳ"  # January


def test_assess_on_a_file_that_is_not_a_database_is_one_error_line(tmp_path):
    bogus = tmp_path / "notes.db"
    bogus.write_text("hello\n", encoding="utf-8")
    result = run("assess", "--db", bogus, "--year", YEAR)
    assert result.exit_code == 1
    no_traceback(result)


# --------------------------------------------------------------------------- ledger


def test_ledger_verify_exits_0_on_a_sound_ledger(settled):
    result = run("ledger", "verify", "--db", settled[0])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("OK")


def tamper(db: Path, seq: int) -> None:
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                ).fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    transfers = next(t for t in tables if "transfer" in t)
    changed = conn.execute(f"UPDATE {transfers} SET amount_fen = amount_fen + 100 "
                           "WHERE seq = ? AND idx = 0", (seq,)).rowcount
    assert changed == 1
    conn.commit()
    conn.close()


def test_ledger_verify_exits_1_naming_the_tampered_transaction(db_copy):
    tamper(db_copy, 7)
    result = run("ledger", "verify", "--db", db_copy)
    assert result.exit_code == 1
    no_traceback(result)
    assert "#7" in result.stderr
    as_json = run("ledger", "verify", "--db", db_copy, "--json")
    assert as_json.exit_code == 1
    data = json.loads(as_json.stdout)
    assert data["ok"] is False and data["first_bad_seq"] == 7


def test_ledger_verify_subprocess_exit_codes(db_copy):
    command = [sys.executable, "-m", "ecocomp.cli", "ledger", "verify", "--db", str(db_copy)]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    tamper(db_copy, 3)
    bad = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1
    assert "#3" in bad.stderr and "Traceback" not in bad.stderr


def test_ledger_balances_json_sums_to_zero_and_respects_as_of(settled):
    result = run("ledger", "balances", "--db", settled[0], "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert sum(Decimal(v) for v in data["balances"].values()) == 0
    assert data["balances"]["430700"] == "-800000.00"
    assert data["balances"]["430800"] == "800000.00"
    # by 2021-03-31 only 澧水 January and February are booked: 常德 owes 2 × 80万
    early = json.loads(run("ledger", "balances", "--db", settled[0], "--json",
                           "--as-of", "2021-03-31").stdout)
    assert early["as_of"] == "2021-03-31"
    assert early["balances"]["430700"] == "-1600000.00"
    assert sum(Decimal(v) for v in early["balances"].values()) == 0


def test_ledger_balances_before_anything_is_booked_are_empty_or_zero(settled):
    data = json.loads(run("ledger", "balances", "--db", settled[0], "--json",
                          "--as-of", "2020-12-31").stdout)
    assert all(Decimal(v) == 0 for v in data["balances"].values())


# --------------------------------------------------------------------------- statement, pay


def test_statement_json_shows_overdue_after_the_due_date(settled):
    result = run("statement", "430700", "--db", settled[0], "--year", YEAR,
                 "--as-of", "2022-05-01", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["party"] == "430700" and data["name"] == "常德市"
    assert data["overdue"] == "800000.00"
    lishui = next(a for a in data["agreements"] if a["agreement"] == "lishui-zjj-cd-2020")
    assert (lishui["open"], lishui["due"], lishui["overdue"]) == (
        "-800000.00", "2022-04-30", True)
    assert all(line["basis"] for line in data["lines"])


def test_pay_then_statement_shows_it_settled(db_copy):
    args = ["pay", "--db", db_copy, "--agreement", "lishui-zjj-cd-2020", "--year", YEAR,
            "--payer", "430700", "--payee", "430800", "--amount", "800000.00",
            "--date", "2022-04-20", "--reference", "GK2022-0042"]
    first = run(*args)
    assert first.exit_code == 0, first.output
    assert "payment recorded as transaction #" in first.output
    again = run(*args)
    assert again.exit_code == 0, again.output  # same reference: a no-op
    assert "was already recorded" in again.output and "nothing changed" in again.output
    data = json.loads(run("statement", "430700", "--db", db_copy, "--year", YEAR,
                          "--as-of", "2022-05-01", "--json").stdout)
    lishui = next(a for a in data["agreements"] if a["agreement"] == "lishui-zjj-cd-2020")
    assert (lishui["open"], lishui["overdue"]) == ("0.00", False)
    assert sum(1 for line in data["lines"] if line["kind"] == "payment") == 1
    assert run("ledger", "verify", "--db", db_copy).exit_code == 0


def test_overpaying_exits_1_with_one_line(db_copy):
    result = run("pay", "--db", db_copy, "--agreement", "lishui-zjj-cd-2020", "--year", YEAR,
                 "--payer", "430700", "--payee", "430800", "--amount", "900000.00",
                 "--date", "2022-04-20", "--reference", "GK-OVER")
    assert result.exit_code == 1
    no_traceback(result)
    assert "owes 800000.00" in result.stderr


def test_pay_with_an_amount_that_is_not_a_number_is_one_error_line(db_copy):
    result = run("pay", "--db", db_copy, "--agreement", "lishui-zjj-cd-2020", "--year", YEAR,
                 "--payer", "430700", "--payee", "430800", "--amount", "abc",
                 "--date", "2022-04-20", "--reference", "GK-ABC")
    assert result.exit_code == 1
    no_traceback(result)


# --------------------------------------------------------------------------- report


@pytest.mark.parametrize("suffix", [".html", ".xlsx", ".zip", "/"])
def test_report_writes_each_format(settled, tmp_path, suffix):
    out = tmp_path / f"report{suffix}"
    result = run("report", "--db", settled[0], "--year", YEAR, "--out", out)
    assert result.exit_code == 0, result.output
    if suffix == "/":
        assert (out / "nets.csv").read_bytes().startswith(b"\xef\xbb\xbf")
        return
    assert out.is_file() and out.stat().st_size > 1000
    if suffix == ".html":
        page = out.read_text(encoding="utf-8")
        assert "<svg" in page and "占位 placeholder" in page and "推定 inferred" in page
    if suffix == ".xlsx":
        openpyxl = pytest.importorskip("openpyxl")
        wb = openpyxl.load_workbook(out)
        assert "水质类别" in wb.sheetnames


def test_report_in_an_unknown_format_exits_1(settled, tmp_path):
    result = run("report", "--db", settled[0], "--year", YEAR, "--out", tmp_path / "r.pdf")
    assert result.exit_code == 1
    no_traceback(result)
    assert ".pdf" in result.stderr


def test_report_for_a_year_not_settled_exits_1(settled, tmp_path):
    result = run("report", "--db", settled[0], "--year", "2019", "--out", tmp_path / "r.html")
    assert result.exit_code == 1
    no_traceback(result)


def test_commands_on_a_missing_database_exit_non_zero(tmp_path):
    for args in (["ledger", "verify"], ["assess", "--year", YEAR],
                 ["statement", "430700", "--year", YEAR]):
        result = run(*args, "--db", tmp_path / "missing.db")
        assert result.exit_code != 0, args
        no_traceback(result)


# --------------------------------------------------------------------------- demo


def test_demo_settles_the_example_and_verifies(tmp_path):
    db = tmp_path / "demo.db"
    result = run("demo", "--db", db)
    assert result.exit_code == 0, result.output
    assert "ledger verify: OK" in result.stdout
    assert "lishui-zjj-cd-2020: 常德市 pays 张家界市 800,000.00 yuan" in result.stdout
    assert "lvshui-jx-hn-2019: 湖南省 pays 江西省 8,000,000.00 yuan" in result.stdout
    assert db.is_file()


def test_version_runs_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "ecocomp.cli", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "version" in done.stdout


# --------------------------------------------------------------------------- review findings


def test_a_year_out_of_range_is_a_usage_error_not_a_traceback(settled):
    result = run("assess", "--db", settled[0], "--year", "1800")
    assert result.exit_code == 2
    assert "1800" in result.output
    no_traceback(result)


def test_a_payment_in_fractions_of_a_fen_is_refused_not_rounded(db_copy):
    result = run("pay", "--db", db_copy, "--agreement", "lishui-zjj-cd-2020", "--year", YEAR,
                 "--payer", "430700", "--payee", "430800", "--amount", "0.005",
                 "--date", "2022-04-20", "--reference", "FEN")
    assert result.exit_code == 1
    assert "fractions of a fen" in result.stderr
    no_traceback(result)


def test_a_statement_for_an_unknown_party_exits_1(settled):
    result = run("statement", "999999", "--db", settled[0], "--year", YEAR)
    assert result.exit_code == 1
    assert "999999" in result.stderr
    no_traceback(result)


@pytest.mark.parametrize("command", [("ledger", "verify"), ("ledger", "balances"),
                                     ("ledger", "checkpoint")])
def test_ledger_commands_on_a_file_without_a_ledger_fail_and_leave_it_alone(tmp_path, command):
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    result = run(*command, "--db", other)
    no_traceback(result)
    assert result.exit_code == 1
    assert "no ecocomp ledger in this file" in result.output
    assert other.read_bytes() == before


def test_settle_into_a_missing_folder_names_the_folder(tmp_path):
    result = run("settle", EXAMPLE, "--year", "2021", "--db", tmp_path / "nope" / "s.db",
                 "--quiet")
    no_traceback(result)
    assert result.exit_code == 1
    assert "nope does not exist" in result.output


def test_a_failed_settle_prints_no_imported_lines(tmp_path):
    project = example_with(tmp_path, readings=CONFLICT)
    result = run("settle", project, "--year", "2021", "--db", tmp_path / "s.db")
    no_traceback(result)
    assert result.exit_code == 1
    assert "imported" not in result.output and "zz-extra.csv:2:value" in result.output


def test_a_statement_for_a_year_never_settled_exits_1(settled):
    result = run("statement", "430700", "--db", settled[0], "--year", "2020")
    no_traceback(result)
    assert result.exit_code == 1 and "nothing settled for 2020" in result.output


def test_an_agreement_accrued_but_not_yet_cleared_is_not_called_settled(settled):
    result = run("statement", "430700", "--db", settled[0], "--year", YEAR,
                 "--as-of", "2021-06-01")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "lishui-zjj-cd-2020" in x)
    assert line.endswith("— not yet cleared") and "accrued -800,000.00" in line
    data = json.loads(run("statement", "430700", "--db", settled[0], "--year", YEAR,
                          "--as-of", "2021-06-01", "--json").output)
    assert {a["state"] for a in data["agreements"]} == {"not yet cleared"}


def _tamper(db: Path) -> None:
    conn = sqlite3.connect(db)
    for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("UPDATE ledger_transfers SET amount_fen = amount_fen + 1 WHERE seq = 10")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("command", [
    ("statement", "430700", "--year", YEAR),
    ("report", "--year", YEAR, "--out", "{tmp}/r.html"),
    ("ledger", "balances"),
    ("settle", str(EXAMPLE), "--year", YEAR, "--quiet"),
    ("settle", str(EXAMPLE), "--year", YEAR, "--quiet", "--dry-run"),
    ("pay", *PAY[1:], "--amount", "5", "--date", "2022-04-20"),
])
def test_figures_from_a_tampered_ledger_are_refused(db_copy, tmp_path, command):
    _tamper(db_copy)
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = run(*args, "--db", db_copy)
    no_traceback(result)
    assert result.exit_code == 1
    assert "transaction #10" in result.output and "fails verification" in result.output
    assert not (tmp_path / "r.html").exists()




@pytest.mark.parametrize(("amount", "date", "says"), [
    ("NaN", "2022-04-20", "--amount: 'NaN' is not an amount; write yuan like 800000.00"),
    ("1e26", "2022-04-20", "--amount: 1e26 is beyond 1万亿 yuan"),
    ("1,5", "2022-04-20", "--amount: '1,5' is not an amount"),
    ("1_000", "2022-04-20", "--amount: '1_000' is not an amount"),
    ("\u0663", "2022-04-20", "is not an amount"),
    ("abc", "2022-04-20", "--amount: 'abc' is not an amount"),
    ("-5", "2022-04-20", "--amount: -5 is not a positive amount"),
    ("1.005", "2022-04-20", "--amount: 1.005 has fractions of a fen; write at most two"),
    ("5", "2019-01-01", "dated 2019-01-01, before 2021 began"),
])
def test_pay_refuses_bad_amounts_and_dates_in_plain_words(db_copy, amount, date, says):
    result = run(*PAY, "--db", db_copy, "--amount", amount, "--date", date)
    no_traceback(result)
    assert result.exit_code == 1
    assert says in result.output
    assert "--amount: --amount" not in result.output and "to_yuan" not in result.output
    assert "swap debit" not in result.output


def test_paying_under_an_unknown_agreement_names_it(db_copy):
    args = [a if a != "lishui-zjj-cd-2020" else "nope" for a in PAY]
    result = run(*args, "--db", db_copy, "--amount", "5", "--date", "2022-04-20")
    assert result.exit_code == 1
    assert "nothing is settled under agreement 'nope' for 2021" in result.output


def test_a_failed_first_settle_leaves_no_database_file(tmp_path):
    db = tmp_path / "new.db"
    result = run("settle", EXAMPLE, "--year", "2030", "--db", db, "--quiet")
    assert result.exit_code == 1 and "in force in 2030" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_one_problem_is_printed_as_one_line(tmp_path):
    project = example_with(tmp_path, readings="zz.csv:lvbutou,2021-01-12,do,-1,mg/L,manual,")
    result = run("settle", project, "--year", YEAR, "--db", tmp_path / "s.db", "--quiet")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "zz.csv:2:value" in errors[0], result.output


def test_check_finds_two_files_that_contradict_each_other(tmp_path):
    project = example_with(tmp_path, readings=CONFLICT)
    result = run("check", project)
    no_traceback(result)
    assert result.exit_code == 1
    assert "zz-extra.csv:2:value" in result.output and "already stored as 10.2" in result.output
    assert not list(tmp_path.glob("*.db"))


def test_a_thousands_separated_amount_is_read_as_written(db_copy):
    result = run(*PAY, "--db", db_copy, "--amount", "8,000.00", "--date", "2022-04-20")
    assert result.exit_code == 0, result.output
    data = json.loads(run("statement", "430700", "--db", db_copy, "--year", YEAR,
                          "--as-of", "2022-05-01", "--json").stdout)
    lishui = next(a for a in data["agreements"] if a["agreement"] == "lishui-zjj-cd-2020")
    assert lishui["paid"] == "-8000.00"


def test_a_blank_payment_reference_is_refused(db_copy):
    args = [a if a != "R1" else "   " for a in PAY]
    result = run(*args, "--db", db_copy, "--amount", "5", "--date", "2022-04-20")
    no_traceback(result)
    assert result.exit_code == 1 and "--reference: the bank or treasury reference is empty" in (
        result.output)


def test_a_dry_run_on_a_database_without_a_settlement_shows_codes(tmp_path):
    db = tmp_path / "empty.db"
    with Ledger.open(db):
        pass
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--dry-run", "--quiet")
    assert result.exit_code == 0, result.output
    assert "a real run would post 62" in result.stdout and "430700 pays 430800" in result.stdout


def test_a_dry_run_into_a_missing_folder_is_refused(tmp_path):
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", tmp_path / "no" / "s.db",
                 "--dry-run", "--quiet")
    no_traceback(result)
    assert result.exit_code == 1 and "does not exist" in result.output


def test_ledger_export_refuses_an_unknown_suffix_and_keeps_an_old_export(
    db_copy, tmp_path, monkeypatch
):
    bad = run("ledger", "export", "--db", db_copy, "--out", tmp_path / "x.txt")
    assert bad.exit_code == 1 and "use .csv or .json" in bad.output
    out = tmp_path / "ledger.csv"
    assert run("ledger", "export", "--db", db_copy, "--out", out).exit_code == 0
    before = out.read_bytes()

    def disk_full(_fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ecocomp.outputs.os.fsync", disk_full)
    failed = run("ledger", "export", "--db", db_copy, "--out", out)
    no_traceback(failed)
    assert failed.exit_code == 1 and f"{out}: No space left on device" in failed.output
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_import_lines_say_what_each_file_added(tmp_path):
    db = tmp_path / "s.db"
    first = run("settle", EXAMPLE, "--year", YEAR, "--db", db)
    assert first.exit_code == 0, first.output
    assert "imported 2021-manual.csv: 2,355 rows, 2,355 new" in first.stderr
    again = run("settle", EXAMPLE, "--year", YEAR, "--db", db)
    assert "imported 2021-manual.csv: 2,355 rows, nothing new" in again.stderr


def test_check_finds_two_corrections_files_that_disagree(tmp_path):
    project = example_with(tmp_path, corrections="a.csv:lishui-zjj-cd,2021-05-07,tp,0.08,mg/L,"
                           "manual,;b.csv:lishui-zjj-cd,2021-05-07,tp,0.12,mg/L,manual,")
    result = run("check", project)
    assert result.exit_code == 1
    assert "b.csv:2:value" in result.output and "also corrected in" in result.output
    assert "a.csv row 2, to 0.08; here 0.12" in result.output
    (project / "corrections" / "b.csv").unlink()
    assert run("check", project).exit_code == 0
