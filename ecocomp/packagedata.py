"""Where the package's data folders are, installed or in a source checkout.

``schemas/`` and ``examples/`` sit at the top of the repository and install as the packages
``ecocomp.schemas`` and ``ecocomp.examples``. When ecocomp is imported from a source tree
(``python -m pytest`` in a checkout puts the checkout first on ``sys.path``) the folders beside
it are used: those packages do not exist under ``ecocomp/``, and an editable install of
another checkout would otherwise supply its own (its schemas with this checkout's code).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from types import ModuleType

__all__ = ["data_folder", "example_module"]


def _checkout() -> Path | None:
    """The source checkout ecocomp was imported from (None: an installed package)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def data_folder(name: str) -> Traversable:
    """``<checkout>/<name>`` in a source checkout, else the installed ``ecocomp.<name>``."""
    root = _checkout()
    if root is not None and (root / name).is_dir():
        return root / name
    try:
        return resources.files(f"ecocomp.{name}")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / name
        if not folder.is_dir():
            raise
        return folder


def _load(qualified: str, path: Path) -> ModuleType | None:
    spec = importlib.util.spec_from_file_location(qualified, path)
    if not path.is_file() or spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module


def example_module(name: str) -> ModuleType:
    """The bundled module ``ecocomp.examples.<name>`` (e.g. ``air_synth``): in a source
    checkout ``<checkout>/examples/<name>.py``, else the installed one."""
    qualified = f"ecocomp.examples.{name}"
    root = _checkout()
    if root is not None and (root / "examples" / f"{name}.py").is_file():
        path = root / "examples" / f"{name}.py"
        loaded = sys.modules.get(qualified)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "") == path:
            return loaded
        module = _load(qualified, path)
        if module is not None:
            return module
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name not in ("ecocomp.examples", qualified):
            raise
        module = _load(qualified, Path(__file__).resolve().parent.parent / "examples"
                       / f"{name}.py")
        if module is None:
            raise
        return module
