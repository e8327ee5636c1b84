"""Compensation formulas: pure functions (agreement, inputs, period) → obligations.

The registry and admission live in :mod:`ecocomp.formulas.registry`, obligations and netting
in :mod:`ecocomp.obligations` (re-exported here, where they always were); each family module
(``ladder``, ``xiangjiang``, ``index``, ``fund``) is a peer of the others and shares helpers
through :mod:`ecocomp.formulas.shared` only.

Importing this package registers the shipped presets — ``class_ladder``,
``target_reward_penalty``, ``class_change``, ``min_flow``, ``pollution_index``,
``fund_split`` and ``area_rate`` — and users add their own with :func:`register_formula`.

>>> sorted(formula_names())[:2]
['class_change', 'class_ladder']
"""

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
