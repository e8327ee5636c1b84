"""Which settled years depend on the readings of the year before.

A settlement of year Y+1 reads year Y's assessments when one of its agreements compares
with the year before: a ``class_ladder`` with an ``improvement`` rule (``same_month_last_year``
or ``last_year_annual``, e.g. 澧水 "较上年提升"). So when a correction changes year Y's
readings, a Y+1 that was settled before is **stale**: its amounts no longer follow from the
stored readings. ``ecocomp settle --year Y`` reports such years, and ``--cascade`` settles
them too, in the same all-or-nothing run.

The shipped formulas that read only their own year (``target_reward_penalty``,
``class_change``, ``min_flow``, ``pollution_index`` — whose baselines are parameters, not
readings — and ``fund_split``) do not make a year depend on the one before. A formula
registered by the user is assumed to read the year before (it is given it), so its years
count as dependent: a needless re-computation is cheap, a missed one is a wrong amount.
"""

from __future__ import annotations

from collections.abc import Iterable

from ecocomp.agreements import Agreement
from ecocomp.periods import Period

__all__ = ["OWN_YEAR_FORMULAS", "depends_on_previous_year", "reads_previous_year"]

#: Shipped formulas that never read the year before the settled one.
OWN_YEAR_FORMULAS = frozenset(
    {"target_reward_penalty", "class_change", "min_flow", "pollution_index", "fund_split"}
)


def reads_previous_year(agreement: Agreement) -> bool:
    """Whether ``agreement``'s formula reads the readings of the year before.

    >>> from ecocomp.agreements import preset
    >>> reads_previous_year(preset("lishui-zjj-cd-2020"))
    True
    >>> reads_previous_year(preset("lvshui-jx-hn-2019"))
    False
    """
    if agreement.formula == "class_ladder":
        return "improvement" in agreement.params
    return agreement.formula not in OWN_YEAR_FORMULAS


def depends_on_previous_year(agreements: Iterable[Agreement], year: int) -> bool:
    """Whether the settlement of ``year`` reads ``year - 1`` (an agreement in force reads it)."""
    period = Period(year)
    return any(a.in_force(period) and reads_previous_year(a) for a in agreements)
