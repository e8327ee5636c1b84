"""Chinese-first output, party names for codes, amounts and dates as typed, GBK consoles."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ecocomp.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "hunan-2021"
YEAR = "2021"
PAY = ["pay", "--agreement", "lishui-zjj-cd-2020", "--year", YEAR, "--reference", "GK-1"]


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


# --------------------------------------------------------------------------- language


def test_settle_summary_in_chinese_names_both_parties_with_codes(db):
    result = run("--lang", "zh", "settle", EXAMPLE, "--year", YEAR, "--db", db, "--quiet")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2021年度结算" in out
    assert ("lishui-zjj-cd-2020：常德市(430700) 向 张家界市(430800) 支付 800,000.00 元（80万元）"
            in out)
    assert "账本：新记 0 笔" in out


def test_the_locale_chooses_chinese_and_lang_overrides_it(settled):
    args = ("assess", "--db", settled, "--year", YEAR)
    zh_env = {"ECOCOMP_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": "zh_CN.UTF-8"}
    assert run(*args, env=zh_env).stdout.startswith("断面")
    assert run("--lang", "en", *args, env=zh_env).stdout.startswith("section")
    assert run(*args, env={"ECOCOMP_LANG": "zh"}).stdout.startswith("断面")
    assert run(*args).stdout.startswith("section")  # the tests' English default


def test_statement_in_chinese_with_daxie(settled):
    result = run("--lang", "zh", "statement", "430700", "--db", settled, "--year", YEAR,
                 "--as-of", "2022-05-01", "--daxie")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("2021年度对账单 — 常德市(430700)，截至 2022-05-01")
    assert "全年净额：-800,000.00 元（-80万元" in out
    assert "— 逾期" in out and "未结金额大写：人民币捌拾万元整" in out
    assert "对方 张家界市(430800)" in out


def test_english_statement_is_unchanged_and_adds_daxie_only_when_asked(settled):
    plain = run("statement", "430700", "--db", settled, "--year", YEAR, "--as-of", "2022-05-01")
    assert plain.stdout.startswith("Statement 2021 — 常德市 (430700)")
    assert "大写" not in plain.stdout
    words = run("statement", "430700", "--db", settled, "--year", YEAR, "--as-of",
                "2022-05-01", "--daxie")
    assert words.stdout.startswith(plain.stdout)
    assert "in words (大写): 人民币捌拾万元整" in words.stdout


def test_balances_show_names_beside_codes_and_wan(settled):
    zh = run("--lang", "zh", "ledger", "balances", "--db", settled).stdout
    assert "常德市(430700)" in zh and "-800,000.00" in zh and "-80" in zh and "万元" in zh
    en = run("ledger", "balances", "--db", settled).stdout
    assert "常德市 430700" in en


# --------------------------------------------------------------------------- names for codes


def _statement_json(db: Path, party: str) -> dict:
    result = run("statement", party, "--db", db, "--year", YEAR, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ["常德市", "常德", " 常德市 "])
def test_statement_takes_a_party_name(settled, name):
    assert _statement_json(settled, name) == _statement_json(settled, "430700")


def test_an_ambiguous_party_name_lists_the_candidates(settled):
    result = run("statement", "州", "--db", settled, "--year", YEAR)
    assert result.exit_code == 1
    assert "ambiguous" in result.stderr
    assert "永州市 (431100)" in result.stderr and "湘西土家族苗族自治州 (433100)" in result.stderr


def test_an_unknown_party_name_lists_the_known_parties(settled):
    result = run("statement", "北京市", "--db", settled, "--year", YEAR)
    assert result.exit_code == 1
    assert "'北京市' is not in the settled project" in result.stderr
    assert "常德市 (430700)" in result.stderr and "Traceback" not in result.output


# --------------------------------------------------------------------------- pay as typed


def test_pay_with_names_wan_and_a_chinese_date(db):
    result = run(*PAY, "--db", db, "--payer", "常德市", "--payee", "张家界", "--amount",
                 "80万元", "--date", "2022年4月20日", "--json")
    assert result.exit_code == 0, result.output
    tx = json.loads(result.stdout)["transaction"]
    assert tx["booked_on"] == "2022-04-20"
    assert tx["key"].startswith("lishui-zjj-cd-2020/2021/payment")
    assert {p for t in tx["transfers"] for p in (t["debit_party"], t["credit_party"])} == {
        "430700", "430800"}
    assert {Decimal(t["amount"]) for t in tx["transfers"]} == {Decimal("800000.00")}


@pytest.mark.parametrize("amount", ["80万", "800,000.00", "800000", "800000.00"])
def test_pay_amounts_written_four_ways_are_the_same_payment(db, amount):
    result = run(*PAY, "--db", db, "--payer", "430700", "--payee", "430800", "--amount",
                 amount, "--date", "2022/04/20", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["transaction"]["transfers"][0]["amount"] == "800000.00"


def test_pay_prints_a_notice_with_daxie(db):
    result = run("--lang", "zh", *PAY, "--db", db, "--payer", "430700", "--payee",
                 "430800", "--amount", "123.45", "--date", "2022-4-20", "--daxie")
    assert result.exit_code == 0, result.output
    assert "常德市(430700) 于 2022-04-20 向 张家界市(430800) 支付 123.45 元" in result.stdout
    assert "大写：人民币壹佰贰拾叁元肆角伍分" in result.stdout


def test_pay_refuses_a_date_that_does_not_exist(db):
    result = run(*PAY, "--db", db, "--payer", "430700", "--payee", "430800", "--amount",
                 "1", "--date", "2022年2月30日")
    assert result.exit_code == 2 and "not a date in the calendar" in result.stderr


# --------------------------------------------------------------------------- GBK consoles


def _gbk(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONIOENCODING": "gbk", "ECOCOMP_LANG": "zh"}
    code = "import sys; from ecocomp.cli import main; main(sys.argv[1:], prog_name='ecocomp')"
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          timeout=300)


def test_a_gbk_console_gets_every_command_without_a_crash(tmp_path):
    """m³/s (not in GBK) used to crash `statement` and `settle --json` on a Chinese Windows."""
    db = tmp_path / "gbk.db"
    settled = _gbk("settle", str(EXAMPLE), "--year", YEAR, "--db", str(db), "--json")
    assert settled.returncode == 0, settled.stderr.decode("gbk")
    data = json.loads(settled.stdout.decode("gbk"))
    assert "m³/s" in json.dumps(data, ensure_ascii=False)  # escaped in JSON, read back exact
    text = _gbk("statement", "430200", "--db", str(db), "--year", YEAR, "--daxie")
    assert text.returncode == 0, text.stderr.decode("gbk")
    shown = text.stdout.decode("gbk")
    assert "m3/s" in shown and "株洲市(430200)" in shown and "对账单" in shown
    statement = _gbk("statement", "430000", "--db", str(db), "--year", YEAR, "--json")
    assert statement.returncode == 0 and json.loads(statement.stdout.decode("gbk"))
    for args in (["assess", "--db", str(db), "--year", YEAR],
                 ["ledger", "transactions", "--db", str(db), "--party", "株洲市"],
                 ["ledger", "balances", "--db", str(db)],
                 ["ledger", "verify", "--db", str(db)],
                 ["settle", str(EXAMPLE), "--year", YEAR, "--db", str(db)]):
        done = _gbk(*args)
        assert done.returncode == 0, (args, done.stderr.decode("gbk"))
        done.stdout.decode("gbk")  # what reached the console is GBK throughout
