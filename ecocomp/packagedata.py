"""Where the package's data folders are, installed or in a source checkout.

``schemas/`` and ``examples/`` sit at the top of the repository and install as the packages
``ecocomp.schemas`` and ``ecocomp.examples``. When ecocomp is imported from a source tree
(``python -m pytest`` in a checkout puts the checkout first on ``sys.path``) those packages do
not exist under ``ecocomp/``, so fall back to the folders beside it.
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


def data_folder(name: str) -> Traversable:
    """The installed ``ecocomp.<name>`` package data, or ``<checkout>/<name>``."""
    try:
        return resources.files(f"ecocomp.{name}")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / name
        if not folder.is_dir():
            raise
        return folder


def example_module(name: str) -> ModuleType:
    """The bundled module ``ecocomp.examples.<name>`` (e.g. ``air_synth``), installed or, in a
    source checkout, loaded from ``<checkout>/examples/<name>.py``."""
    qualified = f"ecocomp.examples.{name}"
    try:
        return importlib.import_module(qualified)
    except ModuleNotFoundError as exc:
        if exc.name not in ("ecocomp.examples", qualified):
            raise
        path = Path(__file__).resolve().parent.parent / "examples" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(qualified, path)
        if not path.is_file() or spec is None or spec.loader is None:
            raise
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
        return module
