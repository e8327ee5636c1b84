"""What a command loads: only what it uses (the re-settle of an unchanged year is mostly
Python's import time otherwise), and the public names all still there."""

from __future__ import annotations

import json
import subprocess
import sys

import ecocomp
import ecocomp.air


def _loaded(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return set(json.loads(out))


def test_import_ecocomp_loads_no_submodule_until_a_name_is_used() -> None:
    loaded = _loaded("import ecocomp")
    assert {m for m in loaded if m.startswith("ecocomp")} == {"ecocomp", "ecocomp.exports",
                                                            "ecocomp.presets"}
    loaded = _loaded("import ecocomp\necocomp.classify")
    assert "ecocomp.classification" in loaded and "ecocomp.settlement" not in loaded


def test_a_water_settlement_loads_neither_cryptography_nor_the_air_store() -> None:
    loaded = _loaded("import ecocomp.cli\nfrom ecocomp.settlement import settle\n"
                     "from ecocomp.project import load_project")
    assert "ecocomp.settlement" in loaded
    assert not {m for m in loaded if m.startswith("cryptography")}
    assert "ecocomp.air.store" not in loaded and "ecocomp.air.assess" not in loaded
    assert "pyarrow" not in loaded and "jinja2" not in loaded


def test_every_public_name_resolves() -> None:
    for package in (ecocomp, ecocomp.air):
        assert set(package.__all__) <= set(dir(package))
        for name in package.__all__:
            assert getattr(package, name) is not None, name
    assert ecocomp.Signer is ecocomp.ledger.Signer
    try:
        ecocomp.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:  # pragma: no cover - the test fails
        raise AssertionError("an unknown name must raise AttributeError")


def test_type_checkers_see_exactly_the_names_that_load() -> None:
    """Each package lists its public names three times: the table that loads them
    (``_EXPORTS``), the ``if TYPE_CHECKING:`` imports type checkers read, and the literal
    ``__all__`` (linters and type checkers need it written out). All three must agree."""
    import ast
    import inspect

    for package in (ecocomp, ecocomp.air):
        tree = ast.parse(inspect.getsource(package))
        checked = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                for imp in node.body:
                    assert isinstance(imp, ast.ImportFrom)
                    checked.update({alias.name: imp.module for alias in imp.names})
        assert checked == package._EXPORTS, package.__name__
        assert set(package.__all__) - {"__version__"} == set(package._EXPORTS)


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout


def test_a_public_name_that_is_also_a_subpackage_stays_the_public_name() -> None:
    """``ecocomp.presets`` is the function and ``ecocomp/presets/`` the shipped files: once
    something loaded the package (loading an agreement does), the lazy name must not turn
    into the module, in a fresh process where nothing else was imported first."""
    code = ("import ecocomp, importlib, pkgutil\n"
            "for package in (ecocomp, importlib.import_module('ecocomp.air')):\n"
            "    subs = {m.name for m in pkgutil.iter_modules(package.__path__)}\n"
            "    for name in sorted(subs & set(package.__all__)):\n"
            "        importlib.import_module(f'{package.__name__}.{name}')\n"
            "        value = getattr(package, name)\n"
            "        print(package.__name__, name, type(value).__name__)\n"
            "import ecocomp.agreement_files\n"
            "from ecocomp import *\n"
            "print('star', type(presets).__name__, 'lishui-zjj-cd-2020' in presets())\n"
            "importlib.reload(ecocomp)\n"
            "print('reloaded', type(ecocomp.presets).__name__)\n")
    out = _run(code).split("\n")
    assert "ecocomp presets function" in out
    assert "star function True" in out
    assert "reloaded function" in out
    assert not [line for line in out if line.endswith(" module")]
    templates = "from ecocomp.presets import TEMPLATES\nprint(sorted(TEMPLATES)[0])"
    assert _run(templates).strip() == "hunan-air-2019-attainment"


def test_a_submodule_is_an_attribute_of_its_package_without_importing_it() -> None:
    """``import ecocomp`` then ``ecocomp.settlement.assess_project``, ``ecocomp.air.iaqi`` or
    ``ecocomp.ledger.signing.key_id`` worked when the package imported everything; with
    names loaded on first use a submodule loads on first use too (a fresh process each)."""
    code = ("import importlib, pkgutil, sys, types\n"
            "package = importlib.import_module(sys.argv[1])\n"
            "for sub in sorted(m.name for m in pkgutil.iter_modules(package.__path__)):\n"
            "    if sub in getattr(package, '_EXPORTS', {}):\n"
            "        continue  # a public name of the same name wins (ecocomp.presets)\n"
            "    value = getattr(package, sub)\n"
            "    assert isinstance(value, types.ModuleType), (sub, value)\n"
            "    assert value is sys.modules[f'{package.__name__}.{sub}'], sub\n"
            "print('ok')\n")
    for package in ("ecocomp", "ecocomp.air", "ecocomp.ledger"):
        out = subprocess.run([sys.executable, "-c", code, package], capture_output=True,
                             text=True)
        assert out.stdout == "ok\n", (package, out.stderr[-500:])
    assert _run("import ecocomp\nprint(ecocomp.air.iaqi is ecocomp.iaqi, "
                "ecocomp.ledger.signing.key_id.__name__, ecocomp.air.store.AirStore.__name__)"
                ) == "True key_id AirStore\n"
    missing = "import ecocomp\nprint(hasattr(ecocomp, 'no_such_module'))"
    assert _run(missing) == "False\n"


def test_an_inputs_builder_registered_first_is_not_replaced_by_the_shipped_one() -> None:
    """``register_inputs("air", mine)`` after only ``import ecocomp`` was final when the
    package imported everything; the settlement (``water``) and ``ecocomp.air.inputs``
    (``air``) register theirs when they load, which must not replace the user's, and the
    kinds are all listed before either is loaded."""
    code = ("import ecocomp\n"
            "from ecocomp.inputs import input_kinds, provider_of, register_inputs\n"
            "print(input_kinds())\n"
            "def mine(project, store, year, *, progress=None):\n"
            "    return 'mine'\n"
            "register_inputs('air', mine)\n"
            "register_inputs('water', mine)\n"
            "ecocomp.settle  # loads the settlement, and the air inputs with it\n"
            "print(provider_of('air').builder is mine, provider_of('water').builder is mine)\n")
    assert _run(code) == "['air', 'none', 'water']\nTrue True\n"
    # the shipped builders load by themselves from either end, without a cycle
    for first in ("ecocomp.air.inputs", "ecocomp.settlement", "ecocomp.inputs"):
        probe = f"import {first}\nfrom ecocomp.inputs import input_kinds\nprint(input_kinds())"
        assert _run(probe) == "['air', 'none', 'water']\n", first
