"""Test-wide settings.

Hypothesis runs without its per-example deadline and without the "too slow" health check:
both are timings, and timings belong in ``benchmarks/``, not in pass/fail tests. On a busy
CI machine either could fail a correct test (an example that took 250 ms once and 20 ms on
replay is reported as flaky). Every other health check stays on.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ecocomp", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ecocomp")


@pytest.fixture(autouse=True)
def _english_cli_without_a_default_db(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command line as on an English machine with no $ECOCOMP_DB, whatever the host has.

    Tests of the language choice and of $ECOCOMP_DB set these themselves.
    """
    monkeypatch.setenv("ECOCOMP_LANG", "en")
    monkeypatch.delenv("ECOCOMP_DB", raising=False)
