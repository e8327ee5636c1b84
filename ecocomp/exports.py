"""Public names loaded on first use (PEP 562), for a package's ``__init__``.

``import ecocomp`` and the command line load only what is used: ``ecocomp.settle`` imports
the settlement on first access, and a command that never signs never loads cryptography.
Type checkers read the same names from the package's ``if TYPE_CHECKING:`` imports.
A submodule loads on first use as well (``ecocomp.settlement.assess_project`` after only
``import ecocomp``), as it did when the package imported everything.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy"]


def lazy(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose name ``n`` lives in the module
    ``exports[n]``; each is imported when first asked for, then kept in ``namespace``. A
    name that is no export but a submodule of ``package`` imports that submodule."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            submodule = f"{package}.{name}"
            if name.isidentifier() and importlib.util.find_spec(submodule) is not None:
                return importlib.import_module(submodule)  # binds it in ``namespace`` too
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # the next look-up is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
