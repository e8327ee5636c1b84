"""Payments as a careful officer records them: reversals, date windows, references.

The example's 澧水 clearing (examples/hunan-2021): 常德 430700 pays 张家界 430800 800000.00 yuan
for 2021, due 2022-04-30. Every statement and report must agree with the ledger's
``payable`` accounts after any payment, reversal or adjustment of a payment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import ecocomp
from ecocomp.cli import main
from ecocomp.errors import SettlementError
from ecocomp.ledger import NewTransaction, Transfer
from ecocomp.references import normalise_reference
from ecocomp.settlement import PAYABLE, SETTLED
from ecocomp.statements import party_statement

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
LISHUI = "lishui-zjj-cd-2020"
PAYER, PAYEE = "430700", "430800"
AS_OF = date(2022, 6, 1)
TODAY = date(2022, 6, 1)


@pytest.fixture
def ledger(db: Path) -> Iterator[ecocomp.Ledger]:
    with ecocomp.Ledger.open(db) as opened:
        yield opened


def pay(ledger: ecocomp.Ledger, amount: str, reference: str, *, on: date = date(2022, 4, 20),
        **options: object) -> ecocomp.Transaction:
    return ecocomp.pay(ledger, agreement=LISHUI, year=YEAR, payer=PAYER, payee=PAYEE,
                       amount=Decimal(amount), paid_on=on, reference=reference,
                       today=options.pop("today", TODAY), **options)  # type: ignore[arg-type]


def reverse(ledger: ecocomp.Ledger, reference: str, reason: str = "amount mistyped",
            **options: object) -> ecocomp.Transaction:
    return ecocomp.reverse_payment(ledger, reference=reference, reason=reason,
                                   booked_on=options.pop("booked_on", date(2022, 5, 2)),
                                   today=TODAY, **options)  # type: ignore[arg-type]


def lishui(db: Path, party: str = PAYER) -> ecocomp.statements.AgreementBalance:
    st = party_statement(db, party, YEAR, as_of=AS_OF)
    return next(a for a in st.agreements if a.agreement == LISHUI)


def payable(db: Path, party: str) -> Decimal:
    """The ledger's own figure: the party's ``payable`` account (only 澧水 touches 430700/800)."""
    with ecocomp.Ledger.open(db) as opened:
        return opened.balances(by="account", as_of=AS_OF).get(f"{party}:{PAYABLE}", Decimal(0))


def assert_agrees_with_the_ledger(db: Path) -> None:
    for party in (PAYER, PAYEE):
        balance = lishui(db, party)
        assert balance.open == payable(db, party), party
        assert balance.open == balance.cleared + (-balance.paid), party
    report = ecocomp.build_report(db, YEAR, as_of=AS_OF)
    for st in report.statements:
        if st.party in (PAYER, PAYEE):
            shown = next(a for a in st.agreements if a.agreement == LISHUI)
            assert shown == lishui(db, st.party)


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


# --------------------------------------------------------------------------- reversals


def test_a_reversed_payment_is_unpaid_again_in_statement_report_and_ledger(db, ledger):
    pay(ledger, "300000.00", "GK2022-0001")
    reversal = reverse(ledger, "GK2022-0001", "posted twice")
    assert (reversal.kind, reversal.corrects) == ("reversal", f"{LISHUI}/2021/payment/gk2022-0001")
    balance = lishui(db)
    # hand-worked: cleared −800000.00; paid 300000.00 then −300000.00 → 0; open −800000.00
    assert (balance.paid, balance.open, balance.overdue) == (
        Decimal("0.00"), Decimal("-800000.00"), True)
    assert lishui(db, PAYEE).open == Decimal("800000.00")
    assert_agrees_with_the_ledger(db)
    assert party_statement(db, PAYER, YEAR, as_of=AS_OF).overdue == Decimal("800000.00")


def test_partial_payments_with_one_reversed(db, ledger):
    pay(ledger, "300000.00", "GK-A")
    pay(ledger, "200000.00", "GK-B")
    assert lishui(db).open == Decimal("-300000.00")
    reverse(ledger, "GK-A")
    balance = lishui(db)
    # 800000.00 − 200000.00 still paid = 600000.00 open
    assert (balance.paid, balance.open) == (Decimal("-200000.00"), Decimal("-600000.00"))
    assert_agrees_with_the_ledger(db)


def test_an_adjusted_payment_counts_at_its_adjusted_amount(db, ledger):
    original = pay(ledger, "300000.00", "GK-ADJ")
    # the bank corrected the order to 250000.00: an adjustment moves 50000.00 back
    ledger.post(NewTransaction(
        key=f"{original.key}#adj1", kind="adjustment", booked_on=date(2022, 5, 3),
        agreement=LISHUI, period="2021", corrects=original.key, reason="bank corrected it",
        transfers=[Transfer.between(PAYER, PAYEE, "50000.00", purpose=PAYABLE),
                   Transfer.between(PAYEE, PAYER, "50000.00", purpose=SETTLED)]))
    ledger.checkpoint()  # vouch for the direct post, as `ecocomp ledger checkpoint` does
    balance = lishui(db)
    assert (balance.paid, balance.open) == (Decimal("-250000.00"), Decimal("-550000.00"))
    assert_agrees_with_the_ledger(db)
    # reversing the original alone would leave the adjustment: paid −50000.00
    with pytest.raises(SettlementError, match=r"adjusted by #\d+ \(bank corrected it\)"):
        reverse(ledger, "GK-ADJ")


def test_a_reversal_is_listed_with_its_reason_in_statement_and_report(db, ledger):
    pay(ledger, "300000.00", "GK2022-0009")
    reverse(ledger, "GK2022-0009", "wrong agreement")
    text = party_statement(db, PAYER, YEAR, as_of=AS_OF).render()
    assert "payment reversal: +300,000.00 with 430800, reference GK2022-0009" in text
    assert "reason: wrong agreement" in text
    report = ecocomp.build_report(db, YEAR, as_of=AS_OF)
    assert [c.reason for c in report.changes if c.component == "payment"] == ["wrong agreement"]


def test_a_settlement_run_after_a_reversed_payment_leaves_the_ledger_alone(db, ledger):
    pay(ledger, "300000.00", "GK-RERUN")
    reverse(ledger, "GK-RERUN")
    result = ecocomp.settle(ecocomp.load_project(EXAMPLE), year=YEAR, ledger=ledger,
                            today=date(2022, 6, 1))
    assert (result.posted, result.adjusted) == (0, 0)
    assert lishui(db).open == Decimal("-800000.00")


def test_a_payment_can_be_recorded_again_after_its_reversal(db, ledger):
    first = pay(ledger, "300000.00", "GK-RE")
    reverse(ledger, "GK-RE")
    second = pay(ledger, "350000.00", "gk-re")
    assert second.seq > first.seq and second.key == f"{first.key}#2"
    assert lishui(db).open == Decimal("-450000.00")
    reverse(ledger, "GK-RE", "the second was wrong too")  # the live one: the second
    assert lishui(db).open == Decimal("-800000.00")
    assert_agrees_with_the_ledger(db)


def test_reversing_twice_is_refused(ledger):
    pay(ledger, "300000.00", "GK-TWICE")
    first = reverse(ledger, "GK-TWICE")
    before = len(ledger)
    with pytest.raises(SettlementError, match=rf"already reversed by #{first.seq} on 2022-05-02"):
        reverse(ledger, "GK-TWICE")
    assert len(ledger) == before


def test_reversing_an_unknown_reference_is_refused(ledger):
    with pytest.raises(SettlementError, match="no payment with this reference"):
        reverse(ledger, "GK-NEVER")


@pytest.mark.parametrize("reason", ["", "   "])
def test_reversing_without_a_reason_is_refused(ledger, reason):
    pay(ledger, "300000.00", "GK-WHY")
    with pytest.raises(SettlementError, match="the reason is empty"):
        reverse(ledger, "GK-WHY", reason)


def test_a_reversal_dated_before_its_payment_or_in_the_future_is_refused(ledger):
    pay(ledger, "300000.00", "GK-WHEN")
    with pytest.raises(SettlementError, match="before the payment"):
        reverse(ledger, "GK-WHEN", booked_on=date(2022, 4, 1))
    with pytest.raises(SettlementError, match="after today"):
        reverse(ledger, "GK-WHEN", booked_on=date(2204, 5, 20))


# --------------------------------------------------------------------------- date window


def test_a_payment_dated_after_today_is_refused(ledger):
    before = len(ledger)
    with pytest.raises(SettlementError, match=r"dated 2204-05-20, after today \(2022-06-01\)"):
        pay(ledger, "300000.00", "GK-FUTURE", on=date(2204, 5, 20))
    assert len(ledger) == before


def test_a_payment_dated_ahead_is_accepted_with_allow_future(ledger):
    tx = pay(ledger, "300000.00", "GK-AHEAD", on=date(2022, 7, 1), allow_future=True)
    assert tx.booked_on == date(2022, 7, 1)


def test_a_payment_dated_before_the_settled_year_is_refused(ledger):
    with pytest.raises(SettlementError, match="before 2021 began"):
        pay(ledger, "300000.00", "GK-EARLY", on=date(2020, 12, 31))


# --------------------------------------------------------------------------- references


SPELLINGS = ["GK2022-0042", "gk2022－0042", "ＧＫ２０２２–００４２", " GK2022‐0042 "]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_reference_reads_the_same_however_it_is_typed(spelling):
    assert normalise_reference(spelling) == "gk2022-0042"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_equivalent_reference_is_the_same_payment(db, ledger, spelling):
    first = pay(ledger, "300000.00", "GK2022-0042")
    again = pay(ledger, "300000.00", spelling)
    assert again.seq == first.seq and len(ledger.transactions(kind="payment")) == 1
    assert lishui(db).open == Decimal("-500000.00")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_equivalent_reference_with_other_content_is_refused(ledger, spelling):
    pay(ledger, "300000.00", "GK2022-0042")
    with pytest.raises(SettlementError, match=r"already recorded as transaction #\d+ .*"
                                              r"amount 300000\.00 → 300001\.00.*--reverse"):
        pay(ledger, "300001.00", spelling)
    assert len(ledger.transactions(kind="payment")) == 1


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_a_payment_is_reversed_by_any_spelling_of_its_reference(db, ledger, spelling):
    pay(ledger, "300000.00", "GK2022-0042")
    reverse(ledger, spelling)
    assert lishui(db).paid == Decimal("0.00")


def test_a_payment_recorded_before_normalisation_is_still_recognised(db, ledger):
    # older ledgers keyed payments by the reference as typed
    ledger.post(NewTransaction(
        key=f"{LISHUI}/2021/payment/GK2022-0042", kind="payment", booked_on=date(2022, 4, 20),
        agreement=LISHUI, period="2021", component="payment", reference="GK2022-0042",
        meta={"payer": PAYER, "payee": PAYEE, "amount": "300000.00",
              "reference": "GK2022-0042", "paid_on": "2022-04-20"},
        transfers=[Transfer.between(PAYEE, PAYER, "300000.00", purpose=PAYABLE),
                   Transfer.between(PAYER, PAYEE, "300000.00", purpose=SETTLED)]))
    ledger.checkpoint()
    pay(ledger, "300000.00", "ＧＫ２０２２–００４２")
    assert len(ledger.transactions(kind="payment")) == 1
    with pytest.raises(SettlementError, match="differently"):
        pay(ledger, "1.00", "gk2022-0042")


def test_references_differing_in_more_than_spelling_stay_apart():
    assert normalise_reference("GK2022-0042") != normalise_reference("GK2022-0043")
    assert normalise_reference("GK2022-0042") != normalise_reference("GK20220042")
    assert normalise_reference("GK 2022  0042") == normalise_reference("gk\u30002022 0042")


# --------------------------------------------------------------------------- CLI


def cli_pay(db: Path, *extra: str) -> Result:
    return run("pay", "--db", db, "--agreement", LISHUI, "--year", str(YEAR), "--payer", PAYER,
               "--payee", PAYEE, *extra)


def cli_open(db: Path) -> str:
    data = json.loads(run("statement", PAYER, "--db", db, "--year", str(YEAR), "--as-of",
                          "2022-06-01", "--json").stdout)
    return next(a["open"] for a in data["agreements"] if a["agreement"] == LISHUI)


def test_cli_pay_reverse_and_the_statement_agrees_with_ledger_balances(db):
    assert cli_pay(db, "--amount", "300000.00", "--date", "2022-04-20",
                   "--reference", "GK2022-0042").exit_code == 0
    assert cli_open(db) == "-500000.00"
    result = run("pay", "--db", db, "--reverse", "ＧＫ２０２２–００４２", "--reason",
                 "amount mistyped", "--date", "2022-05-02")
    assert result.exit_code == 0, result.output
    assert "reversed by transaction #" in result.output and "amount mistyped" in result.output
    assert cli_open(db) == "-800000.00"
    balances = json.loads(run("ledger", "balances", "--db", db, "--by", "account",
                              "--as-of", "2022-06-01", "--json").stdout)
    assert balances["balances"][f"{PAYER}:payable"] == "-800000.00"
    assert balances["balances"][f"{PAYER}:settled"] == "0.00"


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_cli_an_equivalent_reference_is_already_recorded(db, spelling):
    first = cli_pay(db, "--amount", "300000.00", "--date", "2022-04-20",
                    "--reference", "GK2022-0042")
    assert first.exit_code == 0, first.output
    again = cli_pay(db, "--amount", "300000.00", "--date", "2022-04-20", "--reference", spelling)
    assert again.exit_code == 0, again.output
    assert "was already recorded" in again.output and "nothing changed" in again.output
    assert cli_open(db) == "-500000.00"


def test_cli_a_date_far_in_the_future_is_refused_without_allow_future(db):
    result = cli_pay(db, "--amount", "300000.00", "--date", "2204-05-20", "--reference", "R9")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "dated 2204-05-20, after today" in result.stderr and "--allow-future" in result.stderr
    assert cli_open(db) == "-800000.00"
    allowed = cli_pay(db, "--amount", "300000.00", "--date", "2204-05-20", "--reference", "R9",
                      "--allow-future")
    assert allowed.exit_code == 0, allowed.output


@pytest.mark.parametrize(("args", "says"), [
    (("--reverse", "GK-NONE", "--reason", "x"), "no payment with this reference"),
    (("--reverse", "GK-1"), "--reason: a reversal needs the reason"),
    (("--reverse", "GK-1", "--reason", "x", "--amount", "5"), "--reverse takes the payment's"),
    (("--reverse", "   ", "--reason", "x"), "is empty"),
    (("--reference", "GK-1", "--reason", "x"), "--reason goes with --reverse"),
])
def test_cli_reversal_mistakes_are_one_clear_line(db, args, says):
    result = run("pay", "--db", db, *args)
    assert result.exit_code == 1, result.output
    assert says in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_reversing_twice_is_an_error(db):
    cli_pay(db, "--amount", "300000.00", "--date", "2022-04-20", "--reference", "GK-2X")
    args = ("pay", "--db", db, "--reverse", "GK-2X", "--reason", "typo", "--date", "2022-05-02")
    assert run(*args).exit_code == 0
    again = run(*args)
    assert again.exit_code == 1 and "already reversed" in again.stderr


def test_cli_recording_a_payment_still_needs_every_field(db):
    result = run("pay", "--db", db, "--agreement", LISHUI, "--reference", "GK-1")
    assert result.exit_code == 2 and "--year" in result.output and "--amount" in result.output


def test_a_payment_reversed_with_the_ledgers_own_reverse_is_unpaid_too(db, ledger):
    payment = pay(ledger, "300000.00", "GK-LEDGER")
    ledger.reverse(payment.key, reason="posted under the wrong year",
                   booked_on=date(2022, 5, 2))
    ledger.checkpoint()
    assert lishui(db).paid == Decimal("0.00")
    assert_agrees_with_the_ledger(db)
    with pytest.raises(SettlementError, match="already reversed"):
        reverse(ledger, "GK-LEDGER")


def test_a_reference_used_under_two_agreements_needs_the_agreement_to_reverse(db, ledger):
    pay(ledger, "300000.00", "GK-SHARED")
    ecocomp.pay(ledger, agreement="lvshui-jx-hn-2019", year=YEAR, payer="430000",
                payee="360000", amount=Decimal("1000000.00"), paid_on=date(2022, 4, 20),
                reference="gk-shared", today=TODAY)
    with pytest.raises(SettlementError, match=r"matches payments under .*--agreement"):
        reverse(ledger, "GK-SHARED")
    tx = reverse(ledger, "GK-SHARED", agreement=LISHUI, year=YEAR)
    assert tx.agreement == LISHUI and lishui(db).paid == Decimal("0.00")
