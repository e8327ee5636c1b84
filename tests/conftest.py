"""Test-wide settings.

Hypothesis runs without its per-example deadline and without the "too slow" health check:
both are timings, and timings belong in ``benchmarks/``, not in pass/fail tests. On a busy
CI machine either could fail a correct test (an example that took 250 ms once and 20 ms on
replay is reported as flaky). Every other health check stays on.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ecocomp", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ecocomp")
