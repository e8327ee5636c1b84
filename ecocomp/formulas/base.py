"""Where the formula protocol, the registry and obligations used to live (still importable).

They now live in their own modules: obligations and netting in :mod:`ecocomp.obligations`,
the registry and admission in :mod:`ecocomp.formulas.registry`, the helpers the families
share in :mod:`ecocomp.formulas.shared`. Every name importable from here before still is.
"""

from __future__ import annotations

from ecocomp.formulas.registry import (
    _REGISTRY,
    Formula,
    FormulaReplacedWarning,
    FormulaSpec,
    coerce_params,
    formula_names,
    freeze_schema,
    get_formula,
    get_spec,
    params_problems,
    params_schema_of,
    register_formula,
)
from ecocomp.formulas.shared import class_problems, factor_problems, factors_of
from ecocomp.obligations import (
    Net,
    Obligation,
    decimal_text,
    net_obligations,
    party_nets,
    settle_nets,
)

__all__ = [
    "_REGISTRY",
    "Formula",
    "FormulaReplacedWarning",
    "FormulaSpec",
    "Net",
    "Obligation",
    "class_problems",
    "coerce_params",
    "decimal_text",
    "factor_problems",
    "factors_of",
    "formula_names",
    "freeze_schema",
    "get_formula",
    "get_spec",
    "net_obligations",
    "params_problems",
    "params_schema_of",
    "party_nets",
    "register_formula",
    "settle_nets",
]
