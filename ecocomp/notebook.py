"""What an analyst sees in Python and Jupyter: pandas frames, one-line reprs, small HTML tables.

pandas is optional (``pip install 'ecocomp[pandas]'``); everything else here is stdlib. This
module reads the objects it is given and imports no other ecocomp module but ``errors``, so
every floor (the ledger, assessment, settlement) can offer ``to_frame()`` through it.
Amounts stay :class:`~decimal.Decimal` in the frames (an ``object`` column), never float, so
a sum in pandas is exact to the fen.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ecocomp.errors import EcocompError

if TYPE_CHECKING:  # pragma: no cover - types only
    import pandas

    from ecocomp.assessment import Assessments
    from ecocomp.ledger import Ledger
    from ecocomp.settlement import SettlementResult
    from ecocomp.statements import PartyStatement

__all__ = ["assessments_frame", "ledger_frame", "result_frame"]

#: Rows an HTML table shows in a notebook before it says how many more there are.
HTML_ROWS = 20


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise EcocompError(
            "to_frame() needs pandas, which is not installed; install the extra with "
            "pip install 'ecocomp[pandas]' (or pip install pandas)"
        ) from None
    return pandas


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pandas.DataFrame:
    pd = _pandas()
    # object columns throughout: Decimals stay Decimals, codes stay str, None stays None
    data = {c: pd.array([r[c] for r in rows], dtype=object) for c in columns}
    return pd.DataFrame(data, columns=list(columns))


RESULT_COLUMNS = ("agreement", "period", "component", "payer", "payee", "amount", "explanation")


def result_frame(result: SettlementResult) -> pandas.DataFrame:
    """One row per obligation the run computed; ``amount`` in yuan as Decimal."""
    rows = [
        {"agreement": o.agreement, "period": str(o.period), "component": o.component,
         "payer": o.payer, "payee": o.payee, "amount": o.amount,
         "explanation": o.basis.get("explanation") or o.basis.get("rule")}
        for o in result.obligations
    ]
    return _frame(rows, RESULT_COLUMNS)


ASSESSMENT_COLUMNS = ("section", "period", "waterbody", "class", "missing")


def assessments_frame(assessments: Assessments) -> pandas.DataFrame:
    """One row per section and period: the class code (``None`` without data) and gaps."""
    rows = []
    for (section, period), sa in sorted(assessments.sections.items(),
                                        key=lambda kv: (kv[0][0], str(kv[0][1]))):
        cls = sa.cls
        rows.append({"section": section, "period": str(period), "waterbody": sa.waterbody,
                     "class": cls.code if cls else None,
                     "missing": ", ".join(sa.missing) or None})
    return _frame(rows, ASSESSMENT_COLUMNS)


LEDGER_COLUMNS = ("seq", "key", "kind", "booked_on", "agreement", "period", "component",
                  "due", "payer", "payer_purpose", "payee", "payee_purpose", "amount",
                  "reason", "reference", "hash")


def ledger_frame(ledger: Ledger, **filters: Any) -> pandas.DataFrame:
    """One row per transfer of the ledger's transactions (filters as ``transactions()``)."""
    rows = [
        {"seq": tx.seq, "key": tx.key, "kind": tx.kind, "booked_on": tx.booked_on,
         "agreement": tx.agreement, "period": tx.period, "component": tx.component,
         "due": tx.due, "payer": t.debit_party, "payer_purpose": t.debit_purpose,
         "payee": t.credit_party, "payee_purpose": t.credit_purpose, "amount": t.amount,
         "reason": tx.reason, "reference": tx.reference, "hash": tx.hash}
        for tx in ledger.transactions(**filters)
        for t in tx.transfers
    ]
    return _frame(rows, LEDGER_COLUMNS)


# --------------------------------------------------------------------------- HTML


def html_table(
    caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], total: int
) -> str:
    """A small escaped table: at most :data:`HTML_ROWS` rows, then how many are left out."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        if i == HTML_ROWS:
            break
        body.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row)
                    + "</tr>")
    more = (f"<p>… {total - HTML_ROWS} more rows (use <code>.to_frame()</code>)</p>"
            if total > HTML_ROWS else "")
    return (f"<div><p><b>{html.escape(caption)}</b></p><table><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table>{more}</div>")


def _cell(value: Any) -> str:
    from decimal import Decimal

    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    return str(value)


def result_html(result: SettlementResult) -> str:
    nets = [(n.agreement, n.payer, n.payee, n.amount, n.due.isoformat()) for n in result.nets]
    return html_table(repr(result), ("agreement", "payer", "payee", "net (yuan)", "due"),
                      nets, len(nets))


def assessments_html(assessments: Assessments) -> str:
    items = sorted(assessments.sections.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    rows = ((s, str(p), sa.cls.code if sa.cls else "—", ", ".join(sa.missing))
            for (s, p), sa in items)
    return html_table(repr(assessments), ("section", "period", "class", "missing"), rows,
                      len(items))


def statement_html(statement: PartyStatement) -> str:
    rows = [(a.agreement, a.accrued, a.cleared, a.paid, a.open,
             a.due.isoformat() if a.due else "", a.state) for a in statement.agreements]
    return html_table(repr(statement), ("agreement", "accrued", "cleared", "paid", "open",
                                        "due", "state"), rows, len(rows))
