"""Compensation formulas: pure functions (agreement, inputs, period) → obligations.

The registry and admission live in :mod:`ecocomp.formulas.registry`, obligations and netting
in :mod:`ecocomp.obligations` (re-exported here, where they always were); each family module
(``ladder``, ``xiangjiang``, ``index``, ``fund``, ``air``) is a peer of the others and shares
helpers through :mod:`ecocomp.formulas.shared` only.

Importing this package registers the shipped presets — ``class_ladder``,
``target_reward_penalty``, ``class_change``, ``min_flow``, ``pollution_index``,
``fund_split``, ``area_rate`` and the air formulas ``air_attainment``, ``air_change`` and
``air_ladder`` — and users add their own with :func:`register_formula`.

>>> sorted(formula_names())[:4]
['air_attainment', 'air_change', 'air_ladder', 'area_rate']
"""

from ecocomp.formulas.air import air_attainment, air_change, air_ladder
from ecocomp.formulas.area import area_rate
from ecocomp.formulas.fund import fund_split
from ecocomp.formulas.index import pollution_index
from ecocomp.formulas.ladder import class_ladder
from ecocomp.formulas.registry import (
    Formula,
    FormulaReplacedWarning,
    FormulaSpec,
    formula_names,
    get_formula,
    get_spec,
    register_formula,
)
from ecocomp.formulas.xiangjiang import class_change, min_flow, target_reward_penalty
from ecocomp.obligations import Net, Obligation, net_obligations, party_nets, settle_nets

__all__ = [
    "Formula",
    "FormulaReplacedWarning",
    "FormulaSpec",
    "Net",
    "Obligation",
    "air_attainment",
    "air_change",
    "air_ladder",
    "area_rate",
    "class_change",
    "class_ladder",
    "formula_names",
    "fund_split",
    "get_formula",
    "get_spec",
    "min_flow",
    "net_obligations",
    "party_nets",
    "pollution_index",
    "register_formula",
    "settle_nets",
    "target_reward_penalty",
]
