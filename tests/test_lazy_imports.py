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
