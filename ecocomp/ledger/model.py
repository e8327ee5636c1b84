"""The ledger's value objects: accounts, transfers, transactions, statements.

Everything here is a frozen attrs class validated at construction, so an invalid transfer or
transaction cannot exist. Money is ``Decimal`` yuan in the API and integer fen (分) in storage.
The ledger is generic: it knows parties, accounts, amounts and metadata, nothing about water.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs

from ecocomp.errors import LedgerError, UnbalancedTransaction
from ecocomp.money import MAX_YUAN, as_decimal, from_fen

__all__ = [
    "KINDS",
    "Account",
    "Checkpoint",
    "InvalidTransaction",
    "NewTransaction",
    "PostResult",
    "Statement",
    "StatementLine",
    "Transaction",
    "Transfer",
    "canonical_meta",
]

#: The closed set of transaction kinds.
KINDS: frozenset[str] = frozenset({"accrual", "clearing", "payment", "reversal", "adjustment"})
#: Kinds that correct an earlier transaction: they need ``corrects`` and a ``reason``.
CORRECTION_KINDS: frozenset[str] = frozenset({"reversal", "adjustment"})

# ASCII digits only: ``\d`` would also accept other scripts' digits. A party is a 6-digit
# GB/T 2260 code, or a collective's, household's or agency's own code: the code of the
# division it lies in, then up to 4 ``-slug`` parts of lower-case ASCII (``430529-baiyun-cun``).
_PARTY = re.compile(r"[0-9]{6}(?:-[a-z0-9]{1,24}){0,4}")
_PURPOSE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_DIGEST = re.compile(r"[0-9a-f]{16,128}")
# C0 control characters separate fields in the canonical encoding; lone surrogates cannot
# be encoded as UTF-8. Neither may appear in a text field.
_FORBIDDEN = re.compile(r"[\x00-\x1f\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_SAFE_INT = 2**53 - 1


class InvalidTransaction(LedgerError):
    """A transfer or transaction was refused; ``code`` names the rule (TigerBeetle style).

    Codes: ``invalid_party``, ``invalid_purpose``, ``accounts_must_be_different``,
    ``invalid_field``, ``invalid_kind``, ``transfers_must_not_be_empty``, ``invalid_meta``,
    ``correction_needs_corrects``, ``correction_needs_reason``, ``corrects_itself``,
    ``corrects_not_found``, ``reversal_must_mirror_original``, ``already_reversed``.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


# --------------------------------------------------------------------------- validators


def _check_party(value: object, what: str) -> None:
    if not isinstance(value, str) or not _PARTY.fullmatch(value):
        raise InvalidTransaction(
            "invalid_party",
            f"{what} {value!r} is not a 6-digit GB/T 2260 code such as '430700' or a "
            "party's own code such as '430529-baiyun-cun'",
        )


def _check_purpose(value: object, what: str) -> None:
    if not isinstance(value, str) or not _PURPOSE.fullmatch(value):
        raise InvalidTransaction(
            "invalid_purpose",
            f"{what} {value!r} is not a lowercase slug such as 'accrued' or 'payable'",
        )


def _check_text(value: object, what: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str) or not value:
        hint = "a non-empty str or None" if optional else "a non-empty str"
        raise InvalidTransaction("invalid_field", f"{what} must be {hint}, not {value!r}")
    if _FORBIDDEN.search(value):
        raise InvalidTransaction(
            "invalid_field", f"{what} {value!r} contains a control character; remove it"
        )


def _amount(value: object) -> Decimal:
    """Converter: a positive amount of whole fen as Decimal yuan with 2 decimals."""
    try:
        amount = as_decimal(value, what="amount")
    except (TypeError, ValueError) as exc:
        raise UnbalancedTransaction(f"transfer amount: {exc}") from None
    if amount <= 0:
        raise UnbalancedTransaction(
            f"transfer amount {amount} must be positive; swap debit and credit to reverse "
            "the direction"
        )
    if amount > MAX_YUAN:
        raise UnbalancedTransaction(
            f"transfer amount {amount:.4E} is beyond {MAX_YUAN:,f} yuan (1万亿), the largest "
            "amount the ledger stores; check the amounts that produced it"
        )
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise UnbalancedTransaction(
            f"transfer amount {amount} is not a whole number of fen; round it with "
            "ecocomp.money.to_yuan()"
        )
    return from_fen(int(fen))


def _freeze_transfers(value: Iterable[Transfer]) -> tuple[Transfer, ...]:
    if isinstance(value, str | bytes | Transfer):
        raise InvalidTransaction("invalid_field", "transfers must be a list of Transfer")
    return tuple(value)


def _plain_date(value: object, what: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidTransaction(
            "invalid_field", f"{what} must be a datetime.date, not {value!r}"
        )


# --------------------------------------------------------------------------- meta


def _normalise_meta(value: object, path: str) -> object:
    """A JSON-able copy of ``value``: Decimal → str, tuple → list; floats refused."""
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str) and _SURROGATE.search(value):
            raise InvalidTransaction("invalid_meta", f"{path}: lone surrogate in {value!r}")
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise InvalidTransaction(
                "invalid_meta",
                f"{path}: integer {value} is beyond ±(2**53-1); pass it as a str",
            )
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidTransaction("invalid_meta", f"{path}: {value} is not finite")
        return str(value)
    if isinstance(value, float):
        raise InvalidTransaction(
            "invalid_meta", f"{path}: {value!r} is a float; pass a str or Decimal"
        )
    if isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidTransaction(
                    "invalid_meta", f"{path}: key {key!r} is not a str"
                )
            if _SURROGATE.search(key):
                raise InvalidTransaction(
                    "invalid_meta", f"{path}: lone surrogate in key {key!r}"
                )
            out[key] = _normalise_meta(item, f"{path}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [_normalise_meta(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise InvalidTransaction(
        "invalid_meta",
        f"{path}: {type(value).__name__} is not JSON-able; use str, int, bool, None, "
        "list or dict",
    )


class _Unusual(Exception):
    """A meta value :func:`_plain_meta` leaves to :func:`_normalise_meta`."""



def _plain_meta(value: object) -> object:
    """:func:`_normalise_meta` for values of the exact types meta usually holds, without
    building the path of every value for a message that is never needed; raises
    :class:`_Unusual` for anything else (a subclass, a float, a surrogate, a large
    integer, a non-finite Decimal, a key that is not a str or holds a surrogate), which
    the general path then converts or refuses with its path. Any mapping is read as a
    dict, as the general path reads it (a settlement's meta holds the obligation's frozen
    basis, copied here once instead of thawed first and copied again)."""
    kind = type(value)
    if kind is str:
        if value.isascii() or not _SURROGATE.search(value):  # type: ignore[union-attr,arg-type]
            return value
        raise _Unusual
    if value is None or kind is bool:
        return value
    if kind is int:
        if -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:  # type: ignore[operator]
            return value
        raise _Unusual
    if kind is Decimal:
        if value.is_finite():  # type: ignore[union-attr]
            return str(value)
        raise _Unusual
    if kind is list or kind is tuple:
        return [_plain_meta(item) for item in value]  # type: ignore[union-attr]
    if kind is dict or isinstance(value, Mapping):
        out: dict[str, object] = {}
        for key, item in value.items():  # type: ignore[union-attr]
            if type(key) is not str or (not key.isascii() and _SURROGATE.search(key)):
                raise _Unusual
            if type(item) is str and item.isascii():  # most values: no call
                out[key] = item
            else:
                out[key] = _plain_meta(item)
        return out
    raise _Unusual


def canonical_meta(meta: Mapping[str, Any]) -> str:
    """The canonical JSON text of ``meta`` that the hash covers.

    Keys sorted, no whitespace, UTF-8 characters unescaped (RFC 8785 style).

    >>> canonical_meta({"b": 1, "a": "水"})
    '{"a":"水","b":1}'
    """
    return json.dumps(meta, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _meta(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidTransaction("invalid_meta", f"meta must be a dict, not {value!r}")
    try:
        normalised = _plain_meta(value)
    except _Unusual:
        normalised = _normalise_meta(value, "meta")
    assert isinstance(normalised, dict)
    return normalised


# --------------------------------------------------------------------------- accounts


@attrs.frozen(order=True)
class Account:
    """An account: a party (a 6-digit GB/T 2260 code, or a collective's, household's or
    agency's own code such as ``430529-baiyun-cun``) and a purpose slug.

    >>> str(Account("430700", "accrued"))
    '430700:accrued'
    """

    party: str
    purpose: str

    def __attrs_post_init__(self) -> None:
        _check_party(self.party, "party")
        _check_purpose(self.purpose, "purpose")

    def __str__(self) -> str:
        return f"{self.party}:{self.purpose}"

    @classmethod
    def parse(cls, text: str) -> Account:
        """Parse ``party:purpose``.

        >>> Account.parse("430700:payable")
        Account(party='430700', purpose='payable')
        """
        party, sep, purpose = text.partition(":")
        if not sep:
            raise InvalidTransaction(
                "invalid_field", f"account {text!r} is not 'party:purpose'"
            )
        return cls(party, purpose)


@attrs.frozen
class Transfer:
    """Moves a positive ``amount`` (yuan) from the debit account to the credit account.

    The debit side pays, the credit side receives; the two accounts must differ. A balance
    is credits minus debits ("received minus paid").

    >>> Transfer.between("430700", "430800", Decimal("800000"), purpose="accrued").amount
    Decimal('800000.00')
    """

    debit_party: str
    debit_purpose: str
    credit_party: str
    credit_purpose: str
    amount: Decimal = attrs.field(converter=_amount)
    fen: int = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_party(self.debit_party, "debit_party")
        _check_purpose(self.debit_purpose, "debit_purpose")
        _check_party(self.credit_party, "credit_party")
        _check_purpose(self.credit_purpose, "credit_purpose")
        if self.debit_party == self.credit_party and self.debit_purpose == self.credit_purpose:
            raise InvalidTransaction(
                "accounts_must_be_different",
                f"transfer from {self.debit_party}:{self.debit_purpose} to itself; debit and "
                "credit accounts must differ",
            )
        object.__setattr__(self, "fen", int(self.amount * 100))

    @classmethod
    def between(
        cls,
        payer: str,
        payee: str,
        amount: object,
        *,
        purpose: str,
        payee_purpose: str | None = None,
    ) -> Transfer:
        """``payer`` pays ``payee``: debit ``payer:purpose``, credit ``payee:purpose``.

        >>> Transfer.between("430700", "430800", "1.50", purpose="payable").credit
        Account(party='430800', purpose='payable')
        """
        return cls(payer, purpose, payee, payee_purpose or purpose, amount)

    @property
    def debit(self) -> Account:
        return Account(self.debit_party, self.debit_purpose)

    @property
    def credit(self) -> Account:
        return Account(self.credit_party, self.credit_purpose)

    def reversed(self) -> Transfer:
        """The opposite transfer: same accounts and amount, direction swapped."""
        return _unchecked_transfer(
            self.credit_party, self.credit_purpose, self.debit_party, self.debit_purpose, self.fen
        )

    def to_json(self) -> dict[str, str]:
        return {
            "debit_party": self.debit_party,
            "debit_purpose": self.debit_purpose,
            "credit_party": self.credit_party,
            "credit_purpose": self.credit_purpose,
            "amount": f"{self.amount:.2f}",
        }


def _unchecked_transfer(
    debit_party: str, debit_purpose: str, credit_party: str, credit_purpose: str, fen: int
) -> Transfer:
    """A Transfer from trusted parts (a stored row): no validation, so reading never fails.

    ``verify()`` is the place that judges stored rows; reads must be able to show them.
    """
    transfer = object.__new__(Transfer)
    setter = object.__setattr__
    setter(transfer, "debit_party", debit_party)
    setter(transfer, "debit_purpose", debit_purpose)
    setter(transfer, "credit_party", credit_party)
    setter(transfer, "credit_purpose", credit_purpose)
    setter(transfer, "amount", from_fen(fen) if type(fen) is int else Decimal(str(fen)))
    setter(transfer, "fen", fen)
    return transfer


# --------------------------------------------------------------------------- transactions


def _transfers_validator(_instance: object, _attribute: object, value: tuple[Any, ...]) -> None:
    if not value:
        raise InvalidTransaction(
            "transfers_must_not_be_empty", "a transaction needs at least one transfer"
        )
    for i, transfer in enumerate(value):
        if not isinstance(transfer, Transfer):
            raise InvalidTransaction(
                "invalid_field", f"transfers[{i}] is {transfer!r}, not a Transfer"
            )
    # Each transfer debits and credits the same amount, so a transaction balances by
    # construction; the double-entry sum is still computed so the promise is checked, not
    # assumed, should Transfer ever change.
    net: dict[tuple[str, str], int] = {}
    for t in value:
        debit, credit = (t.debit_party, t.debit_purpose), (t.credit_party, t.credit_purpose)
        net[debit] = net.get(debit, 0) - t.fen
        net[credit] = net.get(credit, 0) + t.fen
    if sum(net.values()) != 0:
        raise UnbalancedTransaction(f"transfers do not balance: {net}")


def _text(*, optional: bool) -> Any:
    def validate(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        _check_text(value, attribute.name, optional=optional)

    return validate


def _day(*, optional: bool) -> Any:
    def validate(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        _plain_date(value, attribute.name, optional=optional)

    return validate


def _kind(_instance: object, _attribute: object, value: object) -> None:
    if value not in KINDS:
        raise InvalidTransaction(
            "invalid_kind", f"kind {value!r} is not one of {', '.join(sorted(KINDS))}"
        )


def _digest(_instance: object, _attribute: object, value: object) -> None:
    if value is not None and (not isinstance(value, str) or not _DIGEST.fullmatch(value)):
        raise InvalidTransaction(
            "invalid_field",
            f"inputs_digest {value!r} is not a lowercase hex digest (16–128 characters)",
        )


@attrs.frozen
class NewTransaction:
    """A transaction to post: an idempotency ``key``, one or more transfers and metadata.

    ``booked_on`` is the accounting date used by as-of-date queries. Corrections
    (``reversal``, ``adjustment``) name the key they correct in ``corrects`` and need a
    ``reason``. ``meta`` is JSON-able data (str, int, bool, None, list, dict; Decimal is
    stored as its str; floats are refused) such as the formula's basis.

    >>> tx = NewTransaction(
    ...     key="lishui/2023-01/class", kind="accrual", booked_on=date(2024, 1, 31),
    ...     transfers=[Transfer.between("430700", "430800", "800000.00", purpose="accrued")],
    ...     agreement="lishui", period="2023-01", component="class", meta={"class": "IV"})
    >>> tx.total
    Decimal('800000.00')
    """

    key: str = attrs.field(validator=_text(optional=False))
    kind: str = attrs.field(validator=_kind)
    transfers: tuple[Transfer, ...] = attrs.field(
        converter=_freeze_transfers, validator=_transfers_validator
    )
    booked_on: date = attrs.field(validator=_day(optional=False))
    agreement: str | None = attrs.field(default=None, validator=_text(optional=True))
    period: str | None = attrs.field(default=None, validator=_text(optional=True))
    component: str | None = attrs.field(default=None, validator=_text(optional=True))
    due: date | None = attrs.field(default=None, validator=_day(optional=True))
    reason: str | None = attrs.field(default=None, validator=_text(optional=True))
    corrects: str | None = attrs.field(default=None, validator=_text(optional=True))
    reference: str | None = attrs.field(default=None, validator=_text(optional=True))
    inputs_digest: str | None = attrs.field(default=None, validator=_digest)
    meta: dict[str, Any] = attrs.field(factory=dict, converter=_meta, hash=False)
    meta_json: str = attrs.field(init=False, repr=False, eq=False, hash=False)

    def __attrs_post_init__(self) -> None:
        if self.kind in CORRECTION_KINDS:
            if self.corrects is None:
                raise InvalidTransaction(
                    "correction_needs_corrects",
                    f"{self.key}: a {self.kind} must name the key it corrects in 'corrects'",
                )
            if self.reason is None:
                raise InvalidTransaction(
                    "correction_needs_reason",
                    f"{self.key}: a {self.kind} needs a 'reason' saying why",
                )
        if self.corrects == self.key:
            raise InvalidTransaction(
                "corrects_itself", f"{self.key}: a transaction cannot correct itself"
            )
        object.__setattr__(self, "meta_json", canonical_meta(self.meta))

    @property
    def total(self) -> Decimal:
        """The sum of the transfer amounts (what moves, counted once)."""
        return from_fen(sum(t.fen for t in self.transfers))

    def differences(self, stored: Transaction) -> list[str]:
        """Names of the fields where this differs from ``stored`` (same key assumed).

        Transfers are compared one by one (``transfers[0].amount``), meta by top-level key
        (``meta.class``); ``seq``, ``posted_at`` and hashes are not content.

        >>> tx.differences(ledger.get(tx.key))  # doctest: +SKIP
        ['transfers[0].amount', 'meta.amount']
        """
        found = [name for name in _CONTENT_FIELDS if getattr(self, name) != getattr(stored, name)]
        if len(self.transfers) != len(stored.transfers):
            found.append("transfers")
        else:
            for i, (mine, theirs) in enumerate(zip(self.transfers, stored.transfers, strict=True)):
                for name in _TRANSFER_PARTS:
                    if getattr(mine, name) != getattr(theirs, name):
                        found.append(f"transfers[{i}].{'amount' if name == 'fen' else name}")
        if self.meta_json != stored.meta_json:
            keys = sorted({*self.meta, *stored.meta})
            changed = [
                f"meta.{k}"
                for k in keys
                if self.meta.get(k, _MISSING) != stored.meta.get(k, _MISSING)
            ]
            found.extend(changed or ["meta"])
        return found


_CONTENT_FIELDS = (
    "kind", "booked_on", "due", "agreement", "period", "component", "corrects", "reason",
    "reference", "inputs_digest",
)
_TRANSFER_PARTS = ("debit_party", "debit_purpose", "credit_party", "credit_purpose", "fen")
_MISSING = object()


@attrs.frozen
class Transaction:
    """A posted transaction as stored: the content plus ``seq``, ``posted_at`` and hashes.

    ``hash`` is SHA-256 over the canonical encoding of every field, transfers and
    ``prev_hash`` included (see docs/ledger.md); ``seq`` runs 1, 2, 3… without gaps.
    ``encoding`` names that encoding: 2 (``ecocomp.ledger.tx/2``) for everything this
    version posts, 1 for transactions of a ledger started before tx/2 existed.
    """

    seq: int
    key: str
    kind: str
    transfers: tuple[Transfer, ...]
    booked_on: date
    agreement: str | None
    period: str | None
    component: str | None
    due: date | None
    reason: str | None
    corrects: str | None
    reference: str | None
    inputs_digest: str | None
    meta: dict[str, Any] = attrs.field(hash=False)
    meta_json: str = attrs.field(repr=False)
    posted_at: str
    prev_hash: str
    hash: str
    encoding: int = 2

    @property
    def total(self) -> Decimal:
        """The sum of the transfer amounts (what moves, counted once)."""
        return from_fen(sum(t.fen for t in self.transfers))

    @property
    def parties(self) -> tuple[str, ...]:
        """Every party the transaction touches, sorted."""
        return tuple(sorted({p for t in self.transfers for p in (t.debit_party, t.credit_party)}))

    def effect(self, party: str, purpose: str | None = None) -> Decimal:
        """What the transaction does to ``party`` (credits minus debits), optionally one purpose.

        >>> tx.effect("430800")  # doctest: +SKIP
        Decimal('800000.00')
        """
        fen = 0
        for t in self.transfers:
            if t.credit_party == party and purpose in (None, t.credit_purpose):
                fen += t.fen
            if t.debit_party == party and purpose in (None, t.debit_purpose):
                fen -= t.fen
        return from_fen(fen)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able record with every hashed field (amounts as yuan strings)."""
        return {
            "seq": self.seq,
            "key": self.key,
            "kind": self.kind,
            "booked_on": self.booked_on.isoformat(),
            "due": self.due.isoformat() if self.due else None,
            "agreement": self.agreement,
            "period": self.period,
            "component": self.component,
            "corrects": self.corrects,
            "reason": self.reason,
            "reference": self.reference,
            "inputs_digest": self.inputs_digest,
            "meta": self.meta,
            "posted_at": self.posted_at,
            "transfers": [t.to_json() for t in self.transfers],
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "encoding": self.encoding,
        }

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Transaction:
        """Rebuild a transaction from :meth:`to_json` output (e.g. an export or a statement).

        Used by a party that checks a record without the database: recompute its hash with
        :func:`ecocomp.ledger.transaction_hash` and compare it with ``record["hash"]``.
        A record without ``encoding`` comes from an export made before tx/2: encoding 1.
        """
        transfers = tuple(
            _unchecked_transfer(
                t["debit_party"], t["debit_purpose"], t["credit_party"], t["credit_purpose"],
                int(as_decimal(t["amount"], what="amount") * 100),
            )
            for t in record["transfers"]
        )
        meta = dict(record.get("meta") or {})
        return cls(
            seq=int(record["seq"]),
            key=record["key"],
            kind=record["kind"],
            transfers=transfers,
            booked_on=date.fromisoformat(record["booked_on"]),
            agreement=record.get("agreement"),
            period=record.get("period"),
            component=record.get("component"),
            due=date.fromisoformat(record["due"]) if record.get("due") else None,
            reason=record.get("reason"),
            corrects=record.get("corrects"),
            reference=record.get("reference"),
            inputs_digest=record.get("inputs_digest"),
            meta=meta,
            meta_json=canonical_meta(meta),
            posted_at=record["posted_at"],
            prev_hash=record["prev_hash"],
            hash=record["hash"],
            encoding=int(record.get("encoding", 1)),
        )


PostStatus = Literal["posted", "unchanged"]


@attrs.frozen
class PostResult:
    """The outcome of one post: ``"posted"`` (new) or ``"unchanged"`` (same key, same content)."""

    status: PostStatus
    transaction: Transaction

    @property
    def posted(self) -> bool:
        return self.status == "posted"


@attrs.frozen
class Checkpoint:
    """A published Merkle root (RFC 6962) over the hashes of transactions 1..``seq``.

    Checkpoints are numbered 1, 2, 3… and hash-chained like transactions. ``catalog`` is
    the digest of the project catalog (names users read) the checkpoint commits to; it is
    None for a checkpoint/1 written before catalogs were committed. ``signature`` (hex) and
    ``key_id`` (SHA-256 of the signer's raw Ed25519 public key) are set on a signed one.
    """

    number: int
    seq: int
    root: str
    created_at: str
    prev_hash: str
    hash: str
    catalog: str | None = None
    signature: str | None = None
    key_id: str | None = None

    @property
    def tree_size(self) -> int:
        return self.seq

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class StatementLine:
    """One transaction in a party's statement: its effect and the running balance."""

    seq: int
    key: str
    kind: str
    booked_on: date
    agreement: str | None
    period: str | None
    component: str | None
    amount: Decimal
    balance: Decimal
    accounts: Mapping[str, Decimal] = attrs.field(hash=False)


@attrs.frozen
class Statement:
    """A party's movements booked in ``start``..``end`` with opening and closing balances."""

    party: str
    start: date
    end: date
    opening: Decimal
    closing: Decimal
    lines: tuple[StatementLine, ...]
