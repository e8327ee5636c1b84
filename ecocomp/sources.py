"""The public sources that the shipped presets, reference data and docs cite, by tag.

A preset's ``source`` reads like ``"… [C S1, S2] http://…"``: the tags (``S1`` … ``S19``,
``S7c``, ``N11`` …) are listed with their titles and addresses in
``ecocomp/data/sources.toml``, which ships with the package (docs/sources.md shows the same
list). Reports resolve the tags they show (:func:`cited`).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources

import attrs

__all__ = ["Source", "cited", "sources"]

_TAG = re.compile(r"\b(S[0-9]+[a-e]?|N[0-9]+)\b", re.ASCII)


@attrs.frozen
class Source:
    """One public source: its tag, a title (outlet, date, headline) and its addresses."""

    tag: str
    title: str
    urls: tuple[str, ...] = attrs.field(converter=tuple)


@cache
def sources() -> dict[str, Source]:
    """Every shipped source by tag, in file order.

    >>> sources()["S7c"].title
    '萍乡获渌水首轮补偿资金3000万元'
    """
    text = resources.files("ecocomp.data").joinpath("sources.toml").read_text(encoding="utf-8")
    return {s["tag"]: Source(s["tag"], s["title"], s["urls"])
            for s in tomllib.loads(text)["source"]}


def cited(text: str) -> list[Source]:
    """The known sources whose tags ``text`` mentions, in order of first mention.

    >>> [s.tag for s in cited("渌水 [C S7, S7c; amounts U] S7 again, and N11")]
    ['S7', 'S7c', 'N11']
    """
    known = sources()
    tags = dict.fromkeys(m for m in _TAG.findall(text) if m in known)
    return [known[t] for t in tags]
