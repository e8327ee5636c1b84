"""verify's fast canonical-``meta`` test gives the full test's answer on every text."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ecocomp.ledger.model import canonical_meta
from ecocomp.ledger.verify import _canonical_meta_check, _full_meta_check

FAST = _canonical_meta_check()
FULL = _full_meta_check()

_TEXT = st.text(alphabet=st.sampled_from(
    ['a', 'b', 'Z', '0', '9', ' ', ':', ',', '{', '}', '[', ']', '"', '\\', '/', '\n', '\t',
     '\x00', '\x1f', '\x7f', '水', '\u2028', '-', '.', 'e']), max_size=8)
_SCALARS = (st.none() | st.booleans() | _TEXT
            | st.integers(min_value=-(2**54), max_value=2**54)
            | st.sampled_from([0, -1, 2**53 - 1, 2**53, -(2**53 - 1), -(2**53)])
            | st.floats(allow_nan=True, allow_infinity=True))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=8)


@st.composite
def metas(draw: st.DrawFn) -> bytes:
    """A JSON text in one of many spellings, canonical or not, sometimes damaged."""
    value = draw(st.dictionaries(_TEXT, _VALUES, max_size=4) | _VALUES)
    spelling = draw(st.sampled_from(["canonical", "unsorted", "spaced", "ascii", "pretty"]))
    try:
        if spelling == "canonical":
            text = canonical_meta(value) if isinstance(value, dict) else json.dumps(value)
        elif spelling == "unsorted":
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif spelling == "spaced":
            text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        elif spelling == "ascii":
            text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        else:
            text = json.dumps(value, sort_keys=True, indent=draw(st.sampled_from([0, 1])),
                              ensure_ascii=False)
    except ValueError:
        text = "{}"
    raw = text.encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 2))):  # damage: insert, delete or replace a byte
        at = draw(st.integers(0, len(raw)))
        byte = draw(st.sampled_from(
            [b" ", b"\t", b"\\", b'"', b",", b":", b"-", b"0", b"1", b"}", b"\xff", b"\xe6"]))
        how = draw(st.sampled_from(["insert", "delete", "replace"]))
        if how == "insert":
            raw = raw[:at] + byte + raw[at:]
        elif how == "delete":
            raw = raw[:at] + raw[at + 1:]
        else:
            raw = raw[:at] + byte + raw[at + 1:]
    return raw


@settings(max_examples=600, deadline=None)
@given(metas())
@example(b'{"a":-0}')
@example(b'{"a":[-0]}')
@example(b'{"a":1,"a":1}')
@example(b'{"b":1,"a":2}')
@example(b'{"a":{"c":1,"b":2}}')
@example(b'{"a":"x y", "b":1}')
@example(b'{"a":"x, y","b":1}')
@example(b' {"a":1}')
@example(b'{"a":1} ')
@example(b'{"a" :1}')
@example(b'{"a":"\\u0031"}')
@example(b'{"a":"\\/"}')
@example(b'{"a":1.0}')
@example(b'{"a":1e5}')
@example(b'{"a":NaN}')
@example(b'{"a":9007199254740992}')
@example(b'{"a":9007199254740991}')
@example(b'{"a":"\xff"}')
@example(b'[]')
@example(b'{}')
@example(b'{"a":[]}')
@example(b'{"a":[1 ,2]}')
def test_fast_meta_check_agrees_with_the_full_one(meta: bytes) -> None:
    assert FAST(meta) == FULL(meta)


def test_the_fast_way_is_taken_and_can_fail() -> None:
    # canonical texts without escapes or spaced separators pass without being re-encoded
    assert FAST(b'{"a":"x y","b":[1,{"c":null}]}')
    assert not FAST(b'{"b":1,"a":2}')  # unsorted keys, found by the parse alone
    assert not FAST(b'{"a":[{"b":1,"b":2}]}')  # a repeated key, nested
    assert not FAST(b'{"a":-0}')
