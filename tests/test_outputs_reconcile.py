"""Every output that shows an amount shows the same amount, to the fen.

A user reads the same money in many places: ``settle`` (text and ``--json``), ``statement``
(text in both languages and ``--json``), the report (.html, .xlsx, CSV tables in a .zip),
``ledger balances`` and the Python API. Each test here takes one quantity — a net per
agreement and pair of parties, a party's balance per agreement, a month's obligation, a
total row, a balance as of a day — out of two or more outputs, parsed as a user's program
would parse them (JSON directly, the .xlsx with openpyxl, the HTML with ``html.parser``, the
text with regular expressions), and asserts they are equal to the fen.

The ledger under test is a workflow that makes outputs diverge if anything can: two settled
years, payments with odd fen, a correction re-settled, payments reversed, each booked on its
own day, read as of days before, on and after each booking.

The tests named ``test_found_...`` each failed before the fix they name.
"""

from __future__ import annotations

import csv
import decimal
import io
import json
import re
import shutil
import zipfile
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import attrs
import openpyxl
import pytest
from click.testing import CliRunner
from conftest import EXAMPLE

import ecocomp
from ecocomp.catalog import load_catalog, load_zero_amounts
from ecocomp.cli import main
from ecocomp.formatting import format_wan, format_yuan_grouped
from ecocomp.reports import build_report, rendered_report, wan_text, written_report, yuan_text
from ecocomp.statements import build_statement, party_statement

HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
LISHUI = "lishui-zjj-cd-2020"
YOUSHUI = "youshui-cq-hn-2019"
PARK = EXAMPLE.parent / "nanshan-2026"
#: The days each year is read as of: before, on and after each booking of the workflow.
DAYS = {
    2020: ("2020-12-31", "2021-04-02", "2022-05-26"),
    2021: ("2021-12-30", "2021-12-31", "2022-04-20", "2022-05-20", "2022-05-25", "2030-01-01"),
}
FINAL = "2030-01-01"


# --------------------------------------------------------------------------- the workflow


@pytest.fixture(scope="module")
def workflow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """2020 and 2021 settled, paid (odd fen), 2021 corrected and settled again, two
    payments reversed — each on its own day. Returns the database and the settle results."""
    folder = tmp_path_factory.mktemp("reconcile")
    project = folder / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    path = folder / "settle.db"

    def day(text: str) -> date:
        return date.fromisoformat(text)

    with ecocomp.Ledger.open(path) as ledger:
        first = ecocomp.settle(ecocomp.load_project(project), year=2020, ledger=ledger,
                               today=day("2021-03-01"))
        ecocomp.pay(ledger, agreement=YOUSHUI, year=2020, payer="430000", payee="500000",
                    amount=Decimal("1234567.89"), paid_on=day("2021-04-02"), reference="A1",
                    today=day("2021-04-02"))
        ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                       today=day("2022-03-01"))
        ecocomp.pay(ledger, agreement=LISHUI, year=2021, payer="430700", payee="430800",
                    amount=Decimal("300000.01"), paid_on=day("2022-04-20"), reference="GK1",
                    today=day("2022-04-20"))
        ecocomp.pay(ledger, agreement=YOUSHUI, year=2020, payer="430000", payee="500000",
                    amount=Decimal("0.01"), paid_on=day("2022-04-21"), reference="A2",
                    today=day("2022-04-21"))
        (project / "corrections").mkdir()
        (project / "corrections" / "x.csv").write_text(
            HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
        second = ecocomp.settle(ecocomp.load_project(project), year=2021, ledger=ledger,
                                today=day("2022-05-20"))
        assert second.adjusted > 0
        ecocomp.reverse_payment(ledger, reference="GK1", reason="bounced", agreement=LISHUI,
                                year=2021, booked_on=day("2022-05-25"), today=day("2022-05-25"))
        ecocomp.reverse_payment(ledger, reference="A1", reason="returned", agreement=YOUSHUI,
                                year=2020, booked_on=day("2022-05-26"), today=day("2022-05-26"))
        parties = sorted({p for tx in ledger.transactions() for p in tx.parties})
        booked = sorted({tx.booked_on for tx in ledger.transactions()})
    return {"db": path, "settled": {2020: first.to_json(), 2021: second.to_json()},
            "parties": parties, "booked": booked}


def cli(*args: str) -> bytes:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


# --------------------------------------------------------------------------- reading outputs


def money(text: str) -> Decimal:
    """``-1,234.56 元`` (or ``+1,234.56``) as Decimal yuan."""
    return Decimal(text.replace("元", "").replace(",", "").strip())


def code_of(who: str) -> str:
    """``常德市 (430700)`` → ``430700``."""
    found = re.search(r"\(([^()]+)\)$", who.strip())
    assert found, who
    return found.group(1)


class _Tables(HTMLParser):
    """Every <table> of a page: the ids of the sections around it, the heading before it,
    and its rows as (thead/tbody/tfoot, [cell texts])."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict[str, Any]] = []
        self._sections: list[str | None] = []
        self._heading: str = ""
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self._part = ""
        self._in_heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._sections.append(dict(attrs).get("id"))
        elif tag == "table":
            self.tables.append({"sections": list(self._sections), "heading": self._heading,
                                "rows": []})
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._text = []
        elif tag in ("h2", "h3"):
            self._in_heading, self._heading = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._sections.pop()
        elif tag in ("td", "th") and self._text is not None and self._row is not None:
            self._row.append(" ".join("".join(self._text).split()))
            self._text = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1]["rows"].append((self._part, self._row))
            self._row = None
        elif tag in ("h2", "h3"):
            self._in_heading = False
            self._heading = " ".join(self._heading.split())

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._in_heading:
            self._heading += data


def html_tables(page: str) -> list[dict[str, Any]]:
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def body(table: dict[str, Any]) -> list[list[str]]:
    return [cells for part, cells in table["rows"] if part == "tbody"]


def head(table: dict[str, Any]) -> list[str]:
    return next(cells for part, cells in table["rows"] if part == "thead")


def xlsx_decimal(value: Any) -> Decimal:
    """A number cell as Decimal (openpyxl reads int or float; repr of a float round-trips)."""
    assert isinstance(value, int | float), value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class Views:
    """One year's report as of one day, in its three formats, plus the statements."""

    def __init__(self, db: Path, year: int, as_of: str) -> None:
        args = ("report", "--db", str(db), "--year", str(year), "--out", "-",
                "--as-of", as_of)
        self.html = cli(*args).decode("utf-8")
        self.tables = html_tables(self.html)
        self.xlsx = openpyxl.load_workbook(io.BytesIO(cli(*args, "--format", "xlsx")))
        self.zip = zipfile.ZipFile(io.BytesIO(cli(*args, "--format", "zip")))
        self.year, self.as_of, self.db = year, as_of, db

    def csv_rows(self, name: str) -> list[list[str]]:
        data = self.zip.read(f"ecocomp-{self.year}/{name}.csv").decode("utf-8-sig")
        return list(csv.reader(io.StringIO(data)))[1:]

    def sheet(self, title: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """(lines, 合计 total rows) of a sheet."""
        rows = list(self.xlsx[title].iter_rows(values_only=True))[1:]
        total = "合计 total"
        return [r for r in rows if r[0] != total], [r for r in rows if r[0] == total]

    def statement(self, party: str) -> dict[str, Any]:
        return json.loads(cli("statement", party, "--db", str(self.db), "--year",
                              str(self.year), "--as-of", self.as_of, "--json"))

    # the nets: (agreement, payer code, payee code, due) -> yuan
    def html_nets(self) -> Counter:
        [table] = [t for t in self.tables if t["sections"] == ["nets"]]
        return Counter({(r[0], code_of(r[2]), code_of(r[3]), r[6]): money(r[4])
                        for r in body(table)})

    def xlsx_nets(self) -> Counter:
        lines, _ = self.sheet("年度清缴 nets")
        return Counter({(r[0], code_of(r[2]), code_of(r[3]),
                         r[6].date().isoformat() if r[6] else ""): xlsx_decimal(r[4])
                        for r in lines})

    def csv_nets(self) -> Counter:
        return Counter({(r[0], code_of(r[2]), code_of(r[3]), r[6]): Decimal(r[4])
                        for r in self.csv_rows("nets")})

    # the obligations: (agreement, period, component, payer, payee) -> summed yuan
    def html_obligations(self) -> Counter:
        found: Counter = Counter()
        for table in self.tables:
            if len(table["sections"]) == 2 and table["sections"][0] == "obligations":
                agreement = re.search(r"\(([^()]+)\)$", table["heading"]).group(1)
                for r in body(table):
                    found[(agreement, r[0], r[1], code_of(r[3]), code_of(r[4]))] += money(r[5])
        return found

    def xlsx_obligations(self) -> Counter:
        found: Counter = Counter()
        for r in self.sheet("月度补偿 obligations")[0]:
            found[(r[0], r[2], r[3], code_of(r[5]), code_of(r[6]))] += xlsx_decimal(r[7])
        return found

    def csv_obligations(self) -> Counter:
        found: Counter = Counter()
        for r in self.csv_rows("obligations"):
            found[(r[0], r[2], r[3], code_of(r[5]), code_of(r[6]))] += Decimal(r[7])
        return found

    # the statements: (party, agreement) -> (accrued, cleared, paid, open, due)
    def html_statements(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        found = {}
        for table in self.tables:
            if table["sections"][:1] == ["parties"] and head(table)[0].startswith("协议"):
                party = re.search(r"\(([^()]+)\) — ", table["heading"]).group(1)
                for r in body(table):
                    found[(party, r[0])] = (*map(money, r[2:6]), r[6])
        return found

    def xlsx_statements(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        lines, _ = self.sheet("主体对账单 statements")
        return {(r[0], r[2]): (*map(xlsx_decimal, r[4:8]),
                               r[8].date().isoformat() if r[8] else "") for r in lines}

    def csv_statements(self) -> dict[tuple[str, str], tuple[Any, ...]]:
        return {(r[0], r[2]): (*map(Decimal, r[4:8]), r[8]) for r in self.csv_rows("statements")}

    def party_heads(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Each party section of the HTML: (年度净额 net, 逾期 overdue) in yuan."""
        found = {}
        for m in re.finditer(r'<section class="party" id="[^"]+"><h3>.*?</p>', self.html, re.S):
            text = re.sub(r"<[^>]+>", " ", m.group(0))
            party = re.search(r"\(([^()]+)\) — ", text).group(1)
            net = money(re.search(r"net (\S+) 元", text).group(1))
            overdue = re.search(r"逾期 overdue\s+(\S+) 元", text)
            found[party] = (net, money(overdue.group(1)) if overdue else Decimal("0.00"))
        return found


class _Cache(dict):
    """Views made on first use (a worker builds only those its tests read)."""

    def __init__(self, db: Path) -> None:
        super().__init__()
        self.db = db

    def __missing__(self, key: tuple[int, str]) -> Views:
        self[key] = Views(self.db, *key)
        return self[key]


@pytest.fixture(scope="module")
def views(workflow: dict[str, Any]) -> _Cache:
    return _Cache(workflow["db"])


def cases() -> list[tuple[int, str]]:
    return [(year, day) for year, days in DAYS.items() for day in days]


# --------------------------------------------------------------------------- reconciliations


@pytest.mark.parametrize(("year", "day"), cases())
def test_the_nets_are_the_same_in_html_xlsx_csv_and_the_statements(views, year, day):
    v = views[(year, day)]
    nets = v.html_nets()
    assert nets == v.xlsx_nets() == v.csv_nets()
    # what each party's statement says is cleared, per agreement, is its share of the nets
    cleared: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (agreement, payer, payee, _), amount in nets.items():
        cleared[(payer, agreement)] -= amount
        cleared[(payee, agreement)] += amount
    parties = {p for (p, _) in v.html_statements()} | {p for (p, _) in cleared}
    stated = {(p, a["agreement"]): Decimal(a["cleared"])
              for p in parties for a in v.statement(p)["agreements"] if Decimal(a["cleared"])}
    assert {k: x for k, x in cleared.items() if x} == stated


@pytest.mark.parametrize("year", sorted(DAYS))
def test_the_settle_result_nets_are_the_reports_nets_once_everything_is_booked(
        workflow, views, year):
    settled = workflow["settled"][year]
    from_settle = Counter({(n["agreement"], n["payer"], n["payee"], n["due"]):
                           Decimal(n["amount"]) for n in settled["nets"]})
    assert from_settle == views[(year, DAYS[year][-1])].html_nets()


@pytest.mark.parametrize(("year", "day"), cases())
def test_the_months_are_the_same_in_html_xlsx_and_csv(views, year, day):
    v = views[(year, day)]
    assert v.html_obligations() == v.xlsx_obligations() == v.csv_obligations()


@pytest.mark.parametrize("year", sorted(DAYS))
def test_the_settle_result_obligations_are_the_reports_months_net_of_corrections(
        workflow, views, year):
    def netted(items):
        out: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
            lambda: defaultdict(Decimal))
        for (agreement, period, component, payer, payee), amount in items:
            out[(agreement, period, component)][payer] -= amount
            out[(agreement, period, component)][payee] += amount
        return {k: {p: x for p, x in v.items() if x} for k, v in out.items()
                if any(v.values())}

    settled = workflow["settled"][year]["obligations"]
    computed = netted(((o["agreement"], o["period"], o["component"], o["payer"], o["payee"]),
                       Decimal(o["amount"])) for o in settled)
    booked = views[(year, DAYS[year][-1])].csv_obligations()
    assert computed == netted(booked.items())


@pytest.mark.parametrize(("year", "day"), cases())
def test_the_party_balances_are_the_same_in_json_html_xlsx_and_csv(views, year, day):
    v = views[(year, day)]
    html = v.html_statements()
    assert html == v.xlsx_statements() == v.csv_statements()
    heads = v.party_heads()
    for party, (net, overdue) in heads.items():
        st = v.statement(party)
        assert (Decimal(st["net"]), Decimal(st["overdue"])) == (net, overdue), party
        assert {(party, a["agreement"]): (Decimal(a["accrued"]), Decimal(a["cleared"]),
                                          Decimal(a["paid"]), Decimal(a["open"]), a["due"] or "")
                for a in st["agreements"]} == {k: x for k, x in html.items() if k[0] == party}


@pytest.mark.parametrize(("year", "day"), cases())
def test_the_xlsx_total_rows_are_the_sums_of_their_lines(views, year, day):
    v = views[(year, day)]
    for title, payer, payee, columns in (("月度补偿 obligations", 5, 6, (7, 8)),
                                         ("年度清缴 nets", 2, 3, (4, 5))):
        lines, totals = v.sheet(title)
        sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
        for r in lines:
            a, b = r[payer], r[payee]
            key, sign = ((a, b), 1) if a <= b else ((b, a), -1)
            for i, c in enumerate(columns):
                sums[key][i] += sign * xlsx_decimal(r[c])
        want = {}
        for (a, b), values in sums.items():
            if values[0] < 0:
                a, b, values = b, a, [-x for x in values]
            want[(a, b)] = tuple(values)
        got = {(r[payer], r[payee]): tuple(xlsx_decimal(r[c]) for c in columns) for r in totals}
        assert got == want, title
        for yuan, wan in got.values():  # the 万元 total is the 元 total, exactly
            assert wan * 10000 == yuan


def test_ledger_balances_are_the_statements_summed_over_the_years_on_every_day(workflow):
    """Per party: the balance is the years' nets, the payable account what is open, the
    settled account what is paid — on each day before, on and after every booking."""
    db, parties = workflow["db"], workflow["parties"]
    days = sorted({d + timedelta(days=k) for d in workflow["booked"] for k in (-1, 0)})
    with ecocomp.Ledger.open(db, create=False) as ledger:
        transactions = list(ledger.transactions())
        sums = {day: (ledger.balances(as_of=day), ledger.balances(as_of=day, by="account"))
                for day in days}
    assert party_statement(db, "430700", 2021, as_of=days[-1]) == attrs.evolve(
        build_statement(transactions, "430700", 2021, as_of=days[-1],
                        catalog=load_catalog(db), zero=load_zero_amounts(db, 2021)),
        receipt=party_statement(db, "430700", 2021, as_of=days[-1]).receipt)
    for day in days:
        balance, account = sums[day]
        want: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
        for year in DAYS:
            for party in parties:
                st = build_statement(transactions, party, year, as_of=day)
                want[party][0] += st.net
                for a in st.agreements:
                    want[party][1] += a.open
                    want[party][2] += a.paid
        for party in parties:
            got = [balance.get(party, 0), account.get(f"{party}:payable", 0),
                   account.get(f"{party}:settled", 0)]
            assert got == want[party], (day, party)


@pytest.mark.parametrize("day", ["2021-04-02", "2022-04-21", "2022-05-25", FINAL])
def test_ledger_balances_json_and_text_are_the_statements_of_the_command(workflow, day):
    db = str(workflow["db"])
    listed = json.loads(cli("ledger", "balances", "--db", db, "--as-of", day, "--json"))
    text = cli("ledger", "balances", "--db", db, "--as-of", day).decode("utf-8")
    shown = {m.group(1): (money(m.group(2)), m.group(3)) for m in re.finditer(
        r" (\S+)\s+(-?[\d,]+\.\d\d)\s+(\S+)$", text, re.M)}
    for party in workflow["parties"]:
        total = sum((Decimal(json.loads(cli("statement", party, "--db", db, "--year", str(y),
                                             "--as-of", day, "--json"))["net"])
                     for y in DAYS), Decimal(0))
        assert Decimal(listed["balances"][party]) == total, party
        assert shown[party] == (total, format_wan(total)), party


@pytest.mark.parametrize(("year", "day"), cases())
def test_the_money_flows_are_the_xlsx_totals_of_the_nets(workflow, views, year, day):
    """``Report.flows()`` (the HTML's money-flow chart) and the nets sheet's 合计 rows give
    one net per pair of parties."""
    _, totals = views[(year, day)].sheet("年度清缴 nets")
    flows = build_report(workflow["db"], year, as_of=date.fromisoformat(day)).flows()
    assert flows == {(code_of(r[2]), code_of(r[3])): xlsx_decimal(r[4]) for r in totals
                     if xlsx_decimal(r[4])}


@pytest.mark.parametrize("day", ["2021-04-02", "2022-05-20", FINAL])
def test_the_ledger_exports_add_up_to_the_balances_and_count_every_transaction(workflow, day):
    db = str(workflow["db"])
    exported = cli("ledger", "export", "--db", db, "--out", "-", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8-sig"))))
    summed: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["booked_on"] <= day:
            summed[r["credit_party"]] += Decimal(r["amount"])
            summed[r["debit_party"]] -= Decimal(r["amount"])
    listed = json.loads(cli("ledger", "balances", "--db", db, "--as-of", day, "--json"))
    assert {p: f"{v:.2f}" for p, v in summed.items()} == listed["balances"]
    every = json.loads(cli("ledger", "export", "--db", db, "--out", "-", "--format", "json"))
    browsed = json.loads(cli("ledger", "transactions", "--db", db, "--json"))
    verified = json.loads(cli("ledger", "verify", "--db", db, "--json"))
    assert (len(every["transactions"]) == browsed["count"] == verified["count"]
            == len({r["seq"] for r in rows}))
    assert [t["transfers"] for t in every["transactions"]] == [
        t["transfers"] for t in browsed["transactions"]]


@pytest.mark.parametrize(("year", "day"), cases())
def test_money_is_conserved_per_agreement(views, year, day):
    """Summed over the parties, every agreement's accrued, cleared, paid and open are zero."""
    v = views[(year, day)]
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for (_, agreement), values in v.html_statements().items():
        for i in range(4):
            sums[agreement][i] += values[i]
    assert sums and all(s == [0, 0, 0, 0] for s in sums.values()), dict(sums)


_EN = re.compile(r"^  (\S+) \[[^\]]*\]: accrued (\S+), cleared (\S+), paid (\S+), open (\S+?)"
                 r"(?:, due (\S+))? — .*$", re.M)
_ZH = re.compile(r"^  (\S+) .*［[^］]*］：应计 (\S+)，清算 (\S+)，已付 (\S+)，未结 (\S+?)"
                 r"(?:，应付日期 (\S+))? — .*$", re.M)


@pytest.mark.parametrize(("year", "day"), [(2020, "2022-04-21"), (2021, "2022-04-21"),
                                           (2021, FINAL)])
def test_statement_text_in_both_languages_shows_the_json_amounts(workflow, year, day):
    db = str(workflow["db"])
    for party in workflow["parties"]:
        st = json.loads(cli("statement", party, "--db", db, "--year", str(year), "--as-of",
                            day, "--json"))
        want = [(a["agreement"], *(Decimal(a[k]) for k in ("accrued", "cleared", "paid",
                                                           "open")), a["due"])
                for a in st["agreements"]]
        lines = [(str(line["seq"]), Decimal(line["amount"])) for line in st["lines"]]
        for lang, pattern, net in (("en", _EN, r"net for the year: (\S+) yuan"),
                                   ("zh", _ZH, r"全年净额：(\S+) 元")):
            text = cli("--lang", lang, "statement", party, "--db", db, "--year", str(year),
                       "--as-of", day).decode("utf-8")
            assert money(re.search(net, text).group(1)) == Decimal(st["net"]), (lang, party)
            shown = [(m[0], *map(money, m[1:5]), m[5]) for m in pattern.findall(text)]
            assert shown == [(a, *x, d or "") for a, *x, d in want], (lang, party)
            amounts = re.findall(r"^  #(\d+) .*?[:：] ?([+-][\d,]+\.\d\d)", text, re.M)
            assert [(s, money(a)) for s, a in amounts] == lines, (lang, party)


@pytest.mark.parametrize("amount", [
    "0.00", "0.01", "-0.01", "49.99", "-50.00", "5000.00", "-5000.01", "12345678.90",
    "-800000.00", "287342.47", "999999999999.99", "-999999999999.99", "1000000000000.00"])
def test_amount_texts_keep_the_sign_every_digit_and_mark_only_what_they_round(amount):
    exact = Decimal(amount)
    for text in (format_yuan_grouped(exact), format_yuan_grouped(exact, sign=True),
                 yuan_text(exact)):
        assert "e" not in text.lower() and money(text) == exact, text
    for text in (format_wan(exact), wan_text(exact)):
        shown = Decimal(text.lstrip("≈").replace(",", ""))
        rounded = shown * 10000 != exact
        assert text.startswith("≈") == rounded, text
        assert abs(shown * 10000 - exact) <= 50, text  # half of 0.01 万元
        if shown:
            assert (shown < 0) == (exact < 0), text


# --------------------------------------------------------------------------- findings


def park(folder: Path, baiyun: str, shimen: str) -> Path:
    """The 南山 park project paying 白云村 ``baiyun`` and 石门村 ``shimen`` yuan for 2026
    (rate 1 yuan a mu, the whole year, nothing from farmland)."""
    shutil.copytree(PARK, folder)
    path = folder / "agreements" / "nanshan-area-rate.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in (("rate = 40 ", "rate = 1 "),
                     ("430529-baiyun-cun = 12000", f"430529-baiyun-cun = {baiyun}"),
                     ("430529-shimen-cun = 8000", f"430529-shimen-cun = {shimen}"),
                     ("430529-baiyun-cun = 300 ", "430529-baiyun-cun = 0 "),
                     ("[params.terms.430529-baiyun-cun]\nfrom = 2026-07-01", "")):
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return folder


def test_found_the_html_report_rounded_wan_half_even_where_the_command_line_rounds_half_up(
        tmp_path):
    """The report's 万元 figures were rounded half to even, the command line's half up (as
    docs/cli.md says): a net of 12,250.00 yuan was ≈1.22 万元 in the report and ≈1.23万 in
    `settle`, and the 管理局 paying 13,250.00 in all was ≈-1.32 in the report's party section
    and ≈-1.33 in `ledger balances`. By hand: 12,250.00 / 10,000 = 1.225, half up to 0.01
    is 1.23; -13,250.00 / 10,000 = -1.325, half up (away from zero) is -1.33."""
    project = park(tmp_path / "park", "12250", "1000")
    db = str(tmp_path / "park.db")
    settled = cli("settle", str(project), "--year", "2026", "--db", db,
                  "--quiet").decode("utf-8")
    summary = {money(m.group(1)): m.group(2)
               for m in re.finditer(r" ([\d,]+\.\d\d) yuan \(([^)]*)万\)", settled)}
    assert summary == {Decimal("12250.00"): "≈1.23", Decimal("1000.00"): "0.1"}
    page = cli("report", "--db", db, "--year", "2026", "--out", "-", "--as-of",
               "2027-01-01").decode("utf-8")
    [nets] = [t for t in html_tables(page) if t["sections"] == ["nets"]]
    in_report = {money(r[4]): r[5].removesuffix(" 万元") for r in body(nets)}

    def value(text: str) -> tuple[bool, Decimal]:
        return text.startswith("≈"), Decimal(text.lstrip("≈").replace(",", ""))

    assert {k: value(v) for k, v in in_report.items()} == {
        k: value(v) for k, v in summary.items()}
    # a party's net: the report's party section and `ledger balances` give one 万元 figure
    balances = cli("ledger", "balances", "--db", db).decode("utf-8")
    payer = re.search(r"430000-nanshan-glj\s+(-[\d,]+\.\d\d)\s+(\S+)$", balances, re.M)
    section = re.search(r"\(430000-nanshan-glj\) — 年度净额 net (\S+) 元\s*\((\S+) 万元\)",
                        page)
    assert money(payer.group(1)) == money(section.group(1)) == Decimal("-13250.00")
    assert value(payer.group(2)) == value(section.group(2)) == (True, Decimal("-1.33"))


def test_found_the_corrections_table_gave_amounts_without_who_pays_whom(workflow, views):
    """The HTML report's 调整 Corrections table showed each correction's amount with no payer
    or payee: a clearing corrected from 湖南省 paying 永州市 5,500,000.00 to 4,300,000.00
    showed "1,200,000.00 元", which reads as more owed, not less, and a reversed payment
    showed the same as the payment. Each row now names who pays whom, and per party the
    rows add up to the corrections in that party's statement."""
    for year in DAYS:
        v = views[(year, DAYS[year][-1])]
        [table] = [t for t in v.tables if t["sections"] == ["changes"]]
        columns = head(table)
        assert "付款方 payer" in columns and "收款方 payee" in columns, columns
        at = {name: columns.index(name) for name in
              ("协议 agreement", "期间 period", "组成 component", "付款方 payer",
               "收款方 payee", "金额 (元)")}
        rows = body(table)
        assert rows
        shown: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
        for r in rows:
            key = (r[at["协议 agreement"]], r[at["期间 period"]], r[at["组成 component"]])
            amount = money(r[at["金额 (元)"]])
            shown[(code_of(r[at["付款方 payer"]]), *key)] -= amount
            shown[(code_of(r[at["收款方 payee"]]), *key)] += amount
        stated: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
        for party in workflow["parties"]:
            for line in v.statement(party)["lines"]:
                if line["kind"] in ("adjustment", "reversal"):
                    key = (party, line["agreement"], line["period"], line["component"])
                    stated[key] += Decimal(line["amount"])
        assert {k: x for k, x in shown.items() if x} == {k: x for k, x in stated.items() if x}


def test_found_reports_made_from_python_followed_the_callers_decimal_context(tmp_path):
    """``rendered_report`` and ``written_report`` (the functions ``ecocomp report`` calls,
    public in ecocomp.reports) ran in the caller's decimal context: with ``prec = 6`` the
    .xlsx 合计 row of a 1,234,550.50-yuan month said 1,234,550 and its 万元 cells 123.455
    instead of 123.45505; ``Report.flows()`` summed the same way."""
    project = park(tmp_path / "park", "12250", "1234550.50")
    db = tmp_path / "park.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(project), year=2026, ledger=ledger,
                       today=date(2027, 1, 1))
    day = date(2027, 1, 1)

    def cells(data: bytes) -> list[tuple[Any, ...]]:
        book = openpyxl.load_workbook(io.BytesIO(data))
        return [r[4:9] for title in ("月度补偿 obligations", "年度清缴 nets")
                for r in book[title].iter_rows(values_only=True)]

    def outputs() -> tuple[Any, ...]:
        xlsx = cells(rendered_report(db, 2026, "xlsx", as_of=day)[0])
        html = rendered_report(db, 2026, "html", as_of=day)[0]
        written = cells(written_report(db, 2026, tmp_path / "r.xlsx", as_of=day)[0]
                        .read_bytes())
        return xlsx, html, written, build_report(db, 2026, as_of=day).flows()

    expected = outputs()
    assert any(Decimal(repr(c)) == Decimal("123.45505") for r in expected[0] for c in r
               if isinstance(c, float))
    with decimal.localcontext(prec=6, rounding=decimal.ROUND_DOWN):
        assert outputs() == expected


@pytest.mark.parametrize("amount", ["-49.99", "-0.01", "49.99", "-50.00", "-0.00"])
def test_a_wan_figure_that_rounds_to_nothing_has_no_sign_in_either_output(amount: str) -> None:
    """The report's 万元 cell and the command line's 万 figure agree, sign included: −49.99
    yuan was ≈-0.00 in the report and ≈0 on the command line."""
    from ecocomp.formatting import format_wan
    from ecocomp.reports import wan_text

    report, command = wan_text(Decimal(amount)), format_wan(Decimal(amount))
    assert Decimal(report.lstrip("≈")) == Decimal(command.lstrip("≈"))
    assert report.startswith("≈") == command.startswith("≈")
    assert report.lstrip("≈").startswith("-") == command.lstrip("≈").startswith("-")
