"""Reports people read: the year's classes, obligations with basis, nets and statements.

One data model (:class:`Report`, built from a settlement database) and three renderers:
``.xlsx`` (openpyxl, the ``report`` extra; Chinese headers, amounts in 元 and 万元),
a self-contained ``.html`` with inline SVG charts (class heatmap, money flows between
parties; no network, no JavaScript), and ``.csv`` (UTF-8 with BOM so Excel opens it).
"""

from __future__ import annotations

import csv
import html
import io
import json
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
from ecocomp.formulas.base import settle_nets
from ecocomp.ledger import Ledger, Transaction
from ecocomp.money import format_yuan
from ecocomp.outputs import replaced, spreadsheet_text
from ecocomp.periods import Period
from ecocomp.settlement import ACCRUED, CLEARING, PAYABLE, SETTLED, is_payment, require_intact
from ecocomp.sources import cited as cited_sources
from ecocomp.standards import WaterClass
from ecocomp.statements import PartyStatement, build_statement, explain, zero_reason
from ecocomp.store import ReadingStore

__all__ = ["ClassRow", "ClassTable", "Report", "build_report", "class_table", "write_report"]

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
        dues = [tx.due for tx in chain if tx.due]
        basis = {"due": max(dues).isoformat() if dues else ""}
        for payer, payee, amount in settle_nets(vector):
            nets.append(ObligationRow(
                agreement=agreement, period=str(year), component=CLEARING, kind="clearing",
                payer=payer, payee=payee, amount=amount, basis=basis, reason=None,
                seq=chain[0].seq,
            ))
    return nets


def build_report(db: str | Path, year: int, *, as_of: date | None = None) -> Report:
    """Collect the year's report data from a settlement database."""
    catalog = load_catalog(db)
    classes = class_table(db, year, catalog=catalog)
    with Ledger.open(db, create=False) as ledger:
        require_intact(ledger)
        txs = [tx for tx in ledger.transactions() if tx.period
               and Period.parse(tx.period).year == year]
    if year not in catalog.settled_years:
        raise EcocompError(f"{db}: nothing settled for {year}; run `ecocomp settle` first")
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
    nets = _nets(year, chains)
    zero = load_zero_amounts(db, year)
    # periods that paid nothing, with the reason (kept by the run; the ledger holds money)
    obligations.extend(
        ObligationRow(agreement=z.agreement, period=z.period, component=z.component,
                      kind="zero", payer=z.payer, payee=z.payee, amount=Decimal("0.00"),
                      basis={**z.basis, "explanation": zero_reason(z.basis)}, reason=None,
                      seq=0)
        for z in zero
    )
    parties = sorted({p for r in (*obligations, *nets) for p in (r.payer, r.payee)})
    today = as_of or date.today()
    statements = tuple(build_statement(txs, p, year, as_of=today, catalog=catalog, zero=zero)
                       for p in parties)
    return Report(year=year, generated=today, catalog=catalog, classes=classes,
                  obligations=tuple(obligations), nets=tuple(nets), statements=statements,
                  changes=tuple(changes))


def write_report(db: str | Path, year: int, out: str | Path, *, as_of: date | None = None) -> Path:
    """Write the year's report; the format follows the suffix (.xlsx, .html, .csv)."""
    out = Path(out)
    suffix = out.suffix.lower()
    renderers = {".html": _html_bytes, ".htm": _html_bytes, ".csv": _csv_bytes,
                 ".xlsx": _xlsx_bytes}
    if suffix not in renderers:
        raise EcocompError(f"{out}: unknown report format {suffix!r}; use .xlsx, .html or .csv")
    report = build_report(db, year, as_of=as_of)
    _replace_file(out, renderers[suffix](report))
    return out


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


def _name(report: Report, code: str) -> str:
    return report.catalog.party_name(code) if code else ""


def _wan(amount: Decimal) -> str:
    return format_yuan(amount, "wan")


def _basis_text(basis: Mapping[str, Any]) -> str:
    text = explain(basis)
    if text:
        return text
    inner = basis.get("basis") if isinstance(basis.get("basis"), Mapping) else basis
    return "; ".join(f"{k}={v}" for k, v in inner.items() if not isinstance(v, Mapping | list))


def _confidence(report: Report, agreement: str) -> str:
    info = report.catalog.agreements.get(agreement)
    return info.confidence if info else "unknown"


def _obligation_records(report: Report) -> list[list[str]]:
    rows = []
    for o in report.obligations:
        rows.append([
            o.agreement, _confidence(report, o.agreement), o.period, o.component, o.kind,
            f"{_name(report, o.payer)} ({o.payer})", f"{_name(report, o.payee)} ({o.payee})",
            f"{o.amount:.2f}", f"{_wan(o.amount)}", _basis_text(o.basis), o.reason or "",
        ])
    return rows


OBLIGATION_HEADERS = ["协议 agreement", "规则可信度 confidence", "期间 period", "组成 component",
                      "类型 kind", "付款方 payer", "收款方 payee", "金额(元)", "金额(万元)",
                      "依据 basis", "调整原因 reason"]
NET_HEADERS = ["协议 agreement", "规则可信度 confidence", "付款方 payer", "收款方 payee",
               "净额(元)", "净额(万元)", "清缴期限 due"]
OBLIGATION_MONEY = (7, 8)  # the amount columns of the rows below (numbers, not text)
NET_MONEY = (4, 5)


def _net_records(report: Report) -> list[list[str]]:
    rows = []
    for n in report.nets:
        due = n.basis.get("due", "")
        rows.append([
            n.agreement, _confidence(report, n.agreement),
            f"{_name(report, n.payer)} ({n.payer})" if n.payer else "—",
            f"{_name(report, n.payee)} ({n.payee})" if n.payee else "—",
            f"{n.amount:.2f}", f"{_wan(n.amount)}", str(due),
        ])
    return rows


# --------------------------------------------------------------------------- CSV


class _SafeCsv:
    """A CSV writer whose text cells cannot start a formula (:func:`spreadsheet_text`).

    ``money`` maps a header row's first cell to the columns that hold amounts, written as
    plain numbers (a negative amount stays a number, not text).
    """

    def __init__(self, buffer: io.StringIO) -> None:
        self._writer = csv.writer(buffer)
        self.money: Sequence[int] = ()

    def writerow(self, row: Sequence[str]) -> None:
        self._writer.writerow([v if i in self.money else spreadsheet_text(v)
                               for i, v in enumerate(row)])

    def writerows(self, rows: Sequence[Sequence[str]]) -> None:
        for row in rows:
            self.writerow(row)


def _csv_bytes(report: Report) -> bytes:
    buffer = io.StringIO()
    w = _SafeCsv(buffer)
    w.writerow([f"ecocomp 结算报告 {report.year}", f"generated {report.generated}"])
    w.writerow([])
    w.writerow(["断面 section", "名称 name", "目标 target",
                *[f"{m}月" for m in range(1, 13)], "年度 year"])
    for row in report.classes.rows:
        w.writerow([row.section, row.label, row.target.roman if row.target else "",
                    *[c.roman if c else "" for c in row.months],
                    row.year.roman if row.year else ""])
    w.writerow([])
    w.writerow(OBLIGATION_HEADERS)
    w.money = OBLIGATION_MONEY
    w.writerows(_obligation_records(report))
    w.money = ()
    w.writerow([])
    w.writerow(NET_HEADERS)
    w.money = NET_MONEY
    w.writerows(_net_records(report))
    w.money = ()
    w.writerow([])
    w.writerow(["主体 party", "名称 name", "年度净额(元) net", "逾期(元) overdue"])
    w.money = (2, 3)
    for st in report.statements:
        w.writerow([st.party, st.name, f"{st.net:.2f}", f"{st.overdue:.2f}"])
    return buffer.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------- XLSX


def _xlsx_bytes(report: Report) -> bytes:
    try:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter
    except ImportError:  # pragma: no cover - depends on the install
        raise EcocompError(
            "Excel reports need openpyxl: pip install 'ecocomp[report]'"
        ) from None
    wb = Workbook()
    bold = Font(bold=True)

    ws = wb.active
    ws.title = "水质类别"
    ws.append([f"{report.year}年 断面水质类别 (GB 3838-2002)"])

    def append(sheet: Any, values: Sequence[Any]) -> None:
        """Append a row; text cannot become a formula (quoted, and typed as a string)."""
        sheet.append([spreadsheet_text(v) if isinstance(v, str) else v for v in values])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"

    ws.append(["断面", "名称", "目标", *[f"{m}月" for m in range(1, 13)], "年度"])
    for cell in ws[2]:
        cell.font = bold
    for row in report.classes.rows:
        cells = [*row.months, row.year]
        append(ws, [row.section, row.label, row.target.roman if row.target else "",
                    *[c.roman if c else "—" for c in cells]])
        for i, c in enumerate(cells):
            if c is not None:
                target = ws.cell(row=ws.max_row, column=4 + i)
                target.fill = PatternFill("solid", fgColor=c.colour.lstrip("#"))
                target.alignment = Alignment(horizontal="center")

    def table(title: str, headers: Sequence[str], rows: list[list[str]],
              money_cols: Sequence[int]) -> None:
        sheet = wb.create_sheet(title)
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = bold
        for r in rows:
            values: list[Any] = list(r)
            for i in money_cols:
                values[i] = Decimal(values[i])
            append(sheet, values)
            for i in money_cols:
                sheet.cell(row=sheet.max_row, column=i + 1).number_format = "#,##0.00"
        for i, _ in enumerate(headers, start=1):
            sheet.column_dimensions[get_column_letter(i)].width = 18

    table("月度补偿 obligations", OBLIGATION_HEADERS, _obligation_records(report),
          OBLIGATION_MONEY)
    table("年度清缴 nets", NET_HEADERS, _net_records(report), NET_MONEY)
    st_rows = []
    for st in report.statements:
        for a in st.agreements:
            st_rows.append([st.party, st.name, a.agreement, a.confidence, f"{a.accrued:.2f}",
                            f"{a.cleared:.2f}", f"{a.paid:.2f}", f"{a.open:.2f}",
                            a.due.isoformat() if a.due else "", "是" if a.overdue else ""])
    table("主体对账单 statements",
          ["主体", "名称", "协议", "可信度", "应计(元)", "清缴(元)", "已付(元)", "未结(元)",
           "期限", "逾期"], st_rows, (4, 5, 6, 7))
    buffer = io.BytesIO()  # saved in memory: a failed disk write cannot leave a half zip behind
    wb.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- HTML


def _heatmap_svg(report: Report) -> str:
    rows = report.classes.rows
    cell, top = 34, 24
    left = 16 + 13 * max([4] + [len(r.label) for r in rows])
    width = left + cell * 13 + 10
    height = top + cell * len(rows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="class heatmap">']
    for m in range(13):
        label = f"{m + 1}月" if m < 12 else "年"
        parts.append(f'<text x="{left + m * cell + cell / 2}" y="16" font-size="11" '
                     f'text-anchor="middle">{label}</text>')
    for r, row in enumerate(rows):
        y = top + r * cell
        parts.append(f'<text x="{left - 6}" y="{y + cell / 2 + 4}" font-size="12" '
                     f'text-anchor="end">{html.escape(row.label)}</text>')
        for m, c in enumerate((*row.months, row.year)):
            colour = c.colour if c else "#DDDDDD"
            text = c.roman if c else "—"
            x = left + m * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" '
                         f'fill="{colour}"><title>{html.escape(row.label)} '
                         f'{m + 1 if m < 12 else report.year}: {text}</title></rect>')
            parts.append(f'<text x="{x + (cell - 2) / 2}" y="{y + cell / 2 + 3}" '
                         f'font-size="11" text-anchor="middle">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _flows_svg(report: Report) -> str:
    flows = sorted(report.flows().items(), key=lambda kv: -kv[1])
    if not flows:
        return "<p>No money changes hands this year.</p>"
    biggest = max(v for _, v in flows)
    bar_w, row_h, left = 420, 30, 330
    height = row_h * len(flows) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + bar_w + 140}" '
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
                     f'{_wan(amount)} 万元</text>')
    parts.append("</svg>")
    return "".join(parts)


def _html_table(
    headers: Sequence[str],
    rows: list[list[str]],
    extra: Sequence[str] | None = None,
    column: int = -1,
) -> str:
    """A table; ``extra[i]`` (already HTML) is appended to cell ``column`` of row ``i``."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, r in enumerate(rows):
        cells = [html.escape(str(c)) for c in r]
        if extra is not None and cells:
            cells[column] += extra[i]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _basis_details(basis: Mapping[str, Any]) -> str:
    """The full basis as JSON behind a disclosure triangle, to recompute the amount by hand."""
    text = json.dumps(basis, ensure_ascii=False, indent=1, default=str)
    summary = "<summary>全部依据 full basis</summary>"
    return f"<details>{summary}<pre>{html.escape(text)}</pre></details>"


_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
td,th{border:1px solid #bbb;padding:3px 6px;vertical-align:top}
th{background:#f0f0f0}
pre{font-size:11px;max-width:60em;white-space:pre-wrap}
.conf-confirmed{color:#0a6e2a}.conf-inferred{color:#a06000}.conf-placeholder{color:#b00000}
"""


def _html_bytes(report: Report) -> bytes:
    agreements = [
        [a.id, a.name, a.formula, CONFIDENCE_LABEL.get(a.confidence, a.confidence),
         a.source or ""]
        for a in report.catalog.agreements.values()
    ]
    statements = []
    for st in report.statements:
        rows = [[a.agreement, a.confidence, f"{a.accrued:,.2f}", f"{a.cleared:,.2f}",
                 f"{a.paid:,.2f}", f"{a.open:,.2f}", a.due.isoformat() if a.due else "",
                 "逾期 overdue" if a.overdue else ""] for a in st.agreements]
        statements.append(
            f"<h3>{html.escape(st.name)} ({st.party}) — 年度净额 {st.net:+,.2f} 元</h3>"
            + _html_table(["协议", "可信度", "应计", "清缴", "已付", "未结", "期限", "状态"], rows)
        )
    changes = [[c.agreement, c.period, c.component, c.reason or ""] for c in report.changes]
    cited = cited_sources(" ".join(a.source or "" for a in report.catalog.agreements.values()))
    sources = [[s.tag, s.title, " ; ".join(s.urls)] for s in cited]
    page = f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>ecocomp 结算报告 {report.year}</title><style>{_CSS}</style></head><body>
<h1>流域生态保护补偿结算报告 {report.year}</h1>
<p>Generated {report.generated} by ecocomp. Classes per GB 3838-2002 (single-factor method);
amounts in 元 and 万元; every amount's basis is listed below.</p>
<h2>协议 Agreements and the confidence of their rules</h2>
{_html_table(["id", "名称", "公式", "可信度", "来源"], agreements)}
<p>来源 tags (S…, N…) are the public sources below (ecocomp/data/sources.toml, shipped with
ecocomp): [C] confirmed, [P] partly confirmed, [I] inferred, [U] unknown.</p>
{_html_table(["tag", "来源 source", "address"], sources) if sources else ""}
<h2>断面水质类别 Section classes</h2>
{_heatmap_svg(report)}
<h2>资金流向 Money flows (annual nets)</h2>
{_flows_svg(report)}
<h2>年度清缴 Nets and due dates</h2>
{_html_table(NET_HEADERS, _net_records(report))}
<h2>月度补偿及依据 Obligations and their basis</h2>
{_html_table(OBLIGATION_HEADERS, _obligation_records(report),
             [_basis_details(o.basis) for o in report.obligations], column=9)}
<h2>调整 Corrections</h2>
{_html_table(["协议", "期间", "组成", "原因"], changes) if changes else "<p>None.</p>"}
<h2>主体对账单 Party statements</h2>
{"".join(statements)}
</body></html>
"""
    return page.encode("utf-8")
