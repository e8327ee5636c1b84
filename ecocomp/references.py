"""Payment reference numbers compared as a person reads them.

A bank or treasury reference is typed by hand, copied from a PDF or a Chinese input method:
``GK2022-0042``, ``gk2022－0042``, ``ＧＫ２０２２–００４２`` and `` GK2022‐0042 `` are one
payment order. :func:`normalise_reference` maps all of them to one form, which the ledger
uses to recognise a payment it already holds; the reference is still shown as typed.
"""

from __future__ import annotations

import unicodedata

__all__ = ["normalise_reference"]

#: Characters read as a hyphen besides the Unicode dash punctuation (category Pd).
_HYPHEN_LIKE = frozenset("\u2212\u2043\u02d7\u2796\u2010\u2011\u2012\u2013\u2014\u2015")
#: Dash punctuation that is not a hyphen in a reference number (wave dashes).
_NOT_HYPHENS = frozenset("\u301c\u3030")


def _is_hyphen(char: str) -> bool:
    if char in _NOT_HYPHENS:
        return False
    return char in _HYPHEN_LIKE or unicodedata.category(char) == "Pd"


def normalise_reference(text: str) -> str:
    """The form two references are compared in: NFKC, case-folded, every dash a ``-``,
    invisible format characters dropped, whitespace trimmed and runs of it one space.

    >>> {normalise_reference(r) for r in ("GK2022-0042", "gk2022－0042", "ＧＫ２０２２–００４２",
    ...                                   " GK2022‐0042 ")}
    {'gk2022-0042'}
    >>> normalise_reference("GK 2022\u3000 0042")
    'gk 2022 0042'
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    chars = []
    for char in folded:
        if _is_hyphen(char):
            chars.append("-")
        elif unicodedata.category(char) == "Cf":  # zero-width space, BOM, direction marks
            continue
        else:
            chars.append(char)
    return " ".join("".join(chars).split())
