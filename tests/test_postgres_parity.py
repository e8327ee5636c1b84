"""SQLite and PostgreSQL give the same amounts, warnings, statements, reports and verify
verdicts for the same project and commands (the PostgreSQL parity campaign). Each test is
a difference found between the two backends that a user was not told about."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from conftest import edit

import ecocomp

LISHUI = "agreements/lishui-zjj-cd-2020.toml"


def settle(project: Path, db: str, year: int = 2021) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=year, ledger=ledger,
                              today=date(2022, 3, 1))


def test_an_agreement_edited_after_two_years_were_settled_is_reported_on_postgres(
        project, pg_url):
    """2020 and 2021 settled into PostgreSQL, then an agreement's terms edited and 2021
    settled again: SQLite warned that 2020 was settled under other terms, PostgreSQL said
    nothing (the terms were recorded and compared on SQLite only)."""
    settle(project, pg_url, 2020)
    settle(project, pg_url, 2021)
    edit(project / LISHUI, 'II           = { payer = "none" }',
         'II           = { payer = "upstream", amount = 10 }')
    [warning] = [w for w in settle(project, pg_url, 2021).warnings if "2020" in w]
    assert "lishui-zjj-cd-2020" in warning and "would post 13 and adjust 0" in warning
