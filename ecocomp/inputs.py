"""What formulas read, by kind: one builder per kind of inputs, run once per settlement year.

A formula declares the kind of inputs it reads when it is registered
(``register_formula(..., inputs="water")``, see :data:`ecocomp.formulas.registry.INPUT_KINDS`).
A settlement run builds each kind's inputs once, and only when an agreement in force needs
them, with the builder registered here for that kind::

    builder(project, store, year, *, progress=None) -> object

``water`` (the section assessments of the year and the year before) is registered by
:mod:`ecocomp.settlement`; ``none`` (formulas that read no measurements, such as
``area_rate``) gives ``None``. A builder registered with ``evidence=True`` is also passed
``evidence=`` (the run's :class:`~ecocomp.evidence.InputsDigest`) to hash what it reads.

>>> build_inputs(None, None, 2026, {"none"})
{'none': None}
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import Any

import attrs

from ecocomp.errors import SettlementError

__all__ = ["InputsProvider", "build_inputs", "input_kinds", "provider_of", "register_inputs"]

Builder = Callable[..., object]


@attrs.frozen
class InputsProvider:
    """A registered builder of one kind of inputs."""

    kind: str
    builder: Builder
    #: Whether the builder takes ``evidence=`` (the run's inputs digest).
    evidence: bool = False


_PROVIDERS: dict[str, InputsProvider] = {}

#: The modules that register the shipped builders when they load (``import ecocomp`` loads
#: names on first use, so they may not be loaded yet): loaded before any registration or
#: look-up, so that a user's builder replaces the shipped one of its kind and is never
#: replaced by it.
_SHIPPED = ("ecocomp.settlement", "ecocomp.air.inputs")
_shipped_loaded = False


def _load_shipped() -> None:
    global _shipped_loaded
    if _shipped_loaded:
        return
    _shipped_loaded = True  # first: the shipped modules register through register_inputs
    try:
        for module in _SHIPPED:
            importlib.import_module(module)
    except BaseException:
        _shipped_loaded = False
        raise


def register_inputs(kind: str, builder: Builder, *, evidence: bool = False) -> None:
    """Register (or replace) the builder of ``kind`` inputs.

    ``builder(project, store, year, *, progress=None)`` returns what formulas of that kind
    read for settlement ``year``; it may read the store (the run's database) but posts nothing.
    """
    if not kind or not isinstance(kind, str):
        raise ValueError(f"an inputs kind is a name such as 'water', not {kind!r}")
    _load_shipped()
    _PROVIDERS[kind] = InputsProvider(kind, builder, evidence)


def provider_of(kind: str) -> InputsProvider | None:
    """The builder registered for ``kind``, or None."""
    _load_shipped()
    return _PROVIDERS.get(kind)


def input_kinds() -> list[str]:
    """The kinds of inputs a builder is registered for, sorted."""
    _load_shipped()
    return sorted(_PROVIDERS)


def build_inputs(
    project: Any,
    store: Any,
    year: int,
    kinds: Collection[str],
    *,
    progress: Callable[[str, int], None] | None = None,
    evidence: Any = None,
) -> dict[str, object]:
    """Each kind's inputs for ``year``, built once, in kind order."""
    _load_shipped()
    built: dict[str, object] = {}
    for kind in sorted(set(kinds)):
        provider = _PROVIDERS.get(kind)
        if provider is None:
            raise SettlementError(
                f"no builder of {kind!r} inputs is registered (known: "
                f"{', '.join(input_kinds())}); import the module that provides them before "
                "settling, or fix the formula's inputs kind"
            )
        extra = {"evidence": evidence} if provider.evidence else {}
        built[kind] = provider.builder(project, store, year, progress=progress, **extra)
    return built


def _no_inputs(_project: Any, _store: Any, _year: int, *, progress: Any = None) -> None:
    return None


_PROVIDERS["none"] = InputsProvider("none", _no_inputs)  # (not register_inputs: it loads
# the settlement, which imports this module)
