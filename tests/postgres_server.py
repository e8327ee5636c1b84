"""A PostgreSQL server for the backend tests: the one CI names, or a throw-away cluster.

``ECOCOMP_TEST_POSTGRES`` (a ``postgresql://`` URL of a role that may create databases)
names a running server, as ``.ci/run`` exports it. Without it, :func:`server` starts a
cluster of its own in a temporary folder with the PostgreSQL binaries found on the
machine (``initdb``, ``pg_ctl``; as root, under the ``postgres`` user), on a free loopback
port, and stops it at the end of the session. Each test gets a new empty database.

Tests skip, saying why, only when neither exists (no server named and no binaries or no
psycopg driver). The cluster is :func:`benchmarks.pgserver.throwaway_cluster`, which the
benchmarks use too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from benchmarks.pgserver import ServerUnavailable, scratch_database, throwaway_cluster

ENV = "ECOCOMP_TEST_POSTGRES"
#: Set (by .ci/run, where PostgreSQL installed) to fail instead of skipping.
REQUIRE = "ECOCOMP_REQUIRE_POSTGRES"


def _skip(reason: str) -> None:
    if os.environ.get(REQUIRE):
        pytest.fail(f"{reason} (and {REQUIRE} is set)")
    pytest.skip(reason)


@contextlib.contextmanager
def server() -> Iterator[str]:
    """The admin URL of a PostgreSQL server for this test session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _skip("PostgreSQL tests need psycopg: pip install 'ecocomp[postgres]'")
    url = os.environ.get(ENV)
    if url:
        yield url
        return
    try:
        with throwaway_cluster() as started:
            yield started
    except ServerUnavailable as exc:
        _skip(f"PostgreSQL tests need a server: set {ENV}, or {exc}")


@contextlib.contextmanager
def database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``; dropped afterwards."""
    with scratch_database(admin_url, "ecocomp_test") as url:
        yield url


@contextlib.contextmanager
def login_role(pg_url: str, name: str, grant: Callable[[Any, str], object]) -> Iterator[str]:
    """A login role ``name`` given its rights by ``grant(owner connection, name)``; yields
    its URL and drops the role (and what it owns) afterwards."""
    from ecocomp import postgres

    conn = postgres.connect(pg_url)
    try:
        conn.execute(f"CREATE ROLE {name} LOGIN")
        grant(conn, name)
    finally:
        conn.close()
    try:
        yield pg_url.replace("://postgres@", f"://{name}@", 1)
    finally:
        conn = postgres.connect(pg_url)
        try:
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")
        finally:
            conn.close()
