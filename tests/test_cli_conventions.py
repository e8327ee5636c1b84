"""The command line follows the conventions of well-known CLIs (sqlite-utils, hledger).

-h as well as --help, help text on every option, --json on every command that prints data,
``-`` for stdout, $ECOCOMP_DB for --db, a transactions browser, a non-zero exit when there is
nothing to show, and shell completion.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from ecocomp.cli import KINDS_SHOWN, _commands, main
from ecocomp.ledger import KINDS, Ledger

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hunan-2021"
YEAR = "2021"

#: Commands that print data and so take --json (sqlite-utils and hledger do the same).
DATA_COMMANDS = {("check",), ("settle",), ("assess",), ("statement",), ("pay",), ("demo",),
                 ("ledger", "balances"), ("ledger", "verify"), ("ledger", "head"),
                 ("ledger", "checkpoint"), ("ledger", "transactions")}


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


COMMANDS = sorted(_commands(main))


# --------------------------------------------------------------------------- help


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS] + [()], ids=" ".join)
def test_every_command_answers_dash_h(path):
    short, long = run(*path, "-h"), run(*path, "--help")
    assert short.exit_code == 0, short.output
    assert short.output == long.output and "Usage:" in short.output


def test_every_option_of_every_command_has_help_text():
    missing = [f"{' '.join(path)} {param.opts[0]}"
               for path, command in [((), main), *COMMANDS]
               for param in command.params
               if isinstance(param, click.Option) and not (param.help or "").strip()]
    assert not missing, f"options without help: {missing}"


def test_commands_that_print_data_take_json():
    with_json = {path for path, command in COMMANDS
                 if any(p.name == "as_json" for p in command.params)}
    assert DATA_COMMANDS <= with_json, DATA_COMMANDS - with_json


def test_db_comes_from_ecocomp_db_everywhere_but_the_demo():
    for path, command in COMMANDS:
        for param in command.params:
            if param.name == "db":
                expected = None if path == ("demo",) else "ECOCOMP_DB"
                assert param.envvar == expected, path


def test_the_transactions_command_offers_every_ledger_kind():
    assert set(KINDS_SHOWN) == set(KINDS)


# --------------------------------------------------------------------------- $ECOCOMP_DB


def test_ecocomp_db_stands_in_for_db(settled):
    env = {"ECOCOMP_DB": str(settled)}
    verified = run("ledger", "verify", env=env)
    assert verified.exit_code == 0, verified.output
    assert verified.stdout.startswith("OK:")
    statement = run("statement", "430700", "--year", YEAR, "--json", env=env)
    assert statement.exit_code == 0 and json.loads(statement.stdout)["party"] == "430700"
    assert run("ledger", "verify").exit_code != 0  # without it --db is still needed


def test_an_explicit_db_wins_over_ecocomp_db(settled, tmp_path):
    result = run("ledger", "verify", "--db", settled, env={"ECOCOMP_DB": str(tmp_path / "x")})
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- --json


def test_check_json(tmp_path):
    good = run("check", EXAMPLE, "--json")
    assert good.exit_code == 0
    assert json.loads(good.stdout) == {"project": str(EXAMPLE), "ok": True, "problems": [],
                                       "warnings": []}
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    (broken / "parties.toml").write_text("[[party]]\ncode = 1\n", encoding="utf-8")
    bad = run("check", broken, "--json")
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["ok"] is False and data["problems"]


def test_checkpoint_json_is_the_new_head(db):
    result = run("ledger", "checkpoint", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    head = json.loads(result.stdout)
    with Ledger.open(db, create=False) as ledger:
        assert head == ledger.head().to_json()


def test_pay_json_is_the_recorded_transaction(db):
    result = run("pay", "--db", db, "--agreement", "lishui-zjj-cd-2020", "--year", YEAR,
                 "--payer", "430700", "--payee", "430800", "--amount", "300000",
                 "--date", "2022-04-20", "--reference", "J1", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["transaction"]["kind"] == "payment"
    assert data["transaction"]["reference"] == "J1" and data["already_recorded"] is False
    assert data["head"]["seq"] == data["transaction"]["seq"]


def test_demo_json(tmp_path):
    db = tmp_path / "demo.db"
    result = run("demo", "--db", db, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verify"]["ok"] is True and data["db"] == str(db)
    assert data["settlement"]["year"] == 2021 and data["settlement"]["nets"]


# --------------------------------------------------------------------------- "-" is stdout


def test_ledger_head_out_dash_prints_the_head_json(settled):
    result = run("ledger", "head", "--db", settled, "--out", "-")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["seq"] > 0 and not Path("-").exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_ledger_export_out_dash_writes_the_same_bytes_as_the_file(settled, tmp_path, fmt):
    path = tmp_path / f"ledger.{fmt}"
    assert run("ledger", "export", "--db", settled, "--out", path).exit_code == 0
    streamed = CliRunner().invoke(main, ["ledger", "export", "--db", str(settled), "--out",
                                         "-", "--format", fmt])
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout_bytes == path.read_bytes()


def test_ledger_export_to_stdout_needs_a_format(settled):
    result = run("ledger", "export", "--db", settled, "--out", "-")
    assert result.exit_code == 1 and "--format" in result.stderr


def test_settle_head_out_dash_prints_the_head(db):
    result = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--quiet",
                 "--head-out", "-")
    assert result.exit_code == 0, result.output
    start = result.stdout.index("{")
    head, _ = json.JSONDecoder().raw_decode(result.stdout[start:])
    assert head["seq"] > 0
    refused = run("settle", EXAMPLE, "--year", YEAR, "--db", db, "--json",
                  "--head-out", "-")
    assert refused.exit_code == 1 and "--head-out" in refused.stderr


# --------------------------------------------------------------------------- transactions


def _all(db: Path, **filters: Any) -> list[int]:
    with Ledger.open(db, create=False) as ledger:
        return [t.seq for t in ledger.transactions(**filters)]


def _seqs(result: Result) -> list[int]:
    assert result.exit_code == 0, result.output
    return [t["seq"] for t in json.loads(result.stdout)["transactions"]]


def test_transactions_lists_everything_by_default(settled):
    result = run("ledger", "transactions", "--db", settled, "--json")
    data = json.loads(result.stdout)
    assert data["count"] == len(data["transactions"]) == len(_all(settled))
    text = run("ledger", "transactions", "--db", settled)
    assert len(text.stdout.splitlines()) >= len(_all(settled))
    assert f"{len(_all(settled))} transaction(s)" in text.stderr


def test_transactions_filters_are_the_ledgers(settled):
    tx = "ledger", "transactions", "--db", settled, "--json"
    assert _seqs(run(*tx, "--party", "430700")) == _all(settled, party="430700")
    assert _seqs(run(*tx, "--party", "常德市")) == _all(settled, party="430700")
    assert _seqs(run(*tx, "--kind", "clearing")) == _all(settled, kind="clearing")
    assert _seqs(run(*tx, "--agreement", "lishui-zjj-cd-2020")) == _all(
        settled, agreement="lishui-zjj-cd-2020")
    march = _all(settled, period="2021-03")
    assert march and _seqs(run(*tx, "--period", "2021-03")) == march
    assert _seqs(run(*tx, "--period", "2021年3月")) == march
    assert _seqs(run(*tx, "--period", "2021/3")) == march
    whole = _seqs(run(*tx, "--period", "2021"))
    assert set(march) < set(whole) and set(_all(settled, period="2021")) < set(whole)
    assert _seqs(run(*tx, "--from", "2100-01-01")) == []
    assert _seqs(run(*tx, "--to", "2100/1/1")) == _all(settled)


def test_transactions_names_the_parties(settled):
    text = run("ledger", "transactions", "--db", settled, "--party", "430700").stdout
    assert "常德市 → 张家界市" in text or "张家界市 → 常德市" in text


@pytest.mark.parametrize("period", ["2021-13", "21-03", "March"])
def test_transactions_refuses_a_period_it_cannot_read(settled, period):
    result = run("ledger", "transactions", "--db", settled, "--period", period)
    assert result.exit_code == 1 and "not a period" in result.stderr


# --------------------------------------------------------------------------- exit status


def test_assess_exits_non_zero_when_the_year_has_no_readings(settled):
    result = run("assess", "--db", settled, "--year", "2019")
    assert result.exit_code == 1
    assert "no readings for 2019" in result.stderr and "Traceback" not in result.output
    assert run("assess", "--db", settled, "--year", "2019", "--json").exit_code == 1


# --------------------------------------------------------------------------- completion


def test_shell_completion_script_and_its_documentation():
    env = {**os.environ, "_ECOCOMP_COMPLETE": "bash_source"}
    code = "from ecocomp.cli import main; main(prog_name='ecocomp')"
    script = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=60)
    assert script.returncode == 0 and "complete" in script.stdout
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "_ECOCOMP_COMPLETE=bash_source ecocomp" in docs
    assert "docs/cli.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- docs/cli.md


CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
SH_BLOCKS = re.findall(r"```sh\n(.*?)```", CLI_DOC, re.S)


def test_cli_doc_has_runnable_examples():
    assert len(SH_BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(SH_BLOCKS)))
def test_cli_doc_shell_example_runs(index, settled, tmp_path):
    """Each sh block of docs/cli.md runs in a folder holding the settled example as settle.db."""
    shutil.copy(settled, tmp_path / "settle.db")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", SH_BLOCKS[index]],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    left = {p.name for p in tmp_path.iterdir()} - {"settle.db-wal", "settle.db-shm"}
    assert left == {"settle.db"}  # nothing left behind (SQLite's own files aside)


def test_every_date_option_reads_dates_as_people_write_them():
    from ecocomp.cli import DAY

    types = [p.type for _, command in COMMANDS for p in command.params]
    assert not any(isinstance(t, click.DateTime) for t in types)  # only %Y-%m-%d
    assert sum(t is DAY for t in types) >= 5  # --date, --as-of (2), --from, --to


def test_lang_may_follow_the_command(settled):
    after = run("assess", "--db", settled, "--year", YEAR, "--lang", "zh")
    assert after.exit_code == 0 and after.stdout.startswith("断面")
    assert run("--lang", "zh", "assess", "--db", settled, "--year", YEAR).stdout == after.stdout
