"""The module structure of issue 14: no import circle between agreements and formulas.

``ecocomp.agreements`` is a plain value that imports nothing from ``ecocomp.formulas``;
obligations and netting live in ``ecocomp.obligations``; the registry owns admission; the
formula families are peers that share helpers through ``ecocomp.formulas.shared`` only;
agreement files are loaded above both (``ecocomp.agreement_files``). Old import paths keep
working.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ecocomp"
#: Modules of ecocomp/formulas/ that are not a family of formulas.
NOT_FAMILIES = {"__init__", "base", "registry", "shared"}


def imports_of(path: Path) -> set[str]:
    """Every ecocomp module ``path`` imports, at any depth (function-level imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name.startswith("ecocomp")}


def _under(names: set[str], *prefixes: str) -> set[str]:
    return {n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes)}


def _fresh(code: str) -> str:
    """Run ``code`` in a fresh interpreter in which ``ecocomp`` is an empty package.

    ``ecocomp/__init__.py`` imports the whole public API; the stub package lets a module's
    own imports be seen alone.
    """
    stub = (
        "import sys, types\n"
        "pkg = types.ModuleType('ecocomp')\n"
        f"pkg.__path__ = [{str(PACKAGE)!r}]\n"
        "sys.modules['ecocomp'] = pkg\n"
    )
    done = subprocess.run([sys.executable, "-c", stub + code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_agreements_alone_imports_no_formula_module():
    out = _fresh(
        "import ecocomp.agreements, ecocomp.obligations\n"
        "print(sorted(m for m in sys.modules if m.startswith('ecocomp')))\n"
    )
    loaded = set(ast.literal_eval(out.strip()))
    assert "ecocomp.agreements" in loaded and "ecocomp.obligations" in loaded
    assert not _under(loaded, "ecocomp.formulas", "ecocomp.agreement_files"), loaded


def test_agreements_source_names_no_formula_module():
    # neither at the top nor inside a function: the circle is cut, not hidden
    for module in ("agreements", "obligations"):
        names = imports_of(PACKAGE / f"{module}.py")
        assert not _under(names, "ecocomp.formulas", "ecocomp.settlement"), (module, names)
    assert not _under(imports_of(PACKAGE / "obligations.py"), "ecocomp.agreement_files")


def test_formula_families_are_peers():
    families = sorted(p.stem for p in (PACKAGE / "formulas").glob("*.py")
                      if p.stem not in NOT_FAMILIES)
    assert {"ladder", "xiangjiang", "index", "fund"} <= set(families)
    for family in families:
        names = imports_of(PACKAGE / "formulas" / f"{family}.py")
        others = {f"ecocomp.formulas.{f}" for f in families if f != family}
        assert not _under(names, *others), (family, names & others)
        assert not _under(names, "ecocomp.formulas.base", "ecocomp.agreement_files"), family
    for helper in ("registry", "shared"):
        names = imports_of(PACKAGE / "formulas" / f"{helper}.py")
        assert not _under(names, *(f"ecocomp.formulas.{f}" for f in families)), helper
        assert not _under(names, "ecocomp.agreement_files", "ecocomp.settlement"), helper


@pytest.mark.parametrize("module, names", [
    ("ecocomp.agreements", ["Agreement", "FrozenDict", "freeze", "thaw", "ROLE_KEYS",
                            "CONFIDENCES", "superseded", "overlap_problems", "preset",
                            "presets", "load_agreement", "load_agreements",
                            "agreement_from_dict", "agreement_problems"]),
    ("ecocomp.formulas", ["Formula", "FormulaReplacedWarning", "FormulaSpec", "Net",
                          "Obligation", "formula_names", "get_formula", "get_spec",
                          "net_obligations", "party_nets", "register_formula", "settle_nets",
                          "class_ladder", "fund_split"]),
    ("ecocomp.formulas.base", ["Formula", "FormulaSpec", "Net", "Obligation", "_REGISTRY",
                               "class_problems", "coerce_params", "decimal_text",
                               "factor_problems", "factors_of", "formula_names", "get_formula",
                               "get_spec", "net_obligations", "params_problems",
                               "params_schema_of", "party_nets", "register_formula",
                               "settle_nets"]),
    ("ecocomp.formulas.ladder", ["class_ladder", "evidence", "pay_by_role"]),
    ("ecocomp.formulas.xiangjiang", ["fraction_text", "fraction_to_decimal", "penalty_steps"]),
])
def test_old_import_paths_still_work(module, names):
    import importlib

    loaded = importlib.import_module(module)
    for name in names:
        assert getattr(loaded, name) is not None, (module, name)


def test_old_and_new_paths_are_the_same_objects():
    from ecocomp import agreement_files, agreements, obligations
    from ecocomp.formulas import base, registry

    assert agreements.preset is agreement_files.preset
    assert base.Obligation is obligations.Obligation
    assert base._REGISTRY is registry._REGISTRY
    with pytest.raises(AttributeError):
        agreements.no_such_name  # noqa: B018
