"""The optional compiled parts of ecocomp, and the switch that turns them off.

Two C extensions are built at install where a C compiler is (``setup.py``): the ledger
verify scan (``ecocomp.ledger._scanc``) and the readings import's insert
(``ecocomp._bulkc``). Each is optional: without it, or with ``ECOCOMP_PURE_PYTHON`` set in
the environment, the same work runs in Python with the same results, more slowly.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["optional"]


def optional(name: str) -> ModuleType | None:
    """The compiled module ``name``, or None: not built, or ``ECOCOMP_PURE_PYTHON`` set."""
    if os.environ.get("ECOCOMP_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
