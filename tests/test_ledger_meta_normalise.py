"""A transaction's meta is normalised by exact types first; the result and every refusal
are the general path's (which names where a refused value is)."""

from __future__ import annotations

import enum
from collections import OrderedDict, defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from typed_outcome import outcome

from ecocomp.agreements import FrozenDict
from ecocomp.ledger.model import (
    InvalidTransaction,
    NewTransaction,
    Transfer,
    _meta,
    _normalise_meta,
)


class _Text(str):
    """A str subclass: normalised by the general path."""


class _Amount(Decimal):
    """A Decimal subclass: normalised by the general path."""


class _Level(enum.IntEnum):
    LOW = 1


_LEAVES = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.sampled_from([2**53 - 1, 2**53, -(2**53 - 1), -(2**53), 10**400, _Level.LOW]),
    st.text(max_size=4), st.sampled_from(["水", "a\ud800", "\udfff", "ok", "水\udc00x"]),
    st.builds(_Text, st.text(max_size=2)),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal("-0"), Decimal("-0.00"), Decimal("sNaN"), _Amount("1.5")]),
    st.floats(allow_nan=False), st.dates(), st.just(object()),
)
#: Keys of every kind, and keys that are all str (else nearly every dict drawn holds a key
#: only the general path takes, and the exact-type path is hardly tried)
_KEYS = st.one_of(
    st.text(max_size=2), st.integers(0, 3), st.booleans(), st.builds(_Text, st.text(max_size=2)),
    st.sampled_from(["\ud800", "水\udc00"]),
)
_TEXT_KEYS = st.text(max_size=2)
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_KEYS, inner, max_size=3), st.dictionaries(_TEXT_KEYS, inner, max_size=3),
    st.dictionaries(_KEYS, inner, max_size=3).map(OrderedDict),
    st.dictionaries(st.text(max_size=2), inner, max_size=3).map(FrozenDict),
), max_leaves=10)

#: What meta usually holds, all taken by the exact-type path (mixed with the unusual
#: values above, nearly every meta drawn would go to the general path)
_PLAIN = st.recursive(st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53 - 1), 2**53 - 1), st.text(max_size=4),
    st.decimals(allow_nan=False, allow_infinity=False),
), lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_TEXT_KEYS, inner, max_size=3),
), max_leaves=10)


@given(st.one_of(
    st.dictionaries(_TEXT_KEYS, _PLAIN, max_size=4),
    st.dictionaries(_KEYS, _VALUES, max_size=4), st.dictionaries(_TEXT_KEYS, _VALUES, max_size=4),
    st.dictionaries(_KEYS, _VALUES, max_size=4).map(OrderedDict),
))
@example({"a": [1, {"b": Decimal("1.50")}], "c": "湘江"})
@example({"a": {"b": [0.5]}})
@example({"a": ["x", "\ud800"]})
@example({"a": ["水\udc00"]})
@example({"big": 2**53})
@example({1: "key not a str"})
@example({"nan": Decimal("NaN")})
@example({"a": _Text("x"), "b": [_Text("y")]})
@example({_Text("k"): 1})
@example({"a": [_Amount("1.50"), Decimal("-0")]})
@example({"a": defaultdict(list, {"b": [1]})})
@example({"a": {"水\udc00": 1}})
def test_meta_by_exact_types_is_the_general_path(meta: dict[Any, Any]) -> None:
    # compared by type as well as value: repr cannot tell a str subclass from a str
    assert outcome(_meta, meta) == outcome(lambda v: _normalise_meta(v, "meta"), meta)


@pytest.mark.parametrize("key", ["\ud800", "水\udc00", "a\udfffb"])
def test_a_lone_surrogate_in_a_meta_key_is_refused_where_the_transaction_is_made(
        key: str) -> None:
    """Values with a lone surrogate were refused, keys were not: such a meta was taken, and
    posting it failed with a bare UnicodeEncodeError when the canonical text was stored."""
    transfer = Transfer.between("430700", "430800", Decimal("1"), purpose="accrued")
    with pytest.raises(InvalidTransaction, match=r"^.*meta\.outer: lone surrogate in key"):
        NewTransaction(key="k", kind="accrual", transfers=(transfer,),
                       booked_on=date(2023, 1, 1), meta={"outer": {key: 1}})
