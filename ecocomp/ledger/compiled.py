"""The compiled part of the ledger, if this install has it.

``ecocomp/ledger/_scanc.c`` (built by ``setup.py`` where a C compiler and OpenSSL's headers
are) holds the fast path of ``ledger verify``'s scan and of Merkle tree levels. It is
optional: :data:`scanc` is None without it, and with ``ECOCOMP_PURE_PYTHON`` set in the
environment, and everything then runs in Python with the same results, more slowly.
:func:`describe` says which one runs (``ecocomp ledger verify`` prints it).
"""

from __future__ import annotations

import os
from types import ModuleType

__all__ = ["describe", "scanc"]


def _load() -> ModuleType | None:
    if os.environ.get("ECOCOMP_PURE_PYTHON"):
        return None
    try:
        from ecocomp.ledger import _scanc
    except ImportError:
        return None
    return _scanc


#: ``ecocomp.ledger._scanc``, or None (not built, or ``ECOCOMP_PURE_PYTHON`` set).
scanc: ModuleType | None = _load()


def describe() -> str:
    """``"compiled"`` or ``"Python"``: which scan ``ledger verify`` runs."""
    return "compiled" if scanc is not None else "Python"
