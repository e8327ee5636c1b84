"""A PostgreSQL server for the backend tests: the one CI names, or a throw-away cluster.

``ECOCOMP_TEST_POSTGRES`` (a ``postgresql://`` URL of a role that may create databases)
names a running server, as ``.ci/run`` exports it. Without it, :func:`server` starts a
cluster of its own in a temporary folder with the PostgreSQL binaries found on the
machine (``initdb``, ``pg_ctl``; as root, under the ``postgres`` user), on a free loopback
port, and stops it at the end of the session. Each test gets a new empty database.

Tests skip, saying why, only when neither exists (no server named and no binaries or no
psycopg driver).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV = "ECOCOMP_TEST_POSTGRES"
#: Set (by .ci/run, where PostgreSQL installed) to fail instead of skipping.
REQUIRE = "ECOCOMP_REQUIRE_POSTGRES"


def _skip(reason: str) -> None:
    if os.environ.get(REQUIRE):
        pytest.fail(f"{reason} (and {REQUIRE} is set)")
    pytest.skip(reason)


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _cluster() -> Iterator[str]:
    """Start a throw-away cluster; yields the URL of its superuser's ``postgres`` database."""
    bindir = _bindir()
    if bindir is None:
        _skip(f"PostgreSQL tests need a server: set {ENV} or install PostgreSQL "
                    "(initdb and pg_ctl were not found)")
    folder = Path(tempfile.mkdtemp(prefix="ecocomp-pg-"))
    run_as: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:  # initdb refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _skip(f"PostgreSQL tests need a server: set {ENV}, or create a "
                        "'postgres' user so a cluster can be started as non-root")
        shutil.chown(folder, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
    data = folder / "data"
    port = _free_port()
    log = folder / "server.log"
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", user,
                        "--auth=trust", "--locale=C", "--encoding=UTF8", "-N"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                        "-w", "-o",
                        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                        "-c fsync=off -c max_connections=60",
                        "start"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        _skip(f"PostgreSQL tests need a server: starting one failed ({exc}; "
                    f"{detail.decode(errors='replace').strip()[:200]})")
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


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
    with _cluster() as started:
        yield started


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@contextlib.contextmanager
def database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``; dropped afterwards."""
    import psycopg

    name = f"ecocomp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" LC_COLLATE "C" LC_CTYPE "C" '
                     "TEMPLATE template0")
    try:
        yield _with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
