"""Shared test oracles: the ledger's net per key, and what a fresh computation says it should be.

Written independently of ``ecocomp.settlement`` so the tests do not check the code with itself.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import ecocomp
from ecocomp.settlement import SettlementResult

Nets = dict[str, dict[str, Decimal]]


def ledger_nets(ledger: ecocomp.Ledger, year: int | None = None) -> Nets:
    """Net per party of every key chain (original + adjustments), optionally one year's.

    Accruals and their adjustments count in ``accrued``; the clearing in ``payable``.
    """
    chains: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for tx in ledger.transactions():
        if tx.kind == "payment" or not tx.period:
            continue
        if year is not None and not tx.period.startswith(str(year)):
            continue
        root = (tx.corrects or tx.key).split("#", 1)[0]
        purpose = "payable" if tx.component == "clearing" else "accrued"
        for t in tx.transfers:
            if t.credit_purpose == purpose:
                chains[root][t.credit_party] += t.amount
            if t.debit_purpose == purpose:
                chains[root][t.debit_party] -= t.amount
    cleaned = {k: {p: v for p, v in d.items() if v} for k, d in chains.items()}
    return {k: v for k, v in cleaned.items() if v}


def fresh_nets(result: SettlementResult) -> Nets:
    """What a ledger holding exactly ``result`` would show per key (same shape as above)."""
    out: Nets = {}
    for o in result.obligations:
        if o.amount == 0:
            continue
        key = f"{o.agreement}/{o.period}/{o.component}"
        assert key not in out, f"two obligations share the key {key}"
        out[key] = {o.payer: -o.amount, o.payee: o.amount}
    clearing: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for n in result.nets:
        key = f"{n.agreement}/{n.year}/clearing"
        clearing[key][n.payer] -= n.amount
        clearing[key][n.payee] += n.amount
    for key, vector in clearing.items():
        cleaned = {p: v for p, v in vector.items() if v}
        if cleaned:
            out[key] = cleaned
    return out
