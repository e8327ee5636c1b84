"""Reports people read: the year's classes, obligations with basis, nets and statements.

One data model (:class:`Report`, built from a settlement database) and three renderers:
``.xlsx`` (openpyxl; Chinese headers, amounts as numbers in 元 and 万元, frozen headers,
filters, totals, print setup), a self-contained ``.html`` rendered by jinja2 with
autoescaping from templates an office may override (inline SVG charts, a table of contents,
per-agreement and per-party sections; no network, no JavaScript), and CSV tables, one per
file, in a folder or a ``.zip`` (UTF-8 with BOM so Excel opens them; pandas reads them as is).
"""

from __future__ import annotations

import csv
import html
import io
import json
import sqlite3
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ecocomp.assessment import SectionAssessment, assess, assessment_table
from ecocomp.catalog import Catalog, load_catalog, load_zero_amounts
from ecocomp.errors import EcocompError
from ecocomp.formatting import round_wan
from ecocomp.formulas import get_formula
from ecocomp.formulas.base import settle_nets
from ecocomp.i18n import message
from ecocomp.ledger import Ledger, Transaction
from ecocomp.money import WAN, in_money_context
from ecocomp.outputs import replaced, spreadsheet_text
from ecocomp.periods import Period
from ecocomp.postgres import is_url
from ecocomp.settlement import ACCRUED, CLEARING, PAYABLE, SETTLED, is_payment, require_intact
from ecocomp.sources import cited as cited_sources
from ecocomp.standards import WaterClass
from ecocomp.statements import (
    PartyStatement,
    build_statement,
    explain,
    held_amounts,
    zero_reason,
)
from ecocomp.store import ReadingStore

__all__ = [
    "REPORT_FORMATS",
    "ClassRow",
    "ClassTable",
    "Report",
    "build_report",
    "class_table",
    "render_report",
    "rendered_report",
    "write_report",
    "written_report",
]

CONFIDENCE_LABEL = {"confirmed": "已确认 confirmed", "inferred": "推定 inferred",
                    "placeholder": "占位 placeholder"}


@attrs.frozen
class ClassRow:
    """One section's monthly classes and annual class, with the evidence behind each."""

    section: str
    label: str
    target: WaterClass | None
    months: tuple[WaterClass | None, ...]
    year: WaterClass | None
    evidence: tuple[SectionAssessment | None, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.label,
            "target": self.target.code if self.target else None,
            "months": [c.code if c else None for c in self.months],
            "year": self.year.code if self.year else None,
        }


@attrs.frozen
class ClassTable:
    """Sections × months class table (SPEC §6 ``assess``)."""

    year: int
    rows: tuple[ClassRow, ...]

    def to_json(self) -> dict[str, Any]:
        return {"year": self.year, "sections": [r.to_json() for r in self.rows]}


def class_table(db: str | Path, year: int, *, catalog: Catalog | None = None) -> ClassTable:
    """The monthly class table of every catalogued section, assessed from the DB's readings."""
    catalog = catalog or load_catalog(db)
    sections = list(catalog.sections.values())  # SectionInfo has .code and .waterbody
    store = ReadingStore.open(db)
    try:
        aggregates = list(store.aggregates(Period(year), sections=[s.code for s in sections]))
    finally:
        store.close()
    assessments = assess(aggregates, sections, Period(year))
    table = assessment_table(assessments, sections, year)
    rows = []
    for s, row in zip(sections, table.rows, strict=True):
        rows.append(
            ClassRow(
                section=s.code,
                label=s.name,
                target=s.target,
                months=row.months,
                year=row.year,
                evidence=tuple(assessments.get(s.code, m) for m in Period(year).months()),
            )
        )
    return ClassTable(year=year, rows=tuple(rows))


@attrs.frozen
class ObligationRow:
    """A posted accrual or adjustment with its basis, for the report."""

    agreement: str
    period: str
    component: str
    kind: str
    payer: str
    payee: str
    amount: Decimal
    basis: Mapping[str, Any]
    reason: str | None
    seq: int


@attrs.frozen
class Report:
    """Everything a year's report shows."""

    year: int
    generated: date
    catalog: Catalog
    classes: ClassTable
    obligations: tuple[ObligationRow, ...]
    nets: tuple[ObligationRow, ...]
    statements: tuple[PartyStatement, ...]
    changes: tuple[ObligationRow, ...]
    #: Each air city's days of the year with their AQI (the AQI calendar); empty without air.
    air_days: Mapping[str, tuple[Any, ...]] = attrs.field(factory=dict)
    #: How many of the year's ledger lines are booked on or before ``generated`` (shown).
    booked: int = 0
    #: The year's ledger lines booked after ``generated``: left out of every section.
    later: tuple[Transaction, ...] = ()

    def __repr__(self) -> str:
        return (f"<Report {self.year} as of {self.generated}: {len(self.classes.rows)} sections, "
                f"{len(self.obligations)} obligations, {len(self.nets)} nets, "
                f"{len(self.statements)} statements>")

    @property
    def booked_later(self) -> int:
        """How many of the year's ledger lines are booked after the report's date."""
        return len(self.later)

    @property
    def booked_until(self) -> date | None:
        """The last booking date of the lines left out (None: none left out)."""
        return max((tx.booked_on for tx in self.later), default=None)

    def later_note(self, lang: str = "en") -> str:
        """What the report's date leaves out and the ``--as-of`` that shows it ("" if nothing).

        When nothing of the year is booked by that date, it says the tables are empty.
        """
        if not self.later:
            return ""
        key = "report.later" if self.booked else "report.none"
        return message(key, lang, count=len(self.later), year=self.year, as_of=self.generated,
                       start=min(tx.booked_on for tx in self.later), end=self.booked_until)

    @in_money_context
    def flows(self) -> dict[tuple[str, str], Decimal]:
        """Net money between each pair of parties over the year's clearings (one direction)."""
        pairs: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for n in self.nets:
            a, b = sorted((n.payer, n.payee))
            pairs[(a, b)] += n.amount if n.payer == a else -n.amount
        return {((a, b) if v > 0 else (b, a)): abs(v) for (a, b), v in pairs.items() if v}


def _rows(tx: Transaction, purpose: str, basis: Mapping[str, Any]) -> list[ObligationRow]:
    """One row per transfer of ``purpose`` in a transaction (payer → payee)."""
    return [
        ObligationRow(
            agreement=tx.agreement or "", period=tx.period or "", component=tx.component or "",
            kind=tx.kind, payer=t.debit_party, payee=t.credit_party, amount=t.amount,
            basis=basis, reason=tx.reason, seq=tx.seq,
        )
        for t in tx.transfers
        if t.credit_purpose == purpose
    ]


def _nets(year: int, chains: Mapping[str, list[Transaction]]) -> list[ObligationRow]:
    """Each agreement's net for the year over its whole clearing chain (adjustments included)."""
    nets = []
    for agreement, chain in sorted(chains.items()):
        vector: dict[str, Decimal] = defaultdict(Decimal)
        for tx in chain:
            for party in tx.parties:
                vector[party] += tx.effect(party, PAYABLE)
        dues = [tx.due for tx in chain if tx.due]  # in ledger order: the latest is the due
        basis = {"due": dues[-1].isoformat() if dues else ""}
        for payer, payee, amount in settle_nets(vector):
            nets.append(ObligationRow(
                agreement=agreement, period=str(year), component=CLEARING, kind="clearing",
                payer=payer, payee=payee, amount=amount, basis=basis, reason=None,
                seq=chain[0].seq,
            ))
    return nets


def _collect(
    txs: Sequence[Transaction],
) -> tuple[list[ObligationRow], list[ObligationRow], dict[str, list[Transaction]]]:
    """The obligations, changes and clearing chains of ``txs``."""
    obligations: list[ObligationRow] = []
    changes: list[ObligationRow] = []
    chains: dict[str, list[Transaction]] = defaultdict(list)
    for tx in txs:
        if is_payment(tx):  # payments show in the statements; their reversals as changes too
            if tx.kind != "payment":
                changes.extend(_rows(tx, SETTLED, tx.meta))
            continue
        if tx.component == CLEARING:
            chains[tx.agreement or ""].append(tx)
            rows = _rows(tx, PAYABLE, tx.meta)
        else:
            rows = _rows(tx, ACCRUED, tx.meta)
            obligations.extend(rows)
        if tx.kind in ("adjustment", "reversal"):
            changes.extend(rows)
    return obligations, changes, chains


@in_money_context
def build_report(db: str | Path, year: int, *, as_of: date | None = None) -> Report:
    """Collect the year's report data from a settlement database, as of ``as_of``.

    Every section (obligations, nets, corrections, statements, totals) shows the ledger as
    booked on or before ``as_of`` (default today): a line's ``booked_on`` (its accounting
    date) decides, not when it was recorded. Lines booked later are left out everywhere and
    kept in :attr:`Report.later`, so the header can say so; overdue is judged on ``as_of``.
    The periods that paid nothing are listed once they have ended by ``as_of``, as in a
    party's statement. The class table and the AQI calendar show the readings held now.
    """
    catalog = load_catalog(db)
    classes = class_table(db, year, catalog=catalog)
    with Ledger.open(db, create=False) as ledger:
        require_intact(ledger)
        txs = [tx for tx in ledger.transactions() if tx.period
               and Period.parse(tx.period).year == year]
    if year not in catalog.settled_years:
        raise EcocompError(f"{db}: nothing settled for {year}; run `ecocomp settle` first")
    today = as_of or date.today()
    shown = [tx for tx in txs if tx.booked_on <= today]
    later = tuple(tx for tx in txs if tx.booked_on > today)
    obligations, changes, chains = _collect(shown)
    nets = _nets(year, chains)
    zero = load_zero_amounts(db, year)
    # periods that paid nothing, with the reason (kept by the run; the ledger holds money)
    zero_rows = [
        ObligationRow(agreement=z.agreement, period=z.period, component=z.component,
                      kind="zero", payer=z.payer, payee=z.payee, amount=Decimal("0.00"),
                      basis={**z.basis, "explanation": zero_reason(z.basis)}, reason=None,
                      seq=0)
        for z in zero
    ]
    # a period computed as nothing by a run after ``as_of`` may hold money as of that day
    held = held_amounts(shown, today) if zero else set()
    obligations.extend(z for z in zero_rows if Period.parse(z.period).end <= today
                       and (z.agreement, z.period, z.component) not in held)
    # every party of the year has a statement, also one with nothing booked by ``as_of``
    if later:
        everyone, _, every_chain = _collect(txs)
        every_net = _nets(year, every_chain)
    else:
        everyone, every_net = obligations, nets
    parties = sorted({p for r in (*everyone, *zero_rows, *every_net) for p in (r.payer, r.payee)})
    statements = tuple(build_statement(txs, p, year, as_of=today, catalog=catalog, zero=zero,
                                       held=held)
                       for p in parties)
    return Report(year=year, generated=today, catalog=catalog, classes=classes,
                  obligations=tuple(obligations), nets=tuple(nets), statements=statements,
                  changes=tuple(changes), air_days=air_days(db, year), booked=len(shown),
                  later=later)


def air_days(db: str | Path, year: int) -> dict[str, tuple[Any, ...]]:
    """Each city's days of ``year`` with their AQI (HJ 633 of the GB 3095 version in force at
    the year's end), from the database's air tables; empty when it has none."""
    from ecocomp.air import AirStore, city_day, resolve_standard
    from ecocomp.air.standards import PAIRED

    if is_url(str(db)):
        return {}  # air readings live in SQLite files only (docs/postgres.md)
    conn = sqlite3.connect(f"{Path(db).resolve().as_uri()}?mode=ro", uri=True)
    try:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'air_schema_version'"
                             ).fetchone()
    finally:
        conn.close()
    if found is None:
        return {}
    version = PAIRED[resolve_standard("by_date", date(year, 12, 31))]
    days: dict[str, list[Any]] = defaultdict(list)
    with AirStore.open(db) as store:
        values = store.city_values(start=date(year, 1, 1), end=date(year, 12, 31))
    for (city, day), concentrations in sorted(values.items()):
        days[city].append(city_day(city, day, concentrations, version=version))
    return {city: tuple(found) for city, found in days.items()}


#: What ``--out`` may name: a file of one of these suffixes, a ``.zip`` of CSV tables, or a
#: folder (an existing one, or a name without a suffix) that gets one CSV file per table.
REPORT_FORMATS = (".html", ".htm", ".xlsx", ".zip")


@in_money_context
def write_report(
    db: str | Path,
    year: int,
    out: str | Path,
    *,
    as_of: date | None = None,
    template_dir: str | Path | None = None,
) -> Path:
    """Write the year's report; the format follows ``out`` (see :data:`REPORT_FORMATS`).

    ``as_of`` is the day the report reflects (default today): the ledger as booked on or
    before it, overdue judged on it (:func:`build_report`); ``template_dir`` holds HTML
    templates that replace the shipped ones of the same name (``letterhead.html`` for an
    office's letterhead, see docs/project.md). Everything is rendered before anything is
    written, so bad data leaves earlier files as they were.
    """
    return written_report(db, year, out, as_of=as_of, template_dir=template_dir)[0]


@in_money_context
def written_report(
    db: str | Path,
    year: int,
    out: str | Path,
    *,
    as_of: date | None = None,
    template_dir: str | Path | None = None,
) -> tuple[Path, Report]:
    """:func:`write_report`, also returning the report written (to say what it left out)."""
    out = Path(out)
    suffix = out.suffix.lower()
    folder = out.is_dir() or not suffix
    if suffix == ".csv" and not folder:
        raise EcocompError(
            f"{out}: a CSV report is one table per file; write --out {out.with_suffix('')}/ "
            f"(a folder) or --out {out.with_suffix('.zip')} instead"
        )
    if not folder and suffix not in REPORT_FORMATS:
        raise EcocompError(f"{out}: unknown report format {suffix!r}; use .xlsx, .html, .zip "
                           "(CSV tables) or a folder for CSV tables")
    html_out = suffix in (".html", ".htm") and not folder
    if template_dir is not None and not html_out:
        raise EcocompError(f"--template-dir {template_dir}: templates shape the HTML report "
                           f"only, and {out} is not .html; drop --template-dir or write .html")
    templates = _templates(template_dir) if html_out else None
    report = build_report(db, year, as_of=as_of)
    if folder:
        tables = _csv_tables(report)
        try:
            out.mkdir(exist_ok=True)
        except OSError as exc:
            raise EcocompError(f"{out}: cannot make the report folder ({exc.strerror or exc}); "
                               "check its parent folder exists and is writable") from None
        for name, data in tables.items():
            _replace_file(out / name, data)
        return out, report
    _replace_file(out, _report_bytes(report, suffix, templates))
    return out, report


@in_money_context
def render_report(
    db: str | Path,
    year: int,
    fmt: str = "html",
    *,
    as_of: date | None = None,
    template_dir: str | Path | None = None,
) -> bytes:
    """The report's bytes in ``fmt`` (``html``, ``xlsx`` or ``zip``), for a stream or a pipe.

    >>> render_report("settle.db", 2021)[:15]  # doctest: +SKIP
    b'<!DOCTYPE html>'
    """
    return rendered_report(db, year, fmt, as_of=as_of, template_dir=template_dir)[0]


@in_money_context
def rendered_report(
    db: str | Path,
    year: int,
    fmt: str = "html",
    *,
    as_of: date | None = None,
    template_dir: str | Path | None = None,
) -> tuple[bytes, Report]:
    """:func:`render_report`, also returning the report rendered."""
    suffix = "." + fmt.lower().lstrip(".")
    if suffix not in REPORT_FORMATS:
        raise EcocompError(f"unknown report format {fmt!r}; use html, xlsx or zip")
    if template_dir is not None and suffix not in (".html", ".htm"):
        raise EcocompError(f"--template-dir {template_dir}: templates shape the HTML report "
                           f"only; drop --template-dir or use the html format")
    templates = _templates(template_dir) if suffix in (".html", ".htm") else None
    report = build_report(db, year, as_of=as_of)
    return _report_bytes(report, suffix, templates), report


def _report_bytes(report: Report, suffix: str, templates: Any) -> bytes:
    if suffix == ".zip":
        return _zip_bytes(report)
    if suffix == ".xlsx":
        return _xlsx_bytes(report)
    assert templates is not None
    return _html_bytes(report, templates)


def _replace_file(out: Path, data: bytes) -> None:
    """Write ``data`` to ``out`` all or nothing: a failed write keeps any earlier file."""
    try:
        with replaced(out, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise EcocompError(
            f"{out}: cannot write the report ({reason}); check the folder exists, is writable "
            "and has free space — any earlier report there is unchanged"
        ) from None


# --------------------------------------------------------------------------- helpers

#: The scheme a formula's kind of inputs stands for in a report's heading: water formulas
#: settle watersheds (流域), air formulas 大气, and formulas that read no measurements
#: (``area_rate``) 南山国家公园.
_SCHEME_OF_INPUTS = {"water": "water", "air": "air", "none": "park"}


def report_title(report: Report, lang: str = "zh") -> str:
    """The report's heading by what its ledger holds: one scheme (流域, 大气, 南山国家公园)
    or, when it holds several (or none known), the neutral 生态保护补偿结算报告.

    ``lang`` is ``zh`` or ``en``; the HTML and xlsx reports show both, Chinese first.
    """
    schemes = set()
    for info in report.catalog.agreements.values():
        try:
            schemes.add(_SCHEME_OF_INPUTS.get(get_formula(info.formula).inputs, "mixed"))
        except EcocompError:  # a formula this ecocomp does not know
            schemes.add("mixed")
    scheme = schemes.pop() if len(schemes) == 1 else "mixed"
    return message(f"report.title.{scheme}", lang)



def _name(report: Report, code: str) -> str:
    return report.catalog.party_name(code) if code else ""


def _who(report: Report, code: str) -> str:
    return f"{_name(report, code)} ({code})" if code else "—"


def _wan(amount: Decimal) -> Decimal:
    """Exact 万元 (no rounding: 12.3456 万元 is 123,456.00 元)."""
    return (amount / WAN).normalize() if amount else Decimal(0)


def yuan_text(amount: Decimal) -> str:
    """``1,234,567.89`` (元, two decimals, thousands separators)."""
    return f"{amount:,.2f}"


@in_money_context
def wan_text(amount: Decimal) -> str:
    """``123.46`` 万元 for people: two decimals, ``≈`` when that rounds (the 元 figure is exact).

    Rounded half up, as the command line's 万 figures (:func:`ecocomp.formatting.format_wan`).

    >>> wan_text(Decimal("800000.00")), wan_text(Decimal("1234567.89"))
    ('80.00', '≈123.46')
    >>> wan_text(Decimal("12250.00")), wan_text(Decimal("-12250.00"))
    ('≈1.23', '≈-1.23')
    >>> wan_text(Decimal("-49.99"))  # no sign on a figure that rounds to nothing
    '≈0.00'
    """
    wan, exact = round_wan(amount)
    return f"{wan:,.2f}" if exact else f"≈{wan:,.2f}"


def _basis_text(basis: Mapping[str, Any]) -> str:
    text = explain(basis)
    if text:
        return text
    inner = basis.get("basis") if isinstance(basis.get("basis"), Mapping) else basis
    return "; ".join(f"{k}={v}" for k, v in inner.items() if not isinstance(v, Mapping | list))


def _confidence(report: Report, agreement: str) -> str:
    info = report.catalog.agreements.get(agreement)
    return info.confidence if info else "unknown"


# --------------------------------------------------------------------------- tables
#
# Each table is headers plus typed rows: text as str, money as Decimal (元), dates as date.
# The CSV, xlsx and HTML renderers format the types their own way.


@attrs.frozen
class _Table:
    name: str  # file name stem (CSV) and sheet title
    headers: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    money: tuple[int, ...] = ()  # columns in 元 (Decimal)
    wan: tuple[int, ...] = ()  # columns in 万元 (Decimal)
    # 合计 rows under the money columns (xlsx): one per pair of parties (payer, payee
    # columns), netted, so an adjustment reversing an amount takes it off instead of adding
    totals: tuple[int, int] | None = None


OBLIGATION_HEADERS = ("协议 agreement", "规则可信度 confidence", "期间 period", "组成 component",
                      "类型 kind", "付款方 payer", "收款方 payee", "金额(元) amount_yuan",
                      "金额(万元) amount_wan", "依据 basis", "调整原因 reason")
NET_HEADERS = ("协议 agreement", "规则可信度 confidence", "付款方 payer", "收款方 payee",
               "净额(元) net_yuan", "净额(万元) net_wan", "清缴期限 due")
STATEMENT_HEADERS = ("主体 party", "名称 name", "协议 agreement", "可信度 confidence",
                     "应计(元) accrued_yuan", "清缴(元) cleared_yuan", "已付(元) paid_yuan",
                     "未结(元) open_yuan", "期限 due", "状态 state")
CLASS_HEADERS = ("断面 section", "名称 name", "目标 target",
                 *[f"{m}月 month_{m}" for m in range(1, 13)], "年度 year")
AGREEMENT_HEADERS = ("协议 agreement", "名称 name", "公式 formula", "规则可信度 confidence",
                     "来源 source")
STATE_LABEL = {"OVERDUE": "逾期 overdue", "not yet cleared": "未清缴 not yet cleared",
               "settled": "已结清 settled", "open": "未结 open"}


def _due(basis: Mapping[str, Any]) -> date | None:
    text = basis.get("due")
    return date.fromisoformat(text) if text else None


def _pair_totals(table: _Table) -> list[list[Any]]:
    """The 合计 rows of ``table``: per pair of parties, what one owes the other net of
    everything between them (amounts the other way, such as an adjustment that reverses
    a month, are taken off), payer and payee as in the rows; none without ``totals``.

    A single sum of the column would add amounts that go opposite ways: a month of 80万
    and its reversal would total 160万 where nothing is owed.
    """
    if table.totals is None or not table.rows:
        return []
    payer, payee = table.totals
    columns = (*table.money, *table.wan)
    nets: dict[tuple[Any, Any], list[Decimal]] = {}
    for row in table.rows:
        a, b = row[payer], row[payee]
        key, sign = ((a, b), 1) if str(a) <= str(b) else ((b, a), -1)
        sums = nets.setdefault(key, [Decimal(0)] * len(columns))
        for n, column in enumerate(columns):
            sums[n] += sign * row[column]
    out = []
    for (a, b), sums in sorted(nets.items(), key=lambda item: str(item[0])):
        if sums[0] < 0:
            a, b, sums = b, a, [-v for v in sums]
        total: list[Any] = [""] * len(table.headers)
        total[0], total[payer], total[payee] = "合计 total", a, b
        for column, value in zip(columns, sums, strict=True):
            total[column] = value
        out.append(total)
    return out


def _tables(report: Report) -> list[_Table]:
    classes = tuple(
        (row.section, row.label, row.target.roman if row.target else "",
         *[c.roman if c else "" for c in (*row.months, row.year)])
        for row in report.classes.rows
    )
    agreements = tuple(
        (a.id, a.name, a.formula, CONFIDENCE_LABEL.get(a.confidence, a.confidence),
         a.source or "")
        for a in report.catalog.agreements.values()
    )
    obligations = tuple(
        (o.agreement, _confidence(report, o.agreement), o.period, o.component, o.kind,
         _who(report, o.payer), _who(report, o.payee), o.amount, _wan(o.amount),
         _basis_text(o.basis), o.reason or "")
        for o in report.obligations
    )
    nets = tuple(
        (n.agreement, _confidence(report, n.agreement), _who(report, n.payer),
         _who(report, n.payee), n.amount, _wan(n.amount), _due(n.basis))
        for n in report.nets
    )
    statements = tuple(
        (st.party, st.name, a.agreement, a.confidence, a.accrued, a.cleared, a.paid, a.open,
         a.due, STATE_LABEL.get(a.state, a.state))
        for st in report.statements for a in st.agreements
    )
    return [
        _Table("classes", CLASS_HEADERS, classes),
        _Table("agreements", AGREEMENT_HEADERS, agreements),
        _Table("obligations", OBLIGATION_HEADERS, obligations, money=(7,), wan=(8,),
               totals=(5, 6)),
        _Table("nets", NET_HEADERS, nets, money=(4,), wan=(5,), totals=(2, 3)),
        _Table("statements", STATEMENT_HEADERS, statements, money=(4, 5, 6, 7)),
    ]


# --------------------------------------------------------------------------- CSV


def _csv_cell(value: Any, yuan: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):  # a plain number: 元 with two decimals, 万元 exact
        return f"{value:.2f}" if yuan else f"{value:f}"
    if isinstance(value, date):
        return value.isoformat()
    return spreadsheet_text(str(value))  # text cannot start a formula (amounts stay numbers)


def _csv_table(table: _Table) -> bytes:
    """One table: a header row, then the rows; UTF-8 with BOM so Excel reads it as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_text(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([_csv_cell(v, i in table.money) for i, v in enumerate(row)])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_tables(report: Report) -> dict[str, bytes]:
    """``name.csv`` → bytes, one file per table (pandas.read_csv reads each as is)."""
    return {f"{t.name}.csv": _csv_table(t) for t in _tables(report)}


def _zip_bytes(report: Report) -> bytes:
    buffer = io.BytesIO()
    stamp = (report.generated.year, report.generated.month, report.generated.day, 0, 0, 0)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _csv_tables(report).items():
            archive.writestr(zipfile.ZipInfo(f"ecocomp-{report.year}/{name}", stamp), data,
                             compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


# --------------------------------------------------------------------------- XLSX


def _width(value: Any) -> int:
    """Display width of a cell: CJK characters count two."""
    if isinstance(value, Decimal):
        text = f"{value:,.2f}"
    elif isinstance(value, date):
        text = "2022-04-30"
    else:
        text = str(value or "")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


SHEET_TITLES = {"classes": "水质类别", "agreements": "协议 agreements",
                "obligations": "月度补偿 obligations", "nets": "年度清缴 nets",
                "statements": "主体对账单 statements"}
YUAN_FORMAT = "#,##0.00"
WAN_FORMAT = "#,##0.00####"
DATE_FORMAT = "yyyy-mm-dd"


def _xlsx_bytes(report: Report) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)

    def put(sheet: Any, values: Sequence[Any]) -> Any:
        """Append a row; text cannot become a formula (quoted, and typed as a string)."""
        sheet.append([spreadsheet_text(v) if isinstance(v, str) else v for v in values])
        row = sheet[sheet.max_row]
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
            elif isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT
        return row

    def finish(sheet: Any, table: _Table, header_row: int) -> None:
        """Frozen header, a filter, widths that show names and bases, landscape fit to width."""
        first, last = header_row + 1, header_row + len(table.rows)
        for cell in sheet[header_row]:
            cell.font = bold
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        ncols = len(table.headers)
        sheet.auto_filter.ref = (f"A{header_row}:{get_column_letter(ncols)}"
                                 f"{max(last, header_row)}")
        sheet.freeze_panes = f"C{first}" if ncols > 3 else f"A{first}"
        for i in range(ncols):
            widest = max([_width(h) // 2 + 2 for h in [table.headers[i]]]
                         + [_width(r[i]) + 2 for r in table.rows])
            sheet.column_dimensions[get_column_letter(i + 1)].width = min(max(widest, 8), 70)
        for r in sheet.iter_rows(min_row=first, max_row=last):
            for i, cell in enumerate(r):
                if i in table.money:
                    cell.number_format = YUAN_FORMAT
                elif i in table.wan:
                    cell.number_format = WAN_FORMAT
                if _width(cell.value) > 70:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.print_title_rows = f"{header_row}:{header_row}"
        sheet.page_setup.orientation = "landscape"
        sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
        sheet.page_setup.fitToWidth = 1
        sheet.page_setup.fitToHeight = 0
        sheet.sheet_properties.pageSetUpPr.fitToPage = True

    tables = _tables(report)
    classes = tables[0]
    title = f"{report_title(report, 'zh')} {report.year} {report_title(report, 'en')}"
    wb.properties.title = title
    ws = wb.create_sheet(SHEET_TITLES["classes"])
    note = report.later_note("en")
    put(ws, [f"{title} — {report.year}年 断面水质类别 (GB 3838-2002)；"
             "粗框 = 劣于目标 worse than target；"
             f"状态日期 as of {report.generated} (只计截至该日入账的记录 the ledger as booked on "
             f"or before this date; 逾期 overdue is judged on it)"
             + (f"；{report.later_note('zh')} — {note}" if note else "")])
    ws.append(["断面", "名称", "目标", *[f"{m}月" for m in range(1, 13)], "年度"])
    thick = Side(style="thick", color="000000")
    for row, values in zip(report.classes.rows, classes.rows, strict=True):
        cells = put(ws, [v or ("—" if 3 <= i else v) for i, v in enumerate(values)])
        for i, c in enumerate((*row.months, row.year)):
            cell = cells[3 + i]
            cell.alignment = Alignment(horizontal="center")
            if c is not None:
                cell.fill = PatternFill("solid", fgColor=c.colour.lstrip("#"))
                if row.target is not None and c > row.target:
                    cell.border = Border(left=thick, right=thick, top=thick, bottom=thick)
    finish(ws, classes, 2)
    ws.append([])
    put(ws, ["图例 legend"])[0].font = bold
    for c in WaterClass:
        cells = put(ws, [c.roman, f"{c.roman}类 {c.descriptor}"])
        cells[0].fill = PatternFill("solid", fgColor=c.colour.lstrip("#"))
    put(ws, ["—", "无数据 no data"])

    for table in tables[1:]:
        sheet = wb.create_sheet(SHEET_TITLES[table.name])
        sheet.append(list(table.headers))
        for values in table.rows:
            put(sheet, values)
        finish(sheet, table, 1)
        for total in _pair_totals(table):
            cells = put(sheet, total)
            for i, cell in enumerate(cells):
                cell.font = bold
                if i in table.money or i in table.wan:
                    cell.number_format = YUAN_FORMAT if i in table.money else WAN_FORMAT
    buffer = io.BytesIO()  # saved in memory: a failed disk write cannot leave a half zip behind
    wb.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


def _templates(template_dir: str | Path | None) -> Any:
    """The jinja2 environment: ``template_dir`` first, then the templates shipped with ecocomp."""
    import jinja2

    loaders: list[jinja2.BaseLoader] = []
    if template_dir is not None:
        folder = Path(template_dir)
        if not folder.is_dir():
            raise EcocompError(f"--template-dir {folder}: no such folder; give the folder that "
                               "holds your letterhead.html (or report.html)")
        loaders.append(jinja2.FileSystemLoader(folder))
    loaders.append(jinja2.PackageLoader("ecocomp", "templates"))
    env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["yuan"] = yuan_text
    env.filters["wan"] = wan_text
    return env


def _heatmap_svg(report: Report) -> str:
    """The class heat map: a target column, each month, the year; worse than target outlined."""
    rows = report.classes.rows
    cell, top = 34, 24
    left = 16 + 13 * max([4] + [len(r.label) for r in rows])
    width = left + cell * 14 + 10
    height = top + cell * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="class heatmap">']
    for m, label in enumerate(["目标", *[f"{m}月" for m in range(1, 13)], "年"]):
        parts.append(f'<text x="{left + m * cell + cell / 2}" y="16" font-size="11" '
                     f'text-anchor="middle">{label}</text>')
    for r, row in enumerate(rows):
        y = top + r * cell
        name = html.escape(row.label)
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="12" '
                     f'text-anchor="end">{name}</text>')
        target = row.target.roman if row.target else "—"
        parts.append(f'<rect class="target" x="{left}" y="{y}" width="{cell - 2}" '
                     f'height="{cell - 2}" fill="#FFFFFF" stroke="#333" stroke-dasharray="3 2">'
                     f'<title>{name} 目标 target: {target}</title></rect>')
        parts.append(f'<text x="{left + (cell - 2) / 2}" y="{y + cell / 2 + 3}" font-size="11" '
                     f'font-weight="bold" text-anchor="middle">{target}</text>')
        for m, c in enumerate((*row.months, row.year)):
            colour = c.colour if c else "#DDDDDD"
            text = c.roman if c else "—"
            worse = c is not None and row.target is not None and c > row.target
            outline = ' stroke="#000" stroke-width="3"' if worse else ""
            when = f"{report.year}-{m + 1:02d}" if m < 12 else f"{report.year} 年度"
            note = " 劣于目标 worse than target" if worse else ""
            x = left + (m + 1) * cell
            parts.append(f'<rect class="{"worse" if worse else "cls"}" x="{x}" y="{y}" '
                         f'width="{cell - 2}" height="{cell - 2}" fill="{colour}"{outline}>'
                         f'<title>{name} {when}: {text}{note}</title></rect>')
            parts.append(f'<text x="{x + (cell - 2) / 2}" y="{y + cell / 2 + 3}" '
                         f'font-size="11" text-anchor="middle">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


#: HJ 633 category colours, level 1 (优) to 6 (严重污染).
AQI_COLOURS = ("#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#99004C", "#7E0023")


def _aqi_calendar_html(report: Report) -> str:
    """Per city, a month × day grid of the daily AQI category (plain HTML and CSS)."""
    if not report.air_days:
        return ""
    parts = []
    head = "".join(f"<th>{d}</th>" for d in range(1, 32))
    for city, days in sorted(report.air_days.items()):
        by_day = {d.day: d for d in days}
        good = sum(1 for d in days if d.aqi is not None and d.category.good)
        rated = sum(1 for d in days if d.aqi is not None)
        name = html.escape(_who(report, city))
        parts.append(f'<h3>{name}</h3><p>优良天数 good days {good} / {rated} 有效 valid'
                     f'</p><table class="aqi"><thead><tr><th></th>{head}</tr></thead><tbody>')
        for month in range(1, 13):
            cells = []
            for d in range(1, 32):
                try:
                    day = date(report.year, month, d)
                except ValueError:
                    cells.append('<td class="qx"></td>')
                    continue
                found = by_day.get(day)
                if found is None or found.aqi is None:
                    cells.append(f'<td class="qn" title="{day} 无数据 no data"></td>')
                    continue
                primary = "、".join(found.primary) or "—"
                cells.append(f'<td class="q{found.category.level}" title="{day} AQI '
                             f'{found.aqi} {html.escape(found.category.name)} 首要 '
                             f'{html.escape(primary)}"></td>')
            parts.append(f"<tr><th>{month}月</th>{''.join(cells)}</tr>")
        parts.append("</tbody></table>")
    return "".join(parts)


def _flows_svg(report: Report) -> str:
    flows = sorted(report.flows().items(), key=lambda kv: -kv[1])
    if not flows and report.later:
        day = report.generated.isoformat()
        return f"<p>截至 {day} 尚无年度净额入账 No annual net is booked as of {day}.</p>"
    if not flows:
        return "<p>本年无资金往来 No money changes hands this year.</p>"
    biggest = max(v for _, v in flows)
    bar_w, row_h, left = 420, 30, 330
    height = row_h * len(flows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + bar_w + 160}" '
             f'height="{height}" role="img" aria-label="money flows">']
    for i, ((payer, payee), amount) in enumerate(flows):
        y = 5 + i * row_h
        w = max(2, int(bar_w * amount / biggest))
        label = f"{_name(report, payer)} → {_name(report, payee)}"
        parts.append(f'<text x="{left - 8}" y="{y + 18}" font-size="12" text-anchor="end">'
                     f'{html.escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{w}" height="20" fill="#2F6FB0"/>')
        parts.append(f'<polygon points="{left + w},{y + 0} {left + w + 12},{y + 14} '
                     f'{left + w},{y + 28}" fill="#2F6FB0"/>')
        parts.append(f'<text x="{left + w + 18}" y="{y + 18}" font-size="12">'
                     f'{wan_text(amount)} 万元</text>')
    parts.append("</svg>")
    return "".join(parts)


def _basis_json(basis: Mapping[str, Any], depth: int = 0) -> str:
    """The full basis as JSON, to recompute the amount by hand.

    Two levels are laid out one key a line; deeper values (an item's class, samples and
    value) stay on one line, which keeps the page a third of the size of indenting it all.
    """
    if not isinstance(basis, Mapping) or depth >= 2 or not basis:
        return json.dumps(basis, ensure_ascii=False, default=str)
    pad = " " * (depth + 1)
    inner = ",\n".join(f"{pad}{json.dumps(str(k), ensure_ascii=False)}: "
                       f"{_basis_json(v, depth + 1)}" for k, v in basis.items())
    return "{\n" + inner + "\n" + " " * depth + "}"


def _html_context(report: Report) -> dict[str, Any]:
    """What the template shows: plain data (the template escapes all of it)."""
    from markupsafe import Markup

    agreement_ids = {a: f"ag-{i}" for i, a in enumerate(
        sorted({*report.catalog.agreements, *(o.agreement for o in report.obligations),
                *(n.agreement for n in report.nets)}), start=1)}
    party_ids = {st.party: f"party-{i}" for i, st in enumerate(report.statements, start=1)}
    by_agreement: dict[str, list[ObligationRow]] = defaultdict(list)
    for o in report.obligations:
        by_agreement[o.agreement].append(o)
    nets_by_agreement: dict[str, list[ObligationRow]] = defaultdict(list)
    for n in report.nets:
        nets_by_agreement[n.agreement].append(n)

    def ob(o: ObligationRow) -> dict[str, Any]:
        return {"period": o.period, "component": o.component, "kind": o.kind,
                "payer": _who(report, o.payer), "payee": _who(report, o.payee),
                "amount": o.amount, "basis": _basis_text(o.basis), "reason": o.reason or "",
                # escaped here for a <pre> (quotes need no escaping there, halving the size)
                "json": Markup(html.escape(_basis_json(o.basis), quote=False)),
                "zero": o.kind == "zero"}

    cleared_later = {tx.agreement or "" for tx in report.later if tx.component == CLEARING}
    sections = []
    for agreement, anchor in agreement_ids.items():
        rows = by_agreement.get(agreement, [])
        if not rows and agreement not in nets_by_agreement:
            continue
        info = report.catalog.agreements.get(agreement)
        vector: dict[str, Decimal] = defaultdict(Decimal)
        for o in rows:
            vector[o.payer] -= o.amount
            vector[o.payee] += o.amount
        months_sum = [f"{_who(report, a)} → {_who(report, b)}: {yuan_text(v)} 元"
                      for a, b, v in settle_nets(vector)]
        nets = [{"payer": _who(report, n.payer), "payee": _who(report, n.payee),
                 "amount": n.amount, "due": n.basis.get("due", "")}
                for n in nets_by_agreement.get(agreement, [])]
        net_text = [f"{n['payer']} → {n['payee']}: {yuan_text(n['amount'])} 元" for n in nets]
        sections.append({
            "id": agreement, "anchor": anchor, "name": info.name if info else agreement,
            "confidence": CONFIDENCE_LABEL.get(_confidence(report, agreement), "unknown"),
            "source": (info.source or "") if info else "",
            "rows": [ob(o) for o in sorted(rows, key=lambda o: (o.period, o.component, o.seq))],
            "months_sum": months_sum or ["0.00 元"], "nets": nets,
            "tied": sorted(months_sum) == sorted(net_text),
            # no net yet: the agreement's clearing is booked after the report's date
            "pending": not nets and agreement in cleared_later,
        })
    parties = []
    for st in report.statements:
        parties.append({
            "anchor": party_ids[st.party], "code": st.party, "name": st.name, "net": st.net,
            "overdue": st.overdue,
            "balances": [{"agreement": a.agreement, "anchor": agreement_ids.get(a.agreement, ""),
                          "confidence": a.confidence, "accrued": a.accrued,
                          "cleared": a.cleared, "paid": a.paid, "open": a.open,
                          "due": a.due.isoformat() if a.due else "",
                          "state": STATE_LABEL.get(a.state, a.state),
                          "overdue": a.overdue} for a in st.agreements],
            "zero": [{"period": z.period, "agreement": z.agreement,
                      "anchor": agreement_ids.get(z.agreement, ""), "component": z.component,
                      "counterparty": ", ".join(_who(report, c.strip()) for c in
                                                (z.counterparty or "").split(",") if c),
                      "reason": z.reason} for z in st.zero],
        })
    cited = cited_sources(" ".join(a.source or "" for a in report.catalog.agreements.values()))
    return {
        "year": report.year, "as_of": report.generated.isoformat(),
        "later_note": report.later_note("en"), "later_note_zh": report.later_note("zh"),
        "title": report_title(report, "zh"), "title_en": report_title(report, "en"),
        "agreements": [{"id": a.id, "anchor": agreement_ids.get(a.id, ""), "name": a.name,
                        "formula": a.formula,
                        "confidence": CONFIDENCE_LABEL.get(a.confidence, a.confidence),
                        "confidence_code": a.confidence, "source": a.source or ""}
                       for a in report.catalog.agreements.values()],
        "sources": [{"tag": s.tag, "title": s.title, "urls": list(s.urls)} for s in cited],
        "legend": [{"roman": c.roman, "descriptor": c.descriptor, "colour": c.colour}
                   for c in WaterClass],
        "has_classes": bool(report.classes.rows),  # a project with water sections
        "heatmap": Markup(_heatmap_svg(report)),  # built with every text escaped
        "aqi_calendar": Markup(_aqi_calendar_html(report)),  # every text escaped too
        "aqi_colours": AQI_COLOURS,
        "flows": Markup(_flows_svg(report)),
        "nets": [{"agreement": n.agreement, "anchor": agreement_ids.get(n.agreement, ""),
                  "confidence": CONFIDENCE_LABEL.get(_confidence(report, n.agreement), ""),
                  "payer": _who(report, n.payer), "payee": _who(report, n.payee),
                  "amount": n.amount, "due": n.basis.get("due", "")} for n in report.nets],
        "sections": sections,
        "changes": [{"agreement": c.agreement, "anchor": agreement_ids.get(c.agreement, ""),
                     "period": c.period, "component": c.component,
                     "payer": _who(report, c.payer), "payee": _who(report, c.payee),
                     "amount": c.amount, "reason": c.reason or ""} for c in report.changes],
        "parties": parties,
    }


def _html_bytes(report: Report, templates: Any) -> bytes:
    import jinja2

    try:
        template = templates.get_template("report.html")
        return template.render(**_html_context(report)).encode("utf-8")
    except jinja2.TemplateError as exc:
        where = getattr(exc, "filename", None) or getattr(exc, "name", None) or "template"
        line = getattr(exc, "lineno", None)
        raise EcocompError(
            f"{where}{f':{line}' if line else ''}: the report template failed ({exc}); fix the "
            "template in --template-dir (the shipped ones are in ecocomp/templates/)"
        ) from None
