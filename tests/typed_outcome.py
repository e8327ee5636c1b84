"""A shared test oracle for fast paths: what a conversion gives, types included.

``repr`` alone cannot tell a str subclass from a str, nor a Decimal subclass from a
Decimal, nor an OrderedDict's keys' types; a fast path that returned ``str(value)`` where
the general path returned the value itself would pass a ``repr`` comparison. This spells
out the type of every part of the result, and of any exception and its message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def typed(value: Any) -> Any:
    """``value`` as nested tuples naming the exact type of every part."""
    kind = type(value).__qualname__
    if isinstance(value, Mapping):
        return kind, tuple((typed(k), typed(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return kind, tuple(typed(v) for v in value)
    return kind, repr(value)


def outcome(convert: Callable[[Any], Any], value: Any) -> Any:
    """What ``convert(value)`` gives, typed, or the type and message of what it raises."""
    try:
        return typed(convert(value))
    except Exception as exc:  # any exception: the paths must raise the same one
        return "raised", type(exc).__qualname__, str(exc)
