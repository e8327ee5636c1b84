"""Opening an ecocomp PostgreSQL database: the second storage backend, beside SQLite.

A database given as a URL (``postgresql://user@host:5432/dbname``, or ``postgres://…``)
selects PostgreSQL; anything else is an SQLite file, as before. The driver is psycopg 3,
installed with the ``postgres`` extra (``pip install 'ecocomp[postgres]'``).

:class:`Connection` gives the code above it the small part of :class:`sqlite3.Connection`
it uses (``execute``, ``executemany``, ``in_transaction``, ``close``), so the ledger's
queries, the formulas and settlement do not know which backend runs. The differences of
dialect live here, in one place:

- placeholders: ``?`` becomes ``%s`` (and a literal ``%`` is doubled);
- ``BEGIN IMMEDIATE`` (SQLite's one writer at a time) becomes a READ COMMITTED
  transaction that first takes one transaction-scoped advisory lock, so writers queue up
  exactly as on SQLite and each reads the latest committed head once it holds the lock;
- ``BEGIN`` (a consistent snapshot for multi-query reads) becomes REPEATABLE READ;
- ``sqlite_master`` and ``PRAGMA table_info(t)`` read PostgreSQL's catalog instead;
- ``CREATE TABLE``: ``INTEGER PRIMARY KEY`` (SQLite's rowid alias) becomes a ``bigint``
  identity, ``INTEGER`` ``bigint``, ``TEXT`` ``text COLLATE "C"`` (code-point order, as
  SQLite sorts), ``BLOB`` ``bytea``, ``STRICT``/``WITHOUT ROWID`` go; ``rowid``
  becomes ``ctid``, which is insertion order only until VACUUM reuses the space of
  deleted rows: right for a fresh temporary table (the import's staging), not for a table
  rewritten run after run (the catalog's sections, whose listed order may then change on
  PostgreSQL; tests/test_postgres_review4.py holds it as a known failure);
- ``CREATE TABLE IF NOT EXISTS`` of a table that exists does nothing, without asking the
  server (which would require the right to create tables, which a writer role lacks);
- ``temp.t`` (SQLite's schema of temporary tables) becomes ``pg_temp.t`` (an index of one
  is named without it), and ``unicode(c)`` (a character's code point) ``ascii(c)``;
- ``INSERT OR REPLACE`` becomes a plain ``INSERT``: ecocomp uses it only into tables it
  has just emptied, and a clash then fails loudly instead of replacing a row;
- a ``numeric`` result holding a whole number (``sum`` of ``bigint`` fen) comes back as an
  ``int``, as SQLite returns it: money stays integer fen, never float.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ecocomp.errors import EcocompError

__all__ = [
    "WRITE_LOCK",
    "Connection",
    "connect",
    "describe",
    "is_connection",
    "is_url",
    "redacted",
    "scrubbed",
]

#: The advisory lock every ecocomp writer takes (``BEGIN IMMEDIATE``): b"ecocomp\x01".
WRITE_LOCK = 0x65636F63_6F6D7001

_SCHEMES = ("postgresql://", "postgres://")

# pg_class and pg_attribute, not information_schema: the latter hides the tables and
# columns of tables the role holds no privilege on, and a reader must see them all
_MASTER = (
    "(SELECT 'table'::text AS type, c.relname::text AS name, c.relname::text AS tbl_name, "
    "NULL::text AS sql FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n "
    "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
    "AND c.relkind IN ('r', 'p')) AS sqlite_master"
)
_TABLE_INFO = re.compile(r"^\s*PRAGMA\s+table_info\(\s*(\w+)\s*\)\s*$", re.IGNORECASE)
_TABLE_INFO_SQL = (
    "SELECT row_number() OVER (ORDER BY a.attnum) - 1, a.attname::text, "
    "format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 1 ELSE 0 END, "
    "NULL::text, 0 FROM pg_catalog.pg_attribute AS a "
    "JOIN pg_catalog.pg_class AS c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relname = %s AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attnum"
)


def is_url(db: object) -> bool:
    """Whether ``db`` names a PostgreSQL database (a ``postgresql://`` URL), not a file.

    >>> is_url("postgresql://ecocomp@localhost/ecocomp"), is_url("settlement.db")
    (True, False)
    """
    return isinstance(db, str) and db.startswith(_SCHEMES)


def is_connection(conn: object) -> bool:
    """Whether ``conn`` is a PostgreSQL connection of this module (not an sqlite3 one)."""
    return isinstance(conn, Connection)


def redacted(url: str) -> str:
    """``url`` without its password, for messages and ``Ledger.path``.

    >>> redacted("postgresql://app:secret@db:5432/ecocomp")
    'postgresql://app@db:5432/ecocomp'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}@{host}" if parts.username else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_PASSWORD = re.compile(r"((?:postgresql|postgres)://[^\s:/@]*):[^\s@/]*@")


def scrubbed(text: str) -> str:
    """``text`` with the password of every ``postgresql://`` URL in it taken out (a message
    that quotes the ``--db`` a user typed).

    >>> scrubbed("error: postgresql://app:secret@db/ecocomp: no readings")
    'error: postgresql://app@db/ecocomp: no readings'
    """
    return _PASSWORD.sub(r"\1@", text) if "://" in text else text


def _driver() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise EcocompError(
            "a postgresql:// database needs the psycopg driver; install it with "
            "`pip install 'ecocomp[postgres]'`"
        ) from exc
    return psycopg


def describe(exc: Exception, url: str) -> str:
    """What a PostgreSQL error means for the user of ``url``, in plain words."""
    name = redacted(url)
    text = " ".join(str(exc).split())
    low = text.lower()
    if "connection refused" in low or "could not connect" in low or "no such file" in low:
        return (f"{name}: cannot reach the PostgreSQL server ({text}); check that it runs "
                "and the host and port of the URL")
    if "password authentication failed" in low or "no pg_hba.conf entry" in low:
        return f"{name}: the server refused the login ({text}); check the user and password"
    if "does not exist" in low and "database" in low:
        return f"{name}: no such database ({text}); create it with `createdb`"
    if "permission denied" in low:
        return (f"{name}: the role may not do this ({text}); a ledger writer role may only "
                "INSERT and SELECT (see docs/postgres.md)")
    return f"{name}: database error ({text})"


class Cursor:
    """The rows of one statement (the part of :class:`sqlite3.Cursor` ecocomp reads)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._cursor.fetchall() if self._cursor.description is not None else []

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        if self._cursor.description is None:
            return iter(())
        return iter(self._cursor)

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


class Connection:
    """A psycopg connection behind the subset of the sqlite3 API ecocomp uses.

    Autocommit like ecocomp's SQLite connections: transactions are explicit ``BEGIN`` …
    ``COMMIT``.
    """

    dialect = "postgresql"

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw
        self.url = url

    def __str__(self) -> str:  # in messages: the database, without its password
        return redacted(self.url)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Sequence[Any] | None = ()) -> Cursor:
        cursor = self.raw.cursor()
        created = _CREATE_IF_MISSING.match(sql)
        if created and self._has_table(created.group(1)):
            cursor.execute("SELECT 1 WHERE false")  # a writer without CREATE may run it
            return Cursor(cursor)
        special = _special(sql)
        if special is not None:
            for statement, args in special:
                cursor.execute(statement, args)
            return Cursor(cursor)
        if params:
            cursor.execute(_translated(sql), tuple(params))
        else:
            cursor.execute(_translated(sql, placeholders=False))
        return Cursor(cursor)

    def _has_table(self, name: str) -> bool:
        found = self.raw.execute(
            "SELECT 1 FROM pg_catalog.pg_class AS c JOIN pg_catalog.pg_namespace AS n "
            "ON n.oid = c.relnamespace WHERE c.relname = %s AND n.nspname = current_schema()",
            (name,)).fetchone()
        return found is not None

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        cursor = self.raw.cursor()
        cursor.executemany(_translated(sql), [tuple(r) for r in rows])
        return Cursor(cursor)

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Bulk-load ``rows`` into ``table`` with ``COPY … FROM STDIN`` (inside the caller's
        transaction); returns the number of rows."""
        count = 0
        with self.raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, timeout_s: int = 10) -> Connection:
    """Open the PostgreSQL database ``url`` in autocommit mode.

    Raises the driver's ``psycopg.Error`` if the server cannot be reached or refuses the
    login; the caller turns it into its own error with :func:`describe`.
    """
    psycopg = _driver()
    raw = psycopg.connect(url, autocommit=True, connect_timeout=timeout_s)
    raw.adapters.register_loader("numeric", _whole_numbers(psycopg))
    return Connection(raw, url)


@functools.cache
def _whole_numbers(psycopg: Any) -> type:
    from psycopg.types.numeric import NumericLoader

    class WholeNumberLoader(NumericLoader):  # type: ignore[misc]
        """``numeric`` as ``int`` when whole (sums of bigint), else as ``Decimal``."""

        def load(self, data: Any) -> int | Decimal:
            value = super().load(data)
            if value.is_finite() and value == value.to_integral_value():
                return int(value)
            return value

    return WholeNumberLoader


def _special(sql: str) -> list[tuple[str, tuple[Any, ...] | None]] | None:
    """The statements standing for an SQLite-only statement, or None for a plain one."""
    text = sql.strip().rstrip(";").strip()
    upper = text.upper()
    if upper == "BEGIN IMMEDIATE":
        # after the lock, a first relation lock makes the server read the catalog changes
        # committed while we waited (a table another writer just created), which taking an
        # advisory lock alone does not
        return [("BEGIN ISOLATION LEVEL READ COMMITTED", None),
                ("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,)),
                ("SELECT 1 FROM pg_catalog.pg_namespace WHERE false", None)]
    if upper in ("BEGIN", "BEGIN DEFERRED"):
        return [("BEGIN ISOLATION LEVEL REPEATABLE READ", None)]
    found = _TABLE_INFO.match(text)
    if found:
        return [(_TABLE_INFO_SQL, (found.group(1),))]
    return None


@functools.lru_cache(maxsize=512)
def _translated(sql: str, *, placeholders: bool = True) -> str:
    """``sql`` in PostgreSQL's dialect: ``?`` → ``%s``, ``%`` → ``%%``, sqlite_master.

    Quoted text ('…' and "…") is copied unchanged but for the doubled ``%``.
    """
    out: list[str] = []
    quote: str | None = None
    for ch in sql:
        if quote is not None:
            if ch == quote:
                quote = None
            out.append("%%" if ch == "%" and placeholders else ch)
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?" and placeholders:
            out.append("%s")
        elif ch == "%" and placeholders:
            out.append("%%")
        else:
            out.append(ch)
    text = "".join(out)
    if _CREATE_TABLE.match(text):
        for pattern, replacement in _DDL:
            text = pattern.sub(replacement, text)
    text = _OR_REPLACE.sub("INSERT INTO", text)
    text = re.sub(r"\browid\b", "ctid", text)
    text = _TEMP_INDEX.sub("CREATE INDEX ", text)
    text = _TEMP.sub("pg_temp.", text)
    text = _UNICODE.sub("ascii(", text)
    return re.sub(r"\bsqlite_master\b", _MASTER, text)


_CREATE_IF_MISSING = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+(\w+)",
                                re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TABLE\b", re.IGNORECASE)
_TEMP_INDEX = re.compile(r"\bCREATE\s+INDEX\s+temp\.", re.IGNORECASE)
_TEMP = re.compile(r"(?<![\w.])temp\.(?=\w)")
_UNICODE = re.compile(r"\bunicode\(", re.IGNORECASE)
_OR_REPLACE = re.compile(r"\bINSERT\s+OR\s+REPLACE\s+INTO\b", re.IGNORECASE)
_DDL = (
    (re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE),
     "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bTEXT\b(?!\s+COLLATE)", re.IGNORECASE), 'TEXT COLLATE "C"'),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
    (re.compile(r"\)\s*STRICT\s*(,\s*WITHOUT\s+ROWID\s*)?$", re.IGNORECASE), ")"),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\s*$", re.IGNORECASE), ")"),
)
