"""A transaction's meta is normalised by exact types first; the result and every refusal
are the general path's (which names where a refused value is)."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from ecocomp.errors import LedgerError
from ecocomp.ledger.model import _meta, _normalise_meta


class _Text(str):
    """A str subclass: normalised by the general path."""


class _Level(enum.IntEnum):
    LOW = 1


_LEAVES = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**54), max_value=2**54),
    st.sampled_from([2**53 - 1, 2**53, -(2**53 - 1), -(2**53), _Level.LOW]),
    st.text(max_size=4), st.sampled_from(["水", "a\ud800", "\udfff", "ok"]),
    st.builds(_Text, st.text(max_size=2)),
    st.decimals(allow_nan=True, allow_infinity=True, places=3),
    st.floats(allow_nan=False), st.just(object()),
)
_KEYS = st.one_of(st.text(max_size=2), st.integers(0, 3), st.builds(_Text, st.text(max_size=2)))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(_KEYS, inner, max_size=3),
), max_leaves=10)


def _outcome(convert: Any, value: Any) -> str:
    try:
        return repr(convert(value))  # repr tells a str subclass or an IntEnum from a plain one
    except LedgerError as exc:
        return f"refused: {exc}"


@given(st.dictionaries(_KEYS, _VALUES, max_size=4))
@example({"a": [1, {"b": Decimal("1.50")}], "c": "湘江"})
@example({"a": {"b": [0.5]}})
@example({"a": ["x", "\ud800"]})
@example({"big": 2**53})
@example({1: "key not a str"})
@example({"nan": Decimal("NaN")})
def test_meta_by_exact_types_is_the_general_path(meta: dict[Any, Any]) -> None:
    assert _outcome(_meta, meta) == _outcome(lambda v: _normalise_meta(v, "meta"), meta)
