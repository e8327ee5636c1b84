"""Properties of the ledger under any sequence of posts, re-posts, conflicts and corrections."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.ledger import (
    IdempotencyConflict,
    InvalidTransaction,
    Ledger,
    NewTransaction,
    Transaction,
    Transfer,
)
from ecocomp.money import from_fen

PARTIES = ("430000", "430100", "430700", "430800")
PURPOSES = ("accrued", "payable", "settled")
START = date(2023, 1, 1)


def clock() -> datetime:
    return datetime(2024, 2, 1, tzinfo=UTC)


transfers = st.lists(
    st.tuples(st.sampled_from(PARTIES), st.sampled_from(PURPOSES), st.sampled_from(PARTIES),
              st.sampled_from(PURPOSES), st.integers(1, 10**12)).filter(
        lambda t: (t[0], t[1]) != (t[2], t[3])),
    min_size=1, max_size=3,
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.integers(0, 7), transfers, st.integers(0, 400)),
        st.tuples(st.just("repost"), st.integers(0, 50)),
        st.tuples(st.just("conflict"), st.integers(0, 50), st.integers(1, 10**6)),
        st.tuples(st.just("reverse"), st.integers(0, 50), st.integers(0, 400)),
        st.tuples(st.just("adjust"), st.integers(0, 50), transfers, st.integers(0, 400)),
        st.tuples(st.just("checkpoint")),
    ),
    max_size=25,
)


def _transfers(spec: list[tuple[str, str, str, str, int]]) -> list[Transfer]:
    return [Transfer(dp, dpu, cp, cpu, from_fen(fen)) for dp, dpu, cp, cpu, fen in spec]


def _effects(tx: NewTransaction | Transaction) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for t in tx.transfers:
        out[t.credit_party] += t.fen
        out[t.debit_party] -= t.fen
    return out


@settings(max_examples=150, deadline=None)
@given(operations)
def test_any_sequence_keeps_balances_zero_sum_chain_valid_and_as_of_reproducible(ops):
    ledger = Ledger.open(":memory:", clock=clock)
    posted: list[NewTransaction] = []  # in seq order, as the model of the ledger
    reversed_keys: set[str] = set()
    for n, op in enumerate(ops):
        kind = op[0]
        if kind == "post":
            _, k, spec, day = op
            tx = NewTransaction(key=f"k{k}", kind="accrual", transfers=_transfers(spec),
                                booked_on=START + timedelta(days=day), meta={"n": k})
            old = next((p for p in posted if p.key == tx.key), None)
            if old is None:
                assert ledger.post(tx).status == "posted"
                posted.append(tx)
            elif old == tx:
                assert ledger.post(tx).status == "unchanged"
            else:
                try:
                    ledger.post(tx)
                    raise AssertionError("conflict expected")
                except IdempotencyConflict as exc:
                    assert exc.differences
        elif kind == "repost" and posted:
            tx = posted[op[1] % len(posted)]
            result = ledger.post(tx)
            assert result.status == "unchanged" and result.transaction.key == tx.key
        elif kind == "conflict" and posted:
            tx = posted[op[1] % len(posted)]
            changed = NewTransaction(
                key=tx.key, kind=tx.kind, booked_on=tx.booked_on, corrects=tx.corrects,
                reason=tx.reason, meta=tx.meta,
                transfers=[Transfer(*_parts(tx.transfers[0]), from_fen(op[2]))],
            )
            if changed == tx:
                continue
            try:
                ledger.post(changed)
                raise AssertionError("conflict expected")
            except IdempotencyConflict as exc:
                assert any(d.startswith("transfers") for d in exc.differences)
        elif kind == "reverse" and posted:
            target = posted[op[1] % len(posted)]
            day = START + timedelta(days=op[2])
            if target.key in reversed_keys:
                try:
                    ledger.reverse(target.key, reason="again", new_key=f"rev{n}", booked_on=day)
                    raise AssertionError("second reversal expected to fail")
                except InvalidTransaction as exc:
                    assert exc.code == "already_reversed"
            else:
                result = ledger.reverse(target.key, reason="mistake", new_key=f"rev{n}",
                                        booked_on=day)
                assert result.status == "posted"
                reversed_keys.add(target.key)
                posted.append(NewTransaction(
                    key=f"rev{n}", kind="reversal", corrects=target.key, reason="mistake",
                    booked_on=day, transfers=[t.reversed() for t in target.transfers]))
        elif kind == "adjust" and posted:
            target = posted[op[1] % len(posted)]
            tx = NewTransaction(key=f"adj{n}", kind="adjustment", corrects=target.key,
                                reason="revised", transfers=_transfers(op[2]),
                                booked_on=START + timedelta(days=op[3]))
            assert ledger.post(tx).status == "posted"
            posted.append(tx)
        elif kind == "checkpoint" and posted:
            assert ledger.checkpoint().seq == len(posted)

    report = ledger.verify()
    assert report.ok and report.count == len(posted), report
    balances = ledger.balances()
    assert sum(balances.values()) == 0
    assert sum(ledger.balances(by="account").values()) == 0
    expected: dict[str, int] = defaultdict(int)
    for tx in posted:
        for party, fen in _effects(tx).items():
            expected[party] += fen
    assert {p: v for p, v in balances.items()} == {p: from_fen(v) for p, v in expected.items()}
    # as of any date and up to any seq: exactly the model's prefix
    for cut in (START, START + timedelta(days=100), START + timedelta(days=400)):
        want: dict[str, int] = defaultdict(int)
        for tx in posted:
            if tx.booked_on <= cut:
                for party, fen in _effects(tx).items():
                    want[party] += fen
        assert ledger.balances(as_of=cut) == {p: from_fen(v) for p, v in want.items()}
    for upto in {0, len(posted) // 2, len(posted)}:
        want = defaultdict(int)
        for tx in posted[:upto]:
            for party, fen in _effects(tx).items():
                want[party] += fen
        assert ledger.balances(upto_seq=upto) == {p: from_fen(v) for p, v in want.items()}
    ledger.close()


def _parts(t: Transfer) -> tuple[str, str, str, str]:
    return t.debit_party, t.debit_purpose, t.credit_party, t.credit_purpose


vectors = st.lists(st.integers(-10**9, 10**9), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(st.lists(vectors, min_size=1, max_size=6))
def test_after_any_resettlements_the_net_equals_the_latest_computation(runs):
    """SPEC §5.5 at the ledger's level: adjustments by the difference converge on the truth.

    Each run "computes" what 430700 pays 430800 in several components of one agreement and
    period; the first run posts accruals, later runs post adjustments for the difference.
    """
    ledger = Ledger.open(":memory:", clock=clock)
    for r, amounts in enumerate(runs):
        with ledger.batch() as batch:
            for c, fen in enumerate(amounts):
                key = f"agr/2023-01/c{c}"
                have = batch.net(agreement="agr", period="2023-01", component=f"c{c}")
                delta = fen - int(have.get("430800", Decimal(0)) * 100)
                if delta == 0:
                    continue
                payer, payee = ("430700", "430800") if delta > 0 else ("430800", "430700")
                original = batch.get(key)
                batch.post(NewTransaction(
                    key=key if original is None else f"{key}#adj{r}",
                    kind="accrual" if original is None else "adjustment",
                    corrects=None if original is None else key,
                    reason=None if original is None else f"run {r}",
                    agreement="agr", period="2023-01", component=f"c{c}",
                    booked_on=date(2023, 1, 31),
                    transfers=[Transfer.between(payer, payee, from_fen(abs(delta)),
                                                purpose="accrued")]))
    last: dict[int, int] = {}
    for amounts in runs:
        last.update(enumerate(amounts))
    total = sum(last.values())
    want = {"430700": from_fen(-total), "430800": from_fen(total)} if total else {}
    assert ledger.net(agreement="agr", period="2023-01") == want
    assert ledger.verify().ok
    ledger.close()
