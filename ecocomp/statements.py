"""A party's statement for a year: every obligation with its basis, the nets, payments, arrears.

Built from the ledger alone (plus the project catalog for names), so a county can check what
the province's database says about it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from ecocomp.catalog import Catalog, ZeroAmount, load_catalog, load_zero_amounts
from ecocomp.errors import EcocompError
from ecocomp.ledger import Ledger, LedgerHead, Transaction
from ecocomp.money import in_money_context
from ecocomp.outputs import terminal_text
from ecocomp.periods import Period
from ecocomp.settlement import PAYABLE, SETTLED, is_payment, require_intact

__all__ = [
    "AgreementBalance",
    "PartyStatement",
    "StatementLine",
    "ZeroLine",
    "build_statement",
    "explain",
    "party_statement",
]

_ZERO = Decimal("0.00")


@attrs.frozen
class StatementLine:
    """One ledger transaction as it concerns the party (+ receives, − pays)."""

    seq: int
    key: str
    kind: str
    agreement: str | None
    period: str | None
    component: str | None
    counterparty: str | None
    amount: Decimal
    booked_on: date
    due: date | None
    reason: str | None
    corrects: str | None
    reference: str | None
    basis: Mapping[str, Any]
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "key": self.key,
            "kind": self.kind,
            "agreement": self.agreement,
            "period": self.period,
            "component": self.component,
            "counterparty": self.counterparty,
            "amount": f"{self.amount:.2f}",
            "booked_on": self.booked_on.isoformat(),
            "due": self.due.isoformat() if self.due else None,
            "reason": self.reason,
            "corrects": self.corrects,
            "reference": self.reference,
            "basis": dict(self.basis),
            "hash": self.hash,
        }


@attrs.frozen
class ZeroLine:
    """A period that paid nothing under an agreement of the party's, and the reason why."""

    agreement: str
    period: str
    component: str
    counterparty: str | None
    reason: str
    basis: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement,
            "period": self.period,
            "component": self.component,
            "counterparty": self.counterparty,
            "amount": "0.00",
            "reason": self.reason,
            "basis": dict(self.basis),
        }


@attrs.frozen
class AgreementBalance:
    """Per agreement: the year's accrued net, the cleared amount due, payments, what is open."""

    agreement: str
    name: str
    confidence: str
    accrued: Decimal
    cleared: Decimal
    paid: Decimal
    open: Decimal
    due: date | None
    overdue: bool

    @property
    def state(self) -> str:
        """``OVERDUE``, ``not yet cleared`` (accruing), ``settled`` or ``open``."""
        if self.overdue:
            return "OVERDUE"
        if self.cleared == 0 and self.paid == 0 and self.accrued != 0:
            return "not yet cleared"
        return "settled" if self.open == 0 else "open"

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement,
            "name": self.name,
            "confidence": self.confidence,
            "accrued": f"{self.accrued:.2f}",
            "cleared": f"{self.cleared:.2f}",
            "paid": f"{self.paid:.2f}",
            "open": f"{self.open:.2f}",
            "due": self.due.isoformat() if self.due else None,
            "overdue": self.overdue,
            "state": self.state,
        }


@attrs.frozen
class PartyStatement:
    """One party's year: lines (obligations, clearings, payments) and per-agreement balances."""

    party: str
    name: str
    year: int
    as_of: date
    lines: tuple[StatementLine, ...]
    agreements: tuple[AgreementBalance, ...]
    zero: tuple[ZeroLine, ...] = ()
    #: The ledger's latest checkpoint when the statement was made: a receipt the party keeps
    #: and later checks with ``ecocomp ledger verify --against`` (signed when the operator
    #: signs checkpoints).
    receipt: LedgerHead | None = None
    #: How many of the year's ledger lines of the party are booked after ``as_of`` and left
    #: out (a year's lines are booked at its end: a statement made during the year shows
    #: them only with a later ``as_of``).
    booked_later: int = 0
    #: The last booking date of those lines (None: none left out).
    booked_until: date | None = None

    @property
    @in_money_context
    def net(self) -> Decimal:
        """What the party received minus what it paid over the year's obligations."""
        return sum((a.accrued for a in self.agreements), _ZERO)

    @property
    @in_money_context
    def overdue(self) -> Decimal:
        """Open amounts the party owes whose due date has passed (a positive number)."""
        return sum((-a.open for a in self.agreements if a.overdue and a.open < 0), _ZERO)

    def to_json(self) -> dict[str, Any]:
        return {
            "party": self.party,
            "name": self.name,
            "year": self.year,
            "as_of": self.as_of.isoformat(),
            "net": f"{self.net:.2f}",
            "overdue": f"{self.overdue:.2f}",
            "agreements": [a.to_json() for a in self.agreements],
            "lines": [line.to_json() for line in self.lines],
            "zero_amounts": [z.to_json() for z in self.zero],
            "receipt": self.receipt.to_json() if self.receipt else None,
            "booked_later": self.booked_later,
            "booked_until": self.booked_until.isoformat() if self.booked_until else None,
        }

    def __repr__(self) -> str:
        return (f"<PartyStatement {self.year} {self.party} {self.name!r} as of {self.as_of}: "
                f"net {self.net:+,.2f} yuan, {len(self.agreements)} agreements, "
                f"{len(self.lines)} lines>")

    def _repr_html_(self) -> str:
        from ecocomp.notebook import statement_html

        return statement_html(self)

    def render(self) -> str:
        """Plain text for the terminal: balances first, then every line with its basis."""
        out = [f"Statement {self.year} — {self.name} ({self.party}), as of {self.as_of}"]
        out.append(f"net for the year: {self.net:+,.2f} yuan (positive = receives)")
        if self.booked_later:
            out.append(later_note(self))
        for a in self.agreements:
            state = a.state
            due = f", due {a.due}" if a.due else ""
            out.append(
                f"  {a.agreement} [{a.confidence}]: accrued {a.accrued:+,.2f}, cleared "
                f"{a.cleared:+,.2f}, paid {a.paid:+,.2f}, open {a.open:+,.2f}{due} — {state}"
            )
        out.append("lines:")
        for line in self.lines:
            label = line.component or line.kind
            out.append(
                f"  #{line.seq} {line.period or ''} {line.agreement or ''} {label} "
                f"{line.kind}: {line.amount:+,.2f} with {line.counterparty or '-'}"
                + (f", reference {line.reference}" if line.reference else "")
            )
            explanation = explain(line.basis)
            if explanation:
                out.append(f"      basis: {explanation}")
            if line.reason:
                out.append(f"      reason: {line.reason}")
        if self.zero:
            out.append("nothing to pay (zero amounts), and why:")
            for z in self.zero:
                out.append(f"  {z.period} {z.agreement} {z.component}: 0.00 — {z.reason}")
        if self.receipt is not None:
            out.append(self.receipt.describe("receipt"))
            out.append("  (keep it; check later with `ecocomp ledger verify --against`)")
        return "\n".join(map(terminal_text, out))  # one line each: names cannot add lines


def explain(meta: Mapping[str, Any]) -> str:
    """The one-line explanation a formula left in an obligation's basis (or "")."""
    inner = meta.get("basis")
    for source in (meta, inner if isinstance(inner, Mapping) else {}):
        text = source.get("explanation") or source.get("rule")
        if text:
            return str(text)
    return ""


def zero_reason(basis: Mapping[str, Any]) -> str:
    """Why a period paid nothing: the formula's explanation, and its rule when that says more."""
    text = explain(basis)
    rule = basis.get("rule")
    if rule and str(rule) not in text:
        text = f"{text} ({rule})" if text else str(rule)
    return text or "the formula computed no amount"


def held_amounts(transactions: Iterable[Transaction], as_of: date) -> set[tuple[str, str, str]]:
    """The (agreement, period, component) of the amounts the ledger holds as booked on or
    before ``as_of``: their transactions (payments aside) do not net to nothing.

    The periods that paid nothing come from the latest run; a period it computed as nothing
    after ``as_of`` (a correction) may still hold money as of that day, and is then shown
    with its amount, not also as "nothing to pay".
    """
    sums: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(lambda: _ZERO))
    for tx in transactions:
        if tx.booked_on > as_of or not tx.agreement or not tx.period or is_payment(tx):
            continue
        held = sums[(tx.agreement, tx.period, tx.component or "")]
        for t in tx.transfers:
            held[t.credit_party] += t.amount
            held[t.debit_party] -= t.amount
    return {key for key, held in sums.items() if any(held.values())}


def _zero_lines(
    zero: Sequence[ZeroAmount], party: str, year: int, as_of: date, catalog: Catalog | None,
    held: Collection[tuple[str, str, str]] = (),
) -> list[ZeroLine]:
    found = []
    for z in zero:
        period = Period.parse(z.period)
        info = catalog.agreements.get(z.agreement) if catalog else None
        parties = {z.payer, z.payee} | (set(info.parties.values()) if info else set())
        if (party not in parties or period.year != year or period.end > as_of
                or (z.agreement, z.period, z.component) in held):
            continue
        others = sorted(parties - {party})
        found.append(ZeroLine(agreement=z.agreement, period=z.period, component=z.component,
                              counterparty=", ".join(others) or None,
                              reason=zero_reason(z.basis), basis=z.basis))
    return found


def _counterparty(tx: Transaction, party: str) -> str | None:
    """The other side(s) of the party's transfers, comma-separated (a pooled fund has several)."""
    others = {t.debit_party for t in tx.transfers if t.credit_party == party}
    others |= {t.credit_party for t in tx.transfers if t.debit_party == party}
    others.discard(party)
    return ", ".join(sorted(others)) or None


def _in_year(tx: Transaction, year: int) -> bool:
    return bool(tx.period) and Period.parse(tx.period).year == year  # type: ignore[arg-type]


def later_note(st: PartyStatement, lang: str = "en") -> str:
    """The line saying how many of the year's lines are booked after the statement's date."""
    from ecocomp.i18n import message

    return message("st.later", lang, count=st.booked_later, as_of=st.as_of,
                   end=st.booked_until)


@in_money_context
def build_statement(
    transactions: Sequence[Transaction],
    party: str,
    year: int,
    *,
    as_of: date,
    catalog: Catalog | None = None,
    zero: Sequence[ZeroAmount] = (),
    held: Collection[tuple[str, str, str]] | None = None,
) -> PartyStatement:
    """Pure: a statement from the ledger's transactions booked on or before ``as_of``.

    ``zero`` are the periods the latest run computed nothing to pay for
    (:func:`ecocomp.catalog.load_zero_amounts`); those of the party's agreements that ended
    by ``as_of`` are listed with the reason, unless the ledger holds an amount for them as
    of that day (``held``: :func:`held_amounts` of ``transactions``, computed when None).
    """
    if held is None:
        held = held_amounts(transactions, as_of) if zero else ()
    lines: list[StatementLine] = []
    accrued: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    cleared: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    paid: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    due: dict[str, date] = {}
    later, until = 0, None
    for tx in transactions:
        if not _in_year(tx, year):
            continue
        other = _counterparty(tx, party)
        if other is None:
            continue
        if tx.booked_on > as_of:
            later += 1
            until = tx.booked_on if until is None else max(until, tx.booked_on)
            continue
        total, payable = tx.effect(party), tx.effect(party, PAYABLE)
        agreement = tx.agreement or ""
        if is_payment(tx):  # a payment, or a reversal or adjustment of one
            paid[agreement] += payable
            shown = tx.effect(party, SETTLED)  # + received, − paid
        elif tx.component == "clearing":
            cleared[agreement] += payable
            shown = payable
            if tx.due:
                due[agreement] = tx.due
        else:
            accrued[agreement] += total
            shown = total
        lines.append(
            StatementLine(
                seq=tx.seq, key=tx.key, kind=tx.kind, agreement=tx.agreement,
                period=tx.period, component=tx.component, counterparty=other, amount=shown,
                booked_on=tx.booked_on, due=tx.due, reason=tx.reason, corrects=tx.corrects,
                reference=tx.reference, basis=tx.meta, hash=tx.hash,
            )
        )
    balances = []
    for agreement in sorted({*accrued, *cleared, *paid}):
        info = catalog.agreements.get(agreement) if catalog else None
        open_amount = cleared[agreement] + paid[agreement]
        when = due.get(agreement)
        balances.append(
            AgreementBalance(
                agreement=agreement,
                name=info.name if info else agreement,
                confidence=info.confidence if info else "unknown",
                accrued=accrued[agreement],
                cleared=cleared[agreement],
                paid=-paid[agreement],
                open=open_amount,
                due=when,
                overdue=bool(when and when < as_of and open_amount < 0),
            )
        )
    name = catalog.party_name(party) if catalog else party
    return PartyStatement(party=party, name=name, year=year, as_of=as_of, lines=tuple(lines),
                          agreements=tuple(balances),
                          zero=tuple(_zero_lines(zero, party, year, as_of, catalog, held)),
                          booked_later=later, booked_until=until)


def party_statement(db: str | Path, party: str, year: int, *, as_of: date) -> PartyStatement:
    """A party's statement for a year from a settlement database.

    The party is one of the settled project's, or a code the ledger holds money of: a code
    since changed or removed in parties.toml keeps what was booked and paid under it.
    """
    catalog = load_catalog(db)
    if year not in catalog.settled_years:
        raise EcocompError(f"{db}: nothing settled for {year}; run `ecocomp settle` first")
    with Ledger.open(db, create=False) as ledger:
        require_intact(ledger)
        transactions = list(ledger.transactions(party=party))
        receipt = ledger.head()
    if party not in catalog.parties and not transactions:
        known = ", ".join(sorted(catalog.parties))
        raise EcocompError(f"party {party!r} is not in the settled project {db}; known: {known}")
    statement = build_statement(transactions, party, year, as_of=as_of, catalog=catalog,
                                zero=load_zero_amounts(db, year))
    return attrs.evolve(statement, receipt=receipt)
