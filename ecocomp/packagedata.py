"""Where the package's data folders are, installed or in a source checkout.

``schemas/`` and ``examples/`` sit at the top of the repository and install as the packages
``ecocomp.schemas`` and ``ecocomp.examples``. When ecocomp is imported from a source tree
(``python -m pytest`` in a checkout puts the checkout first on ``sys.path``) those packages do
not exist under ``ecocomp/``, so fall back to the folders beside it.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

__all__ = ["data_folder"]


def data_folder(name: str) -> Traversable:
    """The installed ``ecocomp.<name>`` package data, or ``<checkout>/<name>``."""
    try:
        return resources.files(f"ecocomp.{name}")
    except ModuleNotFoundError:
        folder = Path(__file__).resolve().parent.parent / name
        if not folder.is_dir():
            raise
        return folder
