"""Test-wide settings.

Hypothesis runs without its per-example deadline and without the "too slow" health check:
both are timings, and timings belong in ``benchmarks/``, not in pass/fail tests. On a busy
CI machine either could fail a correct test (an example that took 250 ms once and 20 ms on
replay is reported as flaky). Every other health check stays on.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import ecocomp

#: The bundled example project, settled by the shared fixtures below.
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"

settings.register_profile(
    "ecocomp", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ecocomp")


@pytest.fixture(scope="session")
def settled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example's 2021, settled once per test session (today = 2022-03-01)."""
    db = tmp_path_factory.mktemp("example") / "settle.db"
    with ecocomp.Ledger.open(db) as ledger:
        ecocomp.settle(ecocomp.load_project(EXAMPLE), year=2021, ledger=ledger,
                       today=date(2022, 3, 1))
    return db


@pytest.fixture
def db(tmp_path: Path, settled: Path) -> Path:
    """A private copy of :func:`settled` that a test may change."""
    copy = tmp_path / "settle.db"
    shutil.copy(settled, copy)
    return copy


@pytest.fixture(autouse=True)
def _english_cli_without_a_default_db(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line as on an English machine with no $ECOCOMP_DB, whatever the host has.

    Tests of the language choice and of $ECOCOMP_DB set these themselves.
    """
    monkeypatch.setenv("ECOCOMP_LANG", "en")
    monkeypatch.delenv("ECOCOMP_DB", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example project without its big automatic file (fast to settle)."""
    folder = tmp_path / "project"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("2021-automatic.csv"))
    return folder


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a project file by ``new`` (``old`` must be there)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for the session (tests/postgres_server.py)."""
    from postgres_server import server

    with server() as admin:
        yield admin


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A new empty PostgreSQL database for one test."""
    from postgres_server import database

    with database(pg_server) as url:
        yield url
