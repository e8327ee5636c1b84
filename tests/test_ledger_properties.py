"""Properties of the ledger under any sequence of posts, re-posts, conflicts and corrections."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.ledger import (
    GENESIS,
    IdempotencyConflict,
    InvalidTransaction,
    Ledger,
    NewTransaction,
    Transaction,
    Transfer,
)
from ecocomp.ledger.hashing import encode_v2, posting_hash
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


# --------------------------------------------------------------------------- encoding tx/2
# Two different transactions never have the same canonical bytes. Texts are drawn from an
# alphabet of the encoding's own framing characters and tx/1's separators, so values that
# look like lengths, types or the next field are tried; absent vs empty and numbers vs
# digit texts are tried too.

FRAMING = "NTI:0127-\x1e\x1f水a"
framing_texts = st.text(alphabet=FRAMING, max_size=6)
values = st.one_of(st.none(), framing_texts, st.integers(-120, 120))
headers = st.lists(values, min_size=15, max_size=15)
transfer_values = st.lists(st.lists(values, min_size=5, max_size=5), max_size=3)


def _decode_v2(message: bytes) -> list[object]:
    """An independent reader of tx/2 (docs/ledger.md): the values in order."""
    out: list[object] = []
    i = 0
    while i < len(message):
        kind = message[i:i + 1]
        if kind == b"N":
            out.append(None)
            i += 1
            continue
        colon = message.index(b":", i)
        length = int(message[i + 1:colon])
        data = message[colon + 1:colon + 1 + length]
        assert len(data) == length
        out.append(data.decode("utf-8") if kind == b"T" else int(data))
        assert kind in (b"T", b"I")
        i = colon + 1 + length
    return out


def _typed(values: list[object]) -> list[tuple[str, object]]:
    return [(type(v).__name__, v) for v in values]


@settings(max_examples=300, deadline=None)
@given(headers, transfer_values)
def test_tx2_bytes_read_back_to_exactly_the_values(header, transfers):
    message = encode_v2(header, transfers)
    flat = ["ecocomp.ledger.tx/2", *header, *(v for t in transfers for v in t)]
    assert _typed(_decode_v2(message)) == _typed(flat)


def _mutations(header: list[object]) -> st.SearchStrategy[list[object]]:
    """Near neighbours: a character moved to the next field, None ↔ "", 7 ↔ "7"."""
    def move(i: int) -> list[object]:
        a, b = header[i], header[i + 1]
        if isinstance(a, str) and a and isinstance(b, str | None):
            return [*header[:i], a[:-1], a[-1] + (b or ""), *header[i + 2:]]
        return header

    def swap_type(i: int) -> list[object]:
        v = header[i]
        new: object = ("" if v is None else None if v == "" else str(v) if isinstance(v, int)
                       else int(v) if isinstance(v, str) and v.lstrip("-").isdigit() else v)
        return [*header[:i], new, *header[i + 1:]]

    index = st.integers(0, len(header) - 2)
    return st.one_of(index.map(move), index.map(swap_type))


@settings(max_examples=300, deadline=None)
@given(st.data(), headers, transfer_values)
def test_different_content_means_different_tx2_bytes(data, header, transfers):
    other = data.draw(_mutations(header))
    if _typed(other) != _typed(header):
        assert encode_v2(other, transfers) != encode_v2(header, transfers)
    moved = data.draw(st.integers(0, 14))  # a header value moved into the transfers
    if transfers and header[moved] is not None:
        shifted_header = [*header[:moved], None, *header[moved + 1:]]
        shifted = [[*transfers[0][:4], header[moved]], *transfers[1:]]
        if _typed(shifted[0]) != _typed(transfers[0]):
            assert encode_v2(shifted_header, shifted) != encode_v2(header, transfers)


model_texts = st.one_of(st.none(), st.text(alphabet="NTI:017-水a ", min_size=1, max_size=5))


@st.composite
def new_transactions(draw: st.DrawFn) -> NewTransaction:
    key = draw(st.text(alphabet="NTI:017-水a", min_size=1, max_size=5))
    corrects = draw(model_texts.filter(lambda c: c != key))
    kind = draw(st.sampled_from(["accrual", "payment", "adjustment"] if corrects
                                else ["accrual", "payment"]))
    return NewTransaction(
        key=key, kind=kind,
        transfers=_transfers(draw(transfers)),
        booked_on=START + timedelta(days=draw(st.integers(0, 3))),
        due=draw(st.none() | st.just(START)), agreement=draw(model_texts),
        period=draw(model_texts), component=draw(model_texts),
        reason=draw(model_texts) if kind == "accrual" else "r",
        corrects=corrects, reference=draw(model_texts),
        meta=draw(st.dictionaries(st.sampled_from(["a", "T1:", "水"]), model_texts,
                                  max_size=2)),
    )


@settings(max_examples=300, deadline=None)
@given(new_transactions(), new_transactions())
def test_two_different_new_transactions_never_hash_alike(one, two):
    stamp = "2024-02-01T00:00:00.000000Z"
    same = one == two and one.meta_json == two.meta_json
    assert (posting_hash(GENESIS, 1, one, stamp) == posting_hash(GENESIS, 1, two, stamp)) == same
