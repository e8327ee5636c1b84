"""A throw-away PostgreSQL cluster for the backend tests and benchmarks.

:func:`throwaway_cluster` runs ``initdb`` into a temporary folder and starts the server on a
free loopback port with its socket in that folder, using the PostgreSQL binaries on the
machine (``pg_ctl`` on ``PATH``, else Debian's ``/usr/lib/postgresql/*/bin``). As root it
runs them as the ``postgres`` user (initdb refuses root). The cluster uses the C locale
and trusts local logins; it is stopped and deleted on exit. Nothing here is for production.
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

__all__ = ["ServerUnavailable", "scratch_database", "throwaway_cluster"]


class ServerUnavailable(Exception):
    """No cluster could be started here; the message says why and what would fix it."""


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
def throwaway_cluster(*, fsync: bool = False) -> Iterator[str]:
    """Start a cluster; yields the URL of its superuser's ``postgres`` database.

    ``fsync=False`` (tests) skips flushing to disk; benchmarks pass ``fsync=True`` so the
    figures compare with SQLite's ``synchronous=FULL`` ledger.
    """
    bindir = _bindir()
    if bindir is None:
        raise ServerUnavailable("install PostgreSQL (initdb and pg_ctl were not found)")
    run_as: list[str] = []
    user = pwd.getpwuid(os.getuid()).pw_name
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise ServerUnavailable(
                "create a 'postgres' user: initdb refuses to run as root") from None
        run_as, user = ["runuser", "-u", "postgres", "--"], "postgres"
    folder = Path(tempfile.mkdtemp(prefix="ecocomp-pg-"))
    if run_as:
        shutil.chown(folder, "postgres")
    data, log, port = folder / "data", folder / "server.log", _free_port()
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=60 "
               f"-c fsync={'on' if fsync else 'off'}")
    try:
        subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", user,
                        "--auth=trust", "--locale=C", "--encoding=UTF8", "-N"],
                       check=True, capture_output=True)
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                        "-w", "-o", options, "start"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
        raise ServerUnavailable(f"fix the local PostgreSQL install: starting a cluster "
                                f"failed ({exc}; {detail[:200]})") from exc
    try:
        yield f"postgresql://{user}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str = "ecocomp_scratch") -> Iterator[str]:
    """A new empty database (C collation) on the server of ``admin_url``; dropped after."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" LC_COLLATE "C" LC_CTYPE "C" '
                     "TEMPLATE template0")
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
