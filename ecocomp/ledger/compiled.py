"""The compiled part of the ledger, if this install has it.

``ecocomp/ledger/_scanc.c`` (built by ``setup.py`` where a C compiler and OpenSSL's headers
are) holds the fast path of ``ledger verify``'s scan and of Merkle tree levels. It is
optional: :data:`scanc` is None without it, and with ``ECOCOMP_PURE_PYTHON`` set in the
environment, and everything then runs in Python with the same results, more slowly.
:func:`describe` says which one runs (``ecocomp ledger verify`` prints it).
"""

from __future__ import annotations

import functools
from types import ModuleType

from ecocomp.compiled import optional

__all__ = ["describe", "reads_files", "scanc"]


#: ``ecocomp.ledger._scanc``, or None (not built, or ``ECOCOMP_PURE_PYTHON`` set).
scanc: ModuleType | None = optional("ecocomp.ledger._scanc")


@functools.cache
def reads_files() -> bool:
    """True if the compiled scan can read a database file itself: it found the SQLite
    library that Python's ``sqlite3`` module uses (the same copy, never a second one)."""
    if scanc is None:
        return False
    import _sqlite3

    path = getattr(_sqlite3, "__file__", None)  # None: built into the interpreter
    return bool(path) and bool(scanc.sqlite_attach(path))


def describe() -> str:
    """``"compiled"`` or ``"Python"``: which scan ``ledger verify`` runs."""
    return "compiled" if scanc is not None else "Python"
