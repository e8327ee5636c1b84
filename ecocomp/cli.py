"""The ``ecocomp`` command: a thin face over the Python API, one command per function.

User mistakes print one clear line per problem on stderr and exit with status 1 (2 for
usage errors, as click does); no traceback. ``--json`` prints the same data the API returns.
Every name, code, reference and message printed as text goes through ``_t``
(:func:`ecocomp.outputs.terminal_text`), so control and ANSI escape sequences in the data
are shown escaped and never act on the terminal.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click

from ecocomp import postgres
from ecocomp.errors import EcocompError, InputError
from ecocomp.formatting import format_wan, format_yuan_grouped, parse_amount, parse_day
from ecocomp.i18n import LANGS, amount_texts, daxie_line, default_lang, message, named
from ecocomp.outputs import terminal_text as _t
from ecocomp.postgres import is_url

F = TypeVar("F", bound=Callable[..., Any])

YEAR = click.IntRange(1900, 2999)
EXAMPLE = "hunan-2021"
EXAMPLE_YEAR = 2021
#: The bundled air example (`ecocomp demo --air`): 湖南's 14 市州, synthetic city-day data.
AIR_EXAMPLE = "hunan-air-2021"
#: The project id `ecocomp demo` settles under: what marks a file as a demo database.
DEMO_ID = "ecocomp-demo"


def _fail(message: str) -> None:
    for line in map(_t, postgres.scrubbed(message).splitlines()):
        click.echo(f"error: {line}" if not line.startswith(("...", " ")) else line, err=True)
    sys.exit(1)


def friendly(func: F) -> F:
    """Turn ecocomp's errors into one line per problem and exit status 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EcocompError as exc:
            problems = getattr(exc, "problems", None)
            if problems and len(problems) == 1:
                _fail(str(problems[0]))
            if problems and len(problems) > 1:
                click.echo(f"error: {len(problems)} problem(s); nothing was written:", err=True)
                for p in problems:
                    click.echo(f"  {postgres.scrubbed(_t(p))}", err=True)
                sys.exit(1)
            _fail(str(exc))
        except sqlite3.Error as exc:
            from ecocomp.database import describe

            _fail(describe(exc, kwargs.get("db")))
        except BrokenPipeError:  # output piped into head, less, ...
            sys.stderr.close()
            sys.exit(0)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}")
        except Exception as exc:  # psycopg's, told as sqlite3's are (without importing it)
            if not type(exc).__module__.startswith("psycopg"):
                raise
            db = kwargs.get("db")
            _fail(postgres.describe(exc, str(db) if db else "the PostgreSQL database"))

    return wrapper  # type: ignore[return-value]


def _print_json(data: object) -> None:
    click.echo(_json_for_console(json.dumps(data, ensure_ascii=False, indent=2, default=str)))


#: Rows between two updates of the import count on a terminal.
_PROGRESS_STEP = 20_000


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """A display that moves, on stderr when it is a terminal: the rows imported so far per
    readings file, then each stage of the run (``progress(stage, -1)``). Silent otherwise."""
    if not enabled or not _stderr_is_terminal():
        yield None
        return
    shown: dict[str, int] = {}  # the count last shown per file
    width = 0

    def show(text: str) -> None:
        nonlocal width
        click.echo("\r" + text.ljust(width), err=True, nl=False)
        width = len(text)

    def report(what: str, rows: int) -> None:
        if rows < 0:
            show(f"{what}…")
        elif rows == 0 or rows - shown.get(what, 0) >= _PROGRESS_STEP:
            show(f"importing {Path(what).name}: {rows:,} rows")
            shown[what] = rows

    try:
        yield report
    finally:
        if width:
            click.echo("\r" + " " * width + "\r", err=True, nl=False)


def _import_lines(imports: Sequence[Mapping[str, Any]]) -> None:
    """After a run: one line per file, saying what it added (stderr)."""
    for item in imports:
        name = Path(item["file"]).name
        added = [f"{item[k]:,} {w}" for k, w in (("inserted", "new"), ("corrected", "corrected"))
                 if item.get(k)]
        what = ", ".join(added) if added else "nothing new"
        click.echo(f"imported {_t(name)}: {item['rows']:,} rows, {what}", err=True)


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Left-justify by terminal columns, so tables with Chinese names line up."""
    return text + " " * max(0, width - _width(text))


def _rjust(text: str, width: int) -> str:
    """Right-justify by terminal columns (headings with Chinese above numbers)."""
    return " " * max(0, width - _width(text)) + text


# --------------------------------------------------------------------------- consoles, language

_CONSOLE_ERRORS = "ecocomp.console"


def _console_replace(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: a character the console cannot show becomes its plain form.

    ``m³/s`` becomes ``m3/s`` on a GBK console (NFKC compatibility form), anything else
    without an encodable form a visible escape (``\\u2603``); output never crashes.
    """
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for ch in exc.object[exc.start:exc.end]:
        plain = unicodedata.normalize("NFKC", ch)
        try:
            plain.encode(exc.encoding)
        except (UnicodeEncodeError, LookupError):
            plain = ch.encode("ascii", "backslashreplace").decode("ascii")
        out.append(plain)
    return "".join(out), exc.end


codecs.register_error(_CONSOLE_ERRORS, _console_replace)


def _is_unicode(encoding: str | None) -> bool:
    return (encoding or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def _console_safe() -> None:
    """Make stdout and stderr replace what their encoding (GBK, cp936, ...) cannot encode."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and not _is_unicode(encoding):
            try:
                reconfigure(errors=_CONSOLE_ERRORS)
            except (ValueError, OSError):  # a closed or unusual stream: leave it
                pass


def _json_for_console(text: str) -> str:
    """JSON text with each character stdout cannot encode written as a JSON ``\\u`` escape.

    The data stay exact (``"m\\u00b3/s"`` reads back as ``m³/s``) on a GBK console or pipe.
    Outside strings JSON is ASCII, so only string contents are ever escaped.
    """
    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    if _is_unicode(encoding):
        return text
    try:
        text.encode(encoding)
        return text
    except (UnicodeEncodeError, LookupError):
        pass

    def escape(ch: str) -> str:
        try:
            ch.encode(encoding)
            return ch
        except (UnicodeEncodeError, LookupError):
            return json.dumps(ch)[1:-1]  # \uXXXX (a surrogate pair beyond the BMP)

    return "".join(escape(ch) if ord(ch) > 127 else ch for ch in text)


def _lang() -> str:
    """The output language: ``--lang``, else ECOCOMP_LANG, else the locale."""
    ctx = click.get_current_context(silent=True)
    chosen = ctx.meta.get("ecocomp.lang") if ctx is not None else None
    return chosen or default_lang(os.environ)


def _party_names(db: Path | None) -> Callable[[str], str]:
    """Code -> name from the database's catalog (codes as they are when there is none)."""
    from ecocomp.catalog import load_catalog

    if db is not None and (is_url(str(db)) or Path(db).is_file()):
        try:
            return load_catalog(db).party_name
        except (EcocompError, sqlite3.Error):  # nothing settled in it yet: show the codes
            pass
    return str


def _party_code(db: Path, text: str) -> str:
    """A party named by code, full name or a unique part of its name -> its code."""
    from ecocomp.catalog import find_party, load_catalog

    try:
        catalog = load_catalog(db)
    except EcocompError:  # nothing settled yet: the command says so itself
        return text
    try:
        return find_party(catalog, text, where=str(db))
    except EcocompError:
        # a code no longer in parties.toml (changed or removed) whose money the ledger holds
        from ecocomp.ledger import Ledger

        code = unicodedata.normalize("NFKC", text).strip()
        with Ledger.open(db, create=False) as ledger:
            if code and ledger.transactions(party=code):
                return code
        raise


class _Day(click.ParamType):
    """A date as people write it: 2022-04-20, 2022/04/20, 2022-4-20, 2022年4月20日."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        from datetime import datetime

        if isinstance(value, datetime):
            return value
        try:
            day = parse_day(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return datetime(day.year, day.month, day.day)  # .date() as with click.DateTime

    def get_metavar(self, param: click.Parameter, *args: Any, **kwargs: Any) -> str:
        return "DATE"


#: Dates in options: what click.DateTime gave, accepting the ways people write them.
DAY = _Day()


class _Ecocomp(click.Group):
    """The ``ecocomp`` group: output that survives any console encoding."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _console_safe()
        return super().main(*args, **kwargs)


@click.group(cls=_Ecocomp, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ecocomp")
@click.option("--lang", type=click.Choice(LANGS), default=None,
              help="Language of summaries, statements and headings (zh: 中文, en: English); "
                   "default: $ECOCOMP_LANG, else zh when the locale (LC_ALL, LC_MESSAGES, "
                   "LANG) is Chinese, else en. Error messages are in English.")
@click.pass_context
def main(ctx: click.Context, lang: str | None) -> None:
    """Settle watershed ecological compensation (流域生态保护补偿) exactly and auditably."""
    ctx.meta["ecocomp.lang"] = lang or default_lang(os.environ)


@main.command()
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Also compare with the readings imported into this SQLite "
                                 "file (files since removed from the project).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {project, ok, problems, warnings} as JSON (exit status as without).")
@friendly
def check(project: Path, db: Path | None, as_json: bool = False) -> None:
    """Validate every input file of PROJECT and list all problems at once."""
    from ecocomp.identity import identity_problems
    from ecocomp.project import check_project, load_project
    from ecocomp.settlement import import_problems

    warnings: list[Any] = []
    problems = check_project(project, warnings=warnings)
    problems += identity_problems(project)  # the optional project.toml
    if not problems:  # each file is valid: are they also consistent with each other?
        loaded = load_project(project)
        problems = import_problems(loaded)
        if db is not None:
            warnings += _missing_in(loaded, db)
    if as_json:
        _print_json({"project": str(project), "ok": not problems,
                     "problems": [str(p) for p in problems],
                     "warnings": [str(w) for w in warnings]})
        sys.exit(1 if problems else 0)
    for w in warnings:
        click.echo(f"warning: {_t(w)}", err=True)
    if problems:
        click.echo(f"error: {len(problems)} problem(s) in {project}:", err=True)
        for p in problems:
            click.echo(f"  {_t(p)}", err=True)
        sys.exit(1)
    click.echo(message("check.ok", _lang(), project=project))


def _head_options(func: F) -> F:
    """``--head-out`` and ``--signing-key``: the options of every command that checkpoints."""
    func = click.option(
        "--signing-key", type=click.Path(dir_okay=False, path_type=Path),
        envvar="ECOCOMP_SIGNING_KEY", default=None,
        help="Sign the checkpoint with this Ed25519 private key (from `ecocomp ledger "
             "keygen`); default: $ECOCOMP_SIGNING_KEY.")(func)
    return click.option(
        "--head-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="Also write the new head (checkpoint) as JSON to this file, to keep outside "
             "the database.")(func)


def _signer(path: Path | None) -> Any:
    if path is None:
        return None
    from ecocomp.ledger import Signer

    return Signer.load(path)


def _write_head(head: Any, path: Path) -> None:
    from ecocomp.outputs import replaced

    if str(path) == "-":  # stdout, as sqlite-utils and hledger read "-"
        click.echo(json.dumps(head.to_json(), indent=2))
        return

    with replaced(path, encoding="utf-8") as out:
        out.write(json.dumps(head.to_json(), indent=2) + "\n")


@main.command()
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--year", type=YEAR, required=True, help="The year to settle.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="SQLite file holding readings and the ledger (created if missing), or a "
                   "postgresql:// URL (docs/postgres.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--dry-run", is_flag=True,
              help="Preview: compute and show what a run would post or adjust in --db; "
                   "write nothing.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--cascade", is_flag=True,
              help="Also re-settle the later settled years that read YEAR's readings "
                   "(improvement vs last year), in the same all-or-nothing run.")
@click.option("--same-project", is_flag=True,
              help="Accept PROJECT although --db was recorded for a project with another "
                   "identity (project.toml id, agreement ids); records the new identity.")
@_head_options
@click.option("--daxie", is_flag=True,
              help="Also write each net in 人民币大写 (capital numerals, as on payment orders).")
@friendly
def settle(project: Path, year: int, db: Path, as_json: bool, dry_run: bool, quiet: bool,
           cascade: bool, same_project: bool, head_out: Path | None,
           signing_key: Path | None, daxie: bool = False) -> None:
    """Import, assess, compute and post one YEAR of PROJECT (idempotent)."""
    if as_json and head_out is not None and str(head_out) == "-":
        raise InputError("--json already prints the result (with its head) on stdout; write "
                         "the head to a file with --head-out FILE, or leave out --json",
                         field="--head-out")
    if dry_run and head_out is not None:
        raise InputError("a dry run makes no checkpoint, so there is no head to write; drop "
                         "--head-out or --dry-run", field="--head-out")
    signer = _signer(signing_key) if not dry_run else None
    result = _settle(project, year, db, dry_run=dry_run, progress=not (quiet or as_json),
                     signer=signer, cascade=cascade, same_project=same_project)
    if head_out is not None and result.head is not None:
        _write_head(result.head, head_out)
    if as_json:
        _print_json(result.to_json())
    else:
        _summary(result, db, daxie=daxie)
        for later in result.cascaded:
            _summary(later, db, daxie=daxie)
        if result.head is not None:
            click.echo(result.head.describe())
    _stale_warnings(result, project, db)


def _stale_warnings(result: Any, project: Path, db: Path) -> None:
    """One warning per later settled year that no longer matches the readings (stderr)."""
    for later in result.stale:
        click.echo(
            f"warning: {later.year} is stale: it reads {result.year}'s readings (improvement "
            f"vs last year), which changed after it was settled; settling it again would post "
            f"{later.posted} and adjust "
            f"{later.adjusted}; run `ecocomp settle {project} --year {result.year} --db {db} "
            "--cascade` to bring it up to date", err=True)


def _missing_in(project: Any, db: Path) -> list[Any]:
    """Files imported into ``db`` that are no longer in ``project`` (read without writing)."""
    from ecocomp.database import open_read_only
    from ecocomp.settlement import missing_files
    from ecocomp.store import ReadingStore

    if ReadingStore.version_in(db) == 0:
        return []
    store = ReadingStore(open_read_only(db), str(db))
    try:
        return missing_files(project, store, db)
    finally:
        store.close()


def _holds_ledger(url: str) -> bool:
    """Whether the PostgreSQL database ``url`` holds a ledger yet (as a file that exists)."""
    from ecocomp import postgres
    from ecocomp.ledger import LedgerError
    from ecocomp.ledger.postgres import schema_version

    try:
        conn = postgres.connect(url)
    except EcocompError:
        raise
    except Exception as exc:  # the driver's errors, in plain words
        raise LedgerError(f"cannot open ledger: {postgres.describe(exc, url)}") from None
    try:
        return schema_version(conn) > 0
    finally:
        conn.close()


def _settle(project_path: Path, year: int, db: Path, *, dry_run: bool, progress: bool,
            signer: Any = None, cascade: bool = False, same_project: bool = False) -> Any:
    from ecocomp.ledger import Ledger
    from ecocomp.project import load_project
    from ecocomp.settlement import RUN_LOCK_WAIT_MS, require_in_force
    from ecocomp.settlement import settle as run

    project = load_project(project_path)
    url = is_url(str(db))  # PostgreSQL: readings, ledger and catalog in that database
    new = not _holds_ledger(str(db)) if url else not db.exists()
    if new:
        if not url and not db.absolute().parent.is_dir():
            raise EcocompError(f"{db}: the folder {db.absolute().parent} does not exist; "
                               "create it or choose another path")
        require_in_force(project, year)  # before the file is created: no empty file left
    with _progress(progress) as report:
        if new and dry_run:  # nothing settled yet: compute only
            result = run(project, year=year, dry_run=True, progress=report)
        else:
            with Ledger.open(str(db) if url else db, create=not dry_run,
                             busy_timeout_ms=RUN_LOCK_WAIT_MS) as ledger:
                result = run(project, year=year, ledger=ledger, dry_run=dry_run,
                             progress=report, signer=signer, cascade=cascade,
                             same_project=same_project)
    if progress:
        _import_lines(result.imports)
    for warning in result.warnings:
        click.echo(f"warning: {_t(warning)}", err=True)
    return result


def _summary(result: Any, db: Path | None, *, daxie: bool = False) -> None:
    lang = _lang()
    names = _party_names(db)
    paid = [o for o in result.obligations if o.amount > 0]
    click.echo(message("summary.head", lang, year=result.year,
                       obligations=len(result.obligations), paid=len(paid),
                       nets=len(result.nets)))
    for net in result.nets:
        click.echo(_t(message("summary.net", lang, agreement=net.agreement,
                              payer=named(net.payer, names, lang),
                              payee=named(net.payee, names, lang), due=net.due,
                              **amount_texts(net.amount))))
        if daxie:
            click.echo(daxie_line(net.amount, lang))
    counts = {"posted": result.posted, "unchanged": result.unchanged,
              "adjusted": result.adjusted}
    click.echo(message("summary.dry" if result.dry_run else "summary.ledger", lang, **counts))
    key = "summary.would_adjust" if result.dry_run else "summary.adjusted"
    for change in result.changes:
        click.echo(_t(message(key, lang, corrects=change.corrects, reason=change.reason)))


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("ecocomp-demo.db"), show_default=True,
              help="Where to write the demo's SQLite file.")
@click.option("--report", "report_path", type=click.Path(path_type=Path),
              default=None, help="Also write a report (.html, .xlsx, .zip of CSV tables or a "
                                 "folder of them).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {settlement, verify, db, report} as JSON instead of the summary.")
@click.option("--air", is_flag=True,
              help="Settle the bundled air example instead: 湖南's 14 市州 under the 2019 air "
                   "rewards, with synthetic city-day data (default --db ecocomp-air-demo.db).")
@friendly
def demo(db: Path, report_path: Path | None, as_json: bool = False, air: bool = False) -> None:
    """Settle the bundled example year (湘江 chain, 渌水, 酉水, 澧水) end to end."""
    from ecocomp.packagedata import data_folder, example_module

    example = AIR_EXAMPLE if air else EXAMPLE
    if air and db == Path("ecocomp-demo.db"):
        db = Path("ecocomp-air-demo.db")
    source = data_folder("examples").joinpath(example)
    _require_demo_file(db)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / example
        with resources.as_file(source) as folder:
            shutil.copytree(folder, project)
        if air:  # the example ships without its (large) synthetic data: generate it
            example_module("air_synth").generate(project)
        # the demo's own identity marks the files it creates (and may write into again)
        (project / "project.toml").write_text(f'id = "{DEMO_ID}"\n', encoding="utf-8")
        click.echo(f"Bundled example: {example} (settling {EXAMPLE_YEAR} into {db})"
                   + (" — synthetic air data" if air else ""), err=as_json)
        result = _settle(project, EXAMPLE_YEAR, db, dry_run=False, progress=not as_json)
    if not as_json:
        _summary(result, db)
        if result.head is not None:
            click.echo(result.head.describe())
    from ecocomp.ledger import Ledger

    with Ledger.open(db) as ledger:
        report = ledger.verify()
    if not as_json:
        click.echo(f"ledger verify: {'OK' if report.ok else 'FAILED'} ({report.count} "
                   "transactions)")
    if report_path is not None:
        from ecocomp.reports import write_report

        write_report(db, EXAMPLE_YEAR, report_path)
        click.echo(f"report written to {report_path}", err=as_json)
    if as_json:
        _print_json({"db": str(db), "settlement": result.to_json(),
                     "verify": {"ok": report.ok, "count": report.count},
                     "report": str(report_path) if report_path is not None else None})
        return
    click.echo(f"Next: ecocomp statement {'430800' if air else '430700'} --db {db} "
               f"--year {EXAMPLE_YEAR}")


def _require_demo_file(db: Path) -> None:
    """Refuse to settle the demo into an existing file that a demo did not create."""
    from ecocomp.identity import recorded_identity

    if not db.exists():
        return
    found = recorded_identity(db)
    if found is None or found.id != DEMO_ID:
        raise EcocompError(
            f"{db} already exists and was not created by `ecocomp demo`; the demo will not "
            "settle the example into it. Choose another file with --db (or delete this one "
            "if it is an old demo database)")


@main.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--year", type=YEAR, required=True)
@click.option("--json", "as_json", is_flag=True)
@friendly
def assess(db: Path, year: int, as_json: bool) -> None:
    """Monthly class table per section for YEAR, from the readings in DB."""
    from ecocomp.reports import class_table

    table = class_table(db, year)
    if not any(c for r in table.rows for c in (*r.months, r.year)):
        raise EcocompError(f"{db}: no readings for {year} in any of its {len(table.rows)} "
                           f"section(s); import the year's readings with `ecocomp settle "
                           f"PROJECT --year {year} --db {db}`, or check --year")
    if as_json:
        _print_json(table.to_json())
        return
    lang = _lang()
    section, name = message("col.section", lang), message("col.name", lang)
    width = max([_width(section)] + [_width(_t(r.section)) for r in table.rows]) + 2
    names = max([4] + [_width(_t(r.label)) for r in table.rows]) + 2
    months = [f"{m:02d}" for m in range(1, 13)] + [str(year)]
    click.echo(_pad(section, width) + _pad(name, names) + " ".join(_pad(m, 4) for m in months))
    for row in table.rows:
        cells = [c.roman if c else "—" for c in (*row.months, row.year)]
        line = _pad(_t(row.section), width) + _pad(_t(row.label), names)
        click.echo((line + " ".join(_pad(c, 4) for c in cells)).rstrip())


@main.group()
def readings() -> None:
    """Readings stored in a database."""


@readings.command("forget")
@click.argument("file")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The SQLite file (or postgresql:// URL) the readings were "
                                  "imported into.")
@friendly
def readings_forget(file: str, db: Path) -> None:
    """Remove the readings imported from FILE (deleted from the project on purpose).

    A value FILE corrected is restored. Settle the affected years again afterwards: their
    obligations are recomputed without FILE's readings (and adjusted in the ledger).
    """
    from ecocomp.store import ReadingStore

    if ReadingStore.version_in(db) == 0:
        raise EcocompError(f"{db} holds no readings; check the --db path")
    from ecocomp.settlement import readings_by_year

    with ReadingStore.open(db) as store:
        before = readings_by_year(store)
        removed = store.forget(file)
        after = readings_by_year(store)
    years = sorted({y for y in {*before, *after} if before.get(y) != after.get(y)})
    which = (" and ".join([", ".join(years[:-1]), years[-1]] if len(years) > 1 else years)
             if years else "the affected years")
    click.echo(f"forgot {file}: {removed:,} readings removed from {store.path}; settle "
               f"{which} again to recompute them (--cascade also re-settles a later year "
               "that compares with one of them)")


@main.group()
def air() -> None:
    """Air quality (大气): import station and city-day readings, show AQI statistics."""


@air.command("import")
@click.argument("project", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The SQLite file to import into (the project database).")
@click.option("--json", "as_json", is_flag=True, help="Print the import results as JSON.")
@friendly
def air_import(project: Path, db: Path, as_json: bool) -> None:
    """Import PROJECT's air_stations.toml and air-readings/ into DB, all files or none."""
    from ecocomp.air import import_project_air
    from ecocomp.watershed import load_parties

    parties = project / "parties.toml"
    cities = ({code: p.name for code, p in load_parties(parties).items()}
              if parties.is_file() else None)
    results = import_project_air(project, db, cities=cities)
    if as_json:
        _print_json([{"file": r.file, "rows": r.rows, "inserted": r.inserted,
                      "unchanged": r.unchanged, "skipped": r.skipped} for r in results])
        return
    if not results:
        click.echo(f"no air readings files in {_t(str(project / 'air-readings'))}")
    for r in results:
        what = ("already imported (same bytes)" if r.skipped
                else f"{r.inserted:,} new, {r.unchanged:,} unchanged of {r.rows:,} values")
        click.echo(f"{_t(r.file)}: {what}")


_AIR_COLUMNS = ("pm25", "pm10", "so2", "no2", "co_p95", "o3_8h_p90", "good_days",
                "valid_days", "good_ratio", "heavy_days", "composite_index")


@air.command("aqi")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The SQLite file the air readings were imported into.")
@click.option("--year", type=YEAR, required=True, help="The year to assess.")
@click.option("--city", multiple=True, help="A city's party code (repeatable; default: all).")
@click.option("--periods", type=click.Choice(["year", "quarter", "month"]), default="year",
              show_default=True, help="Statistics per year, quarter or month.")
@click.option("--standard", default="by_date", show_default=True,
              help="GB3095-2012, GB3095-2026, or by_date (in force at each period's end).")
@click.option("--round-concentrations", "rounding",
              type=click.Choice(["none", "half_even", "half_up"]), default="none",
              show_default=True,
              help="修约 of the concentrations at the HJ 663 places, as an agreement's "
                   "`round_concentrations`: half_even (四舍六入五成双), half_up (四舍五入), "
                   "none (exact).")
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@friendly
def air_aqi(db: Path, year: int, city: tuple[str, ...], periods: str, standard: str,
            rounding: str, as_json: bool) -> None:
    """Air statistics of YEAR per city: means, CO p95, O3-8h p90, good days, 综合指数."""
    from ecocomp.air import assess_air

    found = assess_air(db, year=year, periods=periods, standard=standard,
                       cities=city or None, years_back=0,
                       round_concentrations=rounding)  # type: ignore[arg-type]
    if not found.statistics:
        raise EcocompError(f"{db}: no air values for {year}"
                           + (f" for {', '.join(city)}" if city else "")
                           + "; import them with `ecocomp air import PROJECT --db DB`")
    absent = [c for c in dict.fromkeys(city) if c not in found.daily]
    if absent:  # a mistyped code would be left out of the table without a word
        raise EcocompError(f"{db}: no air values for {', '.join(absent)} in {year} (cities with "
                           f"values: {', '.join(sorted(found.daily))}); check the party code")
    rows = sorted(found.statistics.values(), key=lambda s: (s.city, s.period.start))
    if as_json:
        _print_json([{"city": s.city, "period": str(s.period), "standard": s.standard,
                      "values": {k: str(v) for k, v in s.values.items()},
                      "valid": dict(s.valid), "evidence": dict(s.evidence)} for s in rows])
        return
    head = ["city", "period", *_AIR_COLUMNS]
    table = [[_t(s.city), str(s.period)] + [
        (str(s.values[c]) + ("" if s.valid.get(c, False) else "*")) if c in s.values else "—"
        for c in _AIR_COLUMNS] for s in rows]
    widths = [max(_width(r[i]) for r in [head, *table]) for i in range(len(head))]
    for r in [head, *table]:
        click.echo("  ".join(_pad(cell, w) for cell, w in zip(r, widths, strict=True)).rstrip())
    click.echo(f"standard: {rows[0].standard}; * = not valid under HJ 663 (too few days)"
               + (f"; concentrations rounded {rounding}" if rounding != "none" else ""))


@main.group()
def ledger() -> None:
    """Inspect and verify the settlement ledger."""


@ledger.command("verify")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The database (optional only to check a receipt's "
                                 "signature offline).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--against", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A head kept outside the database (--head-out file, `ledger "
                                 "head --json` output or a statement with its receipt): prove "
                                 "the ledger still extends it.")
@click.option("--seq", type=click.IntRange(min=1), default=None,
              help="With --root: the size of a head you hold.")
@click.option("--root", default=None, help="With --seq: the Merkle root of a head you hold.")
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The operator's public key (.pub from `ledger keygen`): "
                                 "the head and the latest checkpoint must be signed with it.")
@click.option("--quick", is_flag=True,
              help="PRAGMA quick_check instead of integrity_check (does not compare indexes "
                   "with their tables).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Check the transactions in this many processes.")
@click.option("--with-readings", is_flag=True,
              help="Then also re-derive the stored monthly sums and every settlement's "
                   "inputs digest from the stored raw readings.")
@friendly
def ledger_verify(db: Path | None, as_json: bool, against: Path | None, seq: int | None,
                  root: str | None, public_key: Path | None, quick: bool, jobs: int,
                  with_readings: bool) -> None:
    """Check the schema, the file and every hash, field and checkpoint; exit 1 on a problem.

    Opens DB read-only and never writes to it (read-only media and copies work).
    """
    from ecocomp.ledger import Ledger
    from ecocomp.ledger.checkpoints import catalog_checked
    from ecocomp.ledger.verify import verify_file

    held = _held_head(against, seq, root)
    if db is None:
        _verify_receipt_offline(held, public_key, as_json)
        return
    unchecked: list[str] = []
    if is_url(str(db)):  # PostgreSQL: the server's own file checks are pg_amcheck's
        opening, report = Ledger.open(str(db), create=False), None
        unchecked.append(_PG_STORAGE_UNCHECKED)
    else:
        report = verify_file(db, quick=quick, jobs=jobs)
        opening = Ledger.open_read_only(db)
    with opening as opened:
        report = (catalog_checked(opened.connection, report) if report is not None
                  else _verify_postgres(opened.connection, jobs))
        check = _held_check(opened, held, seq, root, public_key) if report.ok else None
        unvouched, checkpoints = opened.unvouched(), len(opened.checkpoints())
    tail = _tail_problem(unvouched, checkpoints, report.count, db) if check is None else None
    ledger_ok = report.ok and (check.ok if check is not None
                               else not (tail or "").startswith("error"))
    if as_json:
        # "ok" is the verdict the exit status gives: an unvouched tail or a held head the
        # ledger no longer extends fails it although every row checks
        data = {"ok": ledger_ok, "count": report.count,
                "first_bad_seq": report.first_bad_seq, "reason": report.reason,
                "checkpoints": report.checkpoints, "problems": list(report.problems),
                "schema_version": report.schema_version,
                "tx2_from_seq": report.tx2_from_seq, "quick": report.quick,
                "scan": report.scan, "unchecked": unchecked}
        data["unvouched"] = unvouched
        data["tail"] = tail
        if check is not None:
            data["against"] = check.to_json()
        if with_readings and ledger_ok:  # one JSON document with both parts
            _verify_readings(db, True, data)
            return
        _print_json(data)
    elif ledger_ok:
        for line in unchecked:
            click.echo(f"note: {line}", err=True)
        click.echo(f"OK: {report.count} transactions, chain and checkpoints verified"
                   + (" (--quick: the indexes were not compared with their tables; run "
                      "without --quick before trusting lookups by key or agreement)"
                      if report.quick else ""))
    if not report.ok:
        if not as_json:
            shown = list(report.problems[:_MAX_PROBLEM_LINES]) or [
                f"transaction #{report.first_bad_seq}: {report.reason}"]
            first_tx = next((p for p in report.problems if p.startswith("transaction #")), None)
            if first_tx is not None and first_tx not in shown:
                shown.append(first_tx)
            for line in shown:
                click.echo(f"error: {line}", err=True)
            if len(report.problems) > len(shown):
                click.echo(f"error: … and {len(report.problems) - len(shown)} more problems "
                           "(--json lists them all)", err=True)
        sys.exit(1)
    _report_held(check, tail, as_json)
    if with_readings and not as_json:
        _verify_readings(db, False, {})


_MAX_PROBLEM_LINES = 10


def _verify_postgres(conn: Any, jobs: int) -> Any:
    """Verify a PostgreSQL ledger and its catalog digest in one snapshot, the scan split
    over ``jobs`` processes that share it."""
    from ecocomp.ledger import postgres as pg_ledger
    from ecocomp.ledger.checkpoints import catalog_checked

    conn.execute("BEGIN")
    try:
        return catalog_checked(conn, pg_ledger.verify_ledger(conn, jobs=jobs))
    finally:
        conn.execute("COMMIT")


def _held_head(against: Path | None, seq: int | None, root: str | None) -> Any:
    """The head given to ``ledger verify`` (--against, or --seq and --root), or None."""
    from ecocomp.ledger import LedgerHead

    if against is not None and (seq is not None or root is not None):
        raise InputError("give either --against or --seq with --root, not both",
                         field="--against")
    if (seq is None) != (root is None):
        raise InputError("--seq and --root go together: the size and the Merkle root of a "
                         "head you hold", field="--seq")
    if against is None:
        return None
    try:
        record = json.loads(against.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{against}: cannot read a JSON head ({exc})",
                         field="--against") from exc
    if not isinstance(record, dict):
        raise InputError(f"{against}: not a JSON object", field="--against")
    return LedgerHead.from_json(record, where=str(against))


def _held_check(opened: Any, held: Any, seq: int | None, root: str | None,
                public_key: Path | None) -> Any:
    from ecocomp.ledger import load_public_key

    key = load_public_key(public_key) if public_key is not None else None
    if held is not None:
        return opened.verify_against(held, public_key=key)
    if seq is not None and root is not None:
        return opened.verify_against(seq=seq, root=root.strip().lower(), public_key=key)
    if key is not None:  # no held head: the ledger's own signed checkpoints, from seq 0
        from ecocomp.ledger import EMPTY_ROOT

        return opened.verify_against(seq=0, root=EMPTY_ROOT.hex(), public_key=key)
    return None


def _tail_problem(unvouched: int, checkpoints: int, count: int, db: Path) -> str | None:
    """What to say about transactions after the latest checkpoint (None: nothing)."""
    if not count:
        return None
    if not checkpoints:
        return (f"warning: no checkpoint yet: nothing vouches for the {count} transactions "
                f"beyond the chain itself; run `ecocomp ledger checkpoint --db {db}` and keep "
                "the head outside the file")
    if unvouched:
        return (f"error: transactions #{count - unvouched + 1}..#{count} come after the latest "
                "checkpoint and nothing vouches for them: ecocomp's settle and pay checkpoint "
                "every post, so they were written some other way (a program calling "
                "Ledger.post, or someone writing the file); if they are yours, run `ecocomp "
                f"ledger checkpoint --db {db}`, otherwise restore the file from a backup")
    return None


def _report_held(check: Any, tail: str | None, as_json: bool) -> None:
    if check is not None:
        if not as_json:
            for problem in check.problems:
                click.echo(f"error: {problem}", err=True)
            if check.ok and check.held_seq:
                click.echo(f"OK: the ledger extends the held head #{check.held_seq} "
                           f"(now #{check.count}, root {check.root})")
            elif check.ok:
                click.echo(f"OK: checkpoint #{check.latest_checkpoint} is signed with the "
                           f"given key and covers all {check.count} transactions")
        if not check.ok:
            sys.exit(1)
        return
    if tail is not None:
        if not as_json:
            click.echo(tail, err=True)
        if tail.startswith("error"):
            sys.exit(1)


def _verify_receipt_offline(held: Any, public_key: Path | None, as_json: bool) -> None:
    """``ledger verify --against RECEIPT --public-key KEY`` without --db: the signature."""
    from ecocomp.ledger import load_public_key
    from ecocomp.ledger.checkpoints import verify_head_signature

    if held is None or public_key is None:
        raise InputError("give --db (the database to verify), or --against with --public-key "
                         "to check a receipt's signature offline", field="--db")
    why = verify_head_signature(held, load_public_key(public_key))
    if as_json:
        _print_json({"ok": why is None, "seq": held.seq, "root": held.root,
                     "key_id": held.key_id, "reason": why})
    elif why is None:
        click.echo(f"OK: checkpoint #{held.number} (#{held.seq}, root {held.root}) is signed "
                   f"by key {held.key_id}")
    if why is not None:
        if not as_json:
            click.echo(f"error: {why}", err=True)
        sys.exit(1)


#: What ``ledger verify`` checks on an SQLite file only (docs/postgres.md).
_PG_STORAGE_UNCHECKED = (
    "the database's storage (SQLite's integrity_check, or --quick's quick_check) is not "
    "checked on PostgreSQL: run the server's pg_amcheck for it")


def _verify_readings(db: Path, as_json: bool, ledger_json: Mapping[str, Any]) -> None:
    """``ledger verify --with-readings`` after the ledger itself verified."""
    from ecocomp.evidence import verify_readings

    found = verify_readings(db)
    if as_json:
        _print_json({**ledger_json, "ok": found.ok, "readings": {
            "ok": found.ok, "problems": list(found.problems), "monthly_sums": found.sums,
            "settlements": found.runs, "covered": found.covered,
            "uncovered": found.uncovered, "no_measurements": found.no_measurements,
            "notes": list(found.notes), "unchecked": list(found.unchecked)}})
    else:
        for line in found.unchecked:
            click.echo(f"note: {line}", err=True)
    if found.ok and not as_json:
        for note in found.notes:
            click.echo(f"note: {note}", err=True)
        click.echo(f"OK: ledger verified; {found.sums:,} monthly sums match the stored "
                   f"readings, {found.runs} settlement(s) re-derived"
                   + (f" ({len(found.notes)} only in part: readings forgotten since)"
                      if found.notes else "")
                   + (f" ({found.no_measurements} read no measurements)"
                      if found.no_measurements else "")
                   + f", {found.covered} "
                   "transactions covered by an inputs digest"
                   + (f" ({found.uncovered} posted before digests were recorded)"
                      if found.uncovered else ""))
    if not found.ok:
        if not as_json:
            for problem in found.problems:
                click.echo(f"error: {problem}", err=True)
        sys.exit(1)


_MAX_PROBLEM_LINES = 10


@ledger.command("balances")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--as-of", type=DAY, default=None,
              help="The ledger as booked on or before this date (default: all of it).")
@click.option("--by", type=click.Choice(["party", "account"]), default="party",
              show_default=True)
@click.option("--json", "as_json", is_flag=True)
@friendly
def ledger_balances(db: Path, as_of: Any, by: str, as_json: bool) -> None:
    """Balances per party (received minus paid) or per account."""
    from ecocomp.ledger import Ledger
    from ecocomp.settlement import require_intact

    day = as_of.date() if as_of else None
    with Ledger.open(db, create=False) as opened:
        require_intact(opened)
        balances = opened.balances(as_of=day, by=by)
    if as_json:
        _print_json({"as_of": day.isoformat() if day else None,
                     "balances": {k: f"{v:.2f}" for k, v in sorted(balances.items())}})
        return
    lang = _lang()
    names = _party_names(db) if by == "party" else str
    shown = {key: _t(named(key, names, lang) if by == "party" and lang == "zh"
                     else (f"{names(key)} {key}" if names(key) != key else key))
             for key in balances}
    width = max([20] + [_width(v) + 1 for v in shown.values()])
    click.echo(_pad(message(f"col.{by}", lang), width) + " "
               + _rjust(message("col.balance", lang), 18) + " "
               + _rjust(message("col.wan", lang), 12))
    for key, value in sorted(balances.items()):
        click.echo(f"{_pad(shown[key], width)} {value:>18,.2f} {format_wan(value):>12}")


@ledger.command("checkpoint")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@_head_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the new head (checkpoint) as JSON.")
@friendly
def ledger_checkpoint(db: Path, head_out: Path | None, signing_key: Path | None,
                      as_json: bool = False) -> None:
    """Publish a Merkle root over every transaction so far (settle and pay do it too)."""
    from ecocomp.ledger import Ledger

    if as_json and head_out is not None and str(head_out) == "-":
        raise InputError("--json already prints the head on stdout; leave out --head-out -",
                         field="--head-out")
    signer = _signer(signing_key)
    with Ledger.open(db, create=False) as opened:
        cp = opened.checkpoint(signer=signer)
        head = opened.head()
    if as_json:
        if head is not None and head_out is not None:
            _write_head(head, head_out)
        _print_json(head.to_json() if head is not None else {"seq": cp.seq, "root": cp.root})
        return
    click.echo(f"checkpoint at #{cp.seq}: root {cp.root}")
    if head is not None:
        if head_out is not None:
            _write_head(head, head_out)
        click.echo(head.describe())


@ledger.command("head")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the head as JSON to this file (- for stdout: the JSON only).")
@friendly
def ledger_head(db: Path, as_json: bool, out: Path | None) -> None:
    """The latest checkpoint (seq, chain hash, Merkle root): keep it outside the database."""
    from ecocomp.ledger import Ledger

    with Ledger.open(db, create=False) as opened:
        head = opened.head()
        unvouched = opened.unvouched()
    if head is None:
        raise EcocompError(f"{db}: no checkpoint yet; `ecocomp settle` and `ecocomp pay` make "
                           f"one, or run `ecocomp ledger checkpoint --db {db}`")
    if out is not None and str(out) == "-":
        as_json = True  # the head as JSON on stdout, nothing else there
        out = None
    if out is not None:
        _write_head(head, out)
    if as_json:
        _print_json({**head.to_json(), "unvouched": unvouched})
        if unvouched:
            click.echo(f"warning: {unvouched} transaction(s) after this checkpoint", err=True)
        return
    click.echo(head.describe())
    if unvouched:
        click.echo(f"warning: {unvouched} transaction(s) after this checkpoint", err=True)


@ledger.command("keygen")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the private key (PEM, readable by you only); the public "
                   "key goes to OUT.pub.")
@friendly
def ledger_keygen(out: Path) -> None:
    """Make the operator's Ed25519 signing key; give OUT.pub to every county."""
    from ecocomp.ledger import Signer

    signer = Signer.generate()
    public = signer.save(out)
    click.echo(f"private key written to {out} (mode 0600): keep it secret, back it up")
    click.echo(f"public key written to {public}: give it to every party that checks heads")
    click.echo(f"key id: {signer.key_id}")


@ledger.command("backup")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def ledger_backup(db: Path, out: Path) -> None:
    """Copy the whole database to OUT consistently (even while in use) and verify the copy."""
    from ecocomp.ledger.backup import backup_database

    result = backup_database(db, out)
    click.echo(f"backup written to {out}: {result.count} transactions, "
               f"{result.checkpoints} checkpoints, verified")
    if result.head is not None:
        click.echo(result.head.describe())


@ledger.command("migrate")
@click.option("--from", "source", required=True,
              help="The ledger to copy: an SQLite file or a postgresql:// URL.")
@click.option("--to", "target", required=True,
              help="Where to copy it: a postgresql:// URL (or an SQLite file), empty or "
                   "holding the start of the same ledger.")
@friendly
def ledger_migrate(source: str, target: str) -> None:
    """Copy a ledger to another database (SQLite to PostgreSQL) and prove the same head.

    The source must verify; the copy keeps every row, hash and checkpoint, and is verified
    to end at the same chain head and checkpoint. A target that already holds other
    transactions is refused; one holding the start of this ledger gets the rest.
    """
    from ecocomp.ledger.postgres import migrate_ledger

    if not is_url(source) and not Path(source).is_file():
        raise InputError(f"{source}: no such file; give the SQLite ledger to copy",
                         field="--from")
    result = migrate_ledger(source, target)
    click.echo(f"copied {result.transactions} transactions and {result.checkpoints} "
               f"checkpoints; both ledgers verify: {result.count} transactions, chain head "
               f"{result.head or '(empty)'}, latest checkpoint {result.checkpoint or '(none)'}")


@ledger.command("export")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A .csv or .json file, or - for stdout (with --format).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default=None,
              help="The format when --out is - (stdout); default: from OUT's suffix.")
@friendly
def ledger_export(db: Path, out: Path, fmt: str | None = None) -> None:
    """Export every transaction with its hashes to CSV or JSON."""
    from ecocomp.ledger import Ledger

    if str(out) == "-":
        _export_to_stdout(db, fmt)
        return
    suffix = out.suffix.lower()
    if fmt is not None and suffix != f".{fmt}":
        raise InputError(f"{out}: the suffix says {suffix or '(none)'} but --format says {fmt}; "
                         "make them agree or leave out --format", field="--format")
    if suffix not in (".csv", ".json"):
        raise InputError(f"{out}: unknown export format {suffix or '(none)'!r}; use .csv or "
                         ".json", field="--out")
    with Ledger.open(db, create=False) as opened:
        if suffix == ".json":
            opened.export_json(out)
        else:
            opened.export_csv(out)
    click.echo(f"exported to {out}")


def _export_to_stdout(db: Path, fmt: str | None) -> None:
    """``ledger export --out -``: the export's bytes on stdout, exactly as the file has them."""
    from ecocomp.ledger import Ledger

    if fmt is None:
        raise InputError("--out - (stdout) needs --format csv or --format json",
                         field="--format")
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(db, create=False) as opened:
        path = Path(tmp) / f"ledger.{fmt}"
        if fmt == "json":
            opened.export_json(path)
        else:
            opened.export_csv(path)
        data = path.read_bytes()
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


#: The kinds ``ledger transactions --kind`` offers (the ledger's own set).
KINDS_SHOWN = ("accrual", "adjustment", "clearing", "payment", "reversal")


@ledger.command("transactions")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--party", help="Only transactions touching this party (code or name).")
@click.option("--agreement", help="Only this agreement's transactions (its id).")
@click.option("--kind", type=click.Choice(sorted(KINDS_SHOWN)),
              help="Only this kind of transaction.")
@click.option("--period", help="Only this period: a month (2021-03, 2021/3, 2021年3月) or "
                               "a year (2021: the year and its months).")
@click.option("--from", "booked_from", type=DAY, default=None,
              help="Only transactions booked on or after this date.")
@click.option("--to", "booked_to", type=DAY, default=None,
              help="The ledger as booked on or before this date (default: all of it).")
@click.option("--json", "as_json", is_flag=True,
              help="Print {count, transactions} as JSON (every hashed field).")
@friendly
def ledger_transactions(db: Path, party: str | None, agreement: str | None, kind: str | None,
                        period: str | None, booked_from: Any, booked_to: Any,
                        as_json: bool) -> None:
    """Browse the ledger's transactions, filtered: one line each, oldest first."""
    from ecocomp.ledger import Ledger
    from ecocomp.settlement import require_intact

    code = _party_code(db, party) if party is not None else None
    month, year = _period_filter(period)
    with Ledger.open(db, create=False) as opened:
        require_intact(opened)
        found = opened.transactions(
            party=code, agreement=agreement, kind=kind, period=month,
            booked_from=booked_from.date() if booked_from else None,
            booked_to=booked_to.date() if booked_to else None)
    if year is not None:
        found = [t for t in found if (t.period or "")[:4] == year]
    if as_json:
        _print_json({"count": len(found), "transactions": [t.to_json() for t in found]})
        return
    lang = _lang()
    names = _party_names(db)
    from ecocomp.i18n import word

    for tx in found:
        flows = "; ".join(
            message("tx.flow", lang, payer=named(t.debit_party, names, lang),
                    payee=named(t.credit_party, names, lang),
                    amount=format_yuan_grouped(t.amount)) for t in tx.transfers)
        click.echo(_t(message("tx.line", lang, seq=tx.seq, booked_on=tx.booked_on,
                              kind=word("kind", tx.kind, lang), agreement=tx.agreement or "",
                              period=tx.period or "", component=tx.component or "",
                              flows=flows)))
        if tx.reference or tx.reason:
            extra = ", ".join(x for x in (tx.reference and f"reference {tx.reference}",
                                          tx.reason and f"reason: {tx.reason}") if x)
            click.echo(_t(f"    {extra}"))
    click.echo(message("tx.count", lang, count=len(found)), err=True)

_MONTH = re.compile(r"([0-9]{4})(?:[-/.年]([0-9]{1,2})月?)?")


def _period_filter(text: str | None) -> tuple[str | None, str | None]:
    """``--period``: (a month for the ledger's filter, or a year to match in Python)."""
    if text is None:
        return None, None
    written = unicodedata.normalize("NFKC", text).strip()
    found = _MONTH.fullmatch(written)
    month = int(found.group(2)) if found and found.group(2) else None
    if not found or (month is not None and not 1 <= month <= 12):
        raise InputError(f"{text!r} is not a period; write a month like 2021-03 (or 2021/3, "
                         "2021年3月) or a year like 2021", field="--period")
    if month is None:
        return None, found.group(1)
    return f"{found.group(1)}-{month:02d}", None


@main.command()
@click.argument("party")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--year", type=YEAR, required=True)
@click.option("--as-of", type=DAY, default=None,
              help="The ledger as booked on or before this date, overdue judged on it "
                   "(default today).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--daxie", is_flag=True,
              help="Also write each open amount in 人民币大写 (capital numerals).")
@friendly
def statement(party: str, db: Path, year: int, as_of: Any, as_json: bool,
              daxie: bool = False) -> None:
    """PARTY's obligations for YEAR with their basis, nets, payments and what is overdue.

    PARTY is a code (430700), a name (常德市) or a unique part of one (常德).
    """
    from ecocomp.i18n import render_statement
    from ecocomp.statements import party_statement

    party = _party_code(db, party)
    st = party_statement(db, party, year, as_of=as_of.date() if as_of else date.today())
    covered = st.receipt.seq if st.receipt is not None else None
    late = [line.seq for line in st.lines if covered is not None and line.seq > covered]
    if late:  # the receipt does not cover them: settle and pay checkpoint every post
        click.echo(f"warning: line(s) #{late[0]}{f'..#{late[-1]}' if len(late) > 1 else ''} "
                   f"come after the receipt's checkpoint (#{covered}), so nothing vouches "
                   "for them: ecocomp's settle and pay checkpoint every post; run "
                   f"`ecocomp ledger verify --db {db}`", err=True)
    if as_json:
        _print_json(st.to_json())
        return
    lang = _lang()
    if lang == "en":  # the English text as it always was, plus the capitals if asked
        click.echo(st.render())
        for a in st.agreements if daxie else ():
            if a.open:
                click.echo(_t(f"  {a.agreement} open: {format_yuan_grouped(a.open, sign=True)}"
                              f" yuan"))
                click.echo(daxie_line(a.open, lang, "st.open_words"))
        return
    click.echo(render_statement(st, lang, names=_party_names(db), with_daxie=daxie))


@main.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--agreement", help="The agreement id (required unless --reverse).")
@click.option("--year", type=YEAR, help="The settled year being paid (required unless --reverse).")
@click.option("--payer", help="The paying party: code (430700) or name (常德市).")
@click.option("--payee", help="The receiving party: code (430800) or name (张家界市).")
@click.option("--amount", help="Yuan, e.g. 800000.00, 800,000.00, 80万 or 80万元.")
@click.option("--date", "paid_on", type=DAY,
              help="The date on the payment order (with --reverse: the reversal's date, "
                   "default today).")
@click.option("--reference", help="Bank or treasury reference number.")
@click.option("--allow-future", is_flag=True,
              help="Accept a date after today (a payment order dated ahead).")
@click.option("--reverse", "reverse_ref", metavar="REF",
              help="Reverse the payment recorded under reference REF (needs --reason).")
@click.option("--reason", help="Why the payment is reversed (with --reverse).")
@_head_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the recorded (or reversing) transaction as JSON.")
@click.option("--daxie", is_flag=True,
              help="Also write the amount in 人民币大写 (as on the payment order).")
@friendly
def pay(db: Path, agreement: str | None, year: int | None, payer: str | None,
        payee: str | None, amount: str | None, paid_on: Any, reference: str | None,
        allow_future: bool, reverse_ref: str | None, reason: str | None,
        head_out: Path | None, signing_key: Path | None, as_json: bool = False,
        daxie: bool = False) -> None:
    """Record an actual payment against an agreement-year's clearing, or reverse one."""
    from ecocomp.ledger import Ledger
    from ecocomp.settlement import pay as record
    from ecocomp.settlement import recorded_payment, reverse_payment

    if reverse_ref is not None:
        extra = [name for name, value in (("--payer", payer), ("--payee", payee),
                                          ("--amount", amount), ("--reference", reference))
                 if value is not None]
        if extra:
            raise InputError(f"--reverse takes the payment's reference only, not "
                             f"{', '.join(extra)}; leave them out", field="--reverse")
        if reason is None:
            raise InputError("a reversal needs the reason it is made; add --reason \"...\"",
                             field="--reason")
        with Ledger.open(db, create=False) as opened:
            tx = reverse_payment(opened, reference=reverse_ref, reason=reason,
                                 agreement=agreement, year=year,
                                 booked_on=paid_on.date() if paid_on else None,
                                 allow_future=allow_future, signer=_signer(signing_key))
            head = opened.head()
        if head is not None and head_out is not None:
            _write_head(head, head_out)
        if as_json:
            _print_json({"transaction": tx.to_json(), "already_recorded": False,
                         "head": head.to_json() if head is not None else None})
            return
        click.echo(_t(f"payment {tx.reference} ({tx.corrects}) reversed by transaction "
                      f"#{tx.seq} ({tx.key}): {tx.reason}"))
        if head is not None:
            click.echo(head.describe())
        return
    if reason is not None:
        raise InputError("--reason goes with --reverse REF; leave it out when recording a "
                         "payment", field="--reason")
    missing = [name for name, value in (
        ("--agreement", agreement), ("--year", year), ("--payer", payer), ("--payee", payee),
        ("--amount", amount), ("--date", paid_on), ("--reference", reference))
        if value is None]
    if missing:
        raise click.UsageError(f"Missing option(s) {', '.join(missing)} (all are needed to "
                               "record a payment; --reverse REF --reason TEXT reverses one).")
    assert agreement is not None and year is not None and payer is not None
    assert payee is not None and amount is not None and reference is not None
    value = _payment_amount(amount)
    if as_json and head_out is not None and str(head_out) == "-":
        raise InputError("--json already prints the head on stdout; leave out --head-out -",
                         field="--head-out")
    payer, payee = _party_code(db, payer), _party_code(db, payee)
    reference = reference.strip()
    if not reference:
        raise InputError("the bank or treasury reference is empty; write the number on the "
                         "payment order", field="--reference")
    signer = _signer(signing_key)
    with Ledger.open(db, create=False) as opened:
        earlier = recorded_payment(opened, agreement=agreement, year=year, reference=reference)
        tx = record(opened, agreement=agreement, year=year, payer=payer, payee=payee,
                    amount=value, paid_on=paid_on.date(), reference=reference,
                    allow_future=allow_future, signer=signer)
        head = opened.head()
    if head is not None and head_out is not None:
        _write_head(head, head_out)
    again = earlier is not None and earlier.seq == tx.seq
    if as_json:
        _print_json({"transaction": tx.to_json(), "already_recorded": again,
                     "head": head.to_json() if head is not None else None})
        return
    lang = _lang()
    if again:
        click.echo(f"payment {_t(reference)} was already recorded as transaction #{tx.seq} "
                   f"({_t(tx.key)}, reference {_t(tx.reference or '')}); nothing changed")
    else:
        click.echo(_t(message("pay.recorded", lang, seq=tx.seq, key=tx.key)))
    names = _party_names(db)
    click.echo(_t(message("pay.notice", lang, payer=named(payer, names, lang),
                          payee=named(payee, names, lang), date=paid_on.date(),
                          reference=reference, **amount_texts(value))))
    if daxie:
        click.echo(daxie_line(value, lang))
    if head is not None:
        click.echo(head.describe())


def _payment_amount(text: str) -> Decimal:
    """``--amount``: positive yuan with at most two decimals, e.g. 800000.00."""
    from ecocomp.money import FEN, MAX_YUAN

    try:
        value = parse_amount(text)  # 800000.00, 800,000.00, 80万, 80万元: exact
    except ValueError as exc:
        raise InputError(str(exc), field="--amount") from None
    if value <= 0:
        raise InputError(f"{text} is not a positive amount; write what was paid, like 800000.00",
                         field="--amount")
    if value > MAX_YUAN:  # before quantize, which cannot hold huge numbers
        raise InputError(f"{text} is beyond 1万亿 yuan; check the amount", field="--amount")
    if value != value.quantize(FEN, rounding="ROUND_DOWN"):
        raise InputError(f"{text} has fractions of a fen; write at most two decimals, like "
                         "800000.05", field="--amount")
    return value.quantize(FEN)


@main.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--year", type=YEAR, required=True)
@click.option("--out", type=click.Path(path_type=Path, allow_dash=True), required=True,
              help="report.html, report.xlsx, report.zip (CSV tables), a folder for one CSV "
                   "file per table, or - for standard output (see --format)")
@click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "zip"]), default="html",
              show_default=True, help="With --out -: the format written to standard output.")
@click.option("--as-of", type=DAY, default=None,
              help="The ledger as booked on or before this date, overdue judged on it "
                   "(default today).")
@click.option("--template-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="A folder whose letterhead.html (or report.html) replaces the shipped HTML "
                   "template of that name.")
@friendly
def report(db: Path, year: int, out: Path, fmt: str, as_of: Any,
           template_dir: Path | None) -> None:
    """Write the year's report: class table, obligations with basis, nets, statements."""
    from ecocomp.reports import rendered_report, written_report

    day = as_of.date() if as_of else None
    given = click.get_current_context().get_parameter_source("fmt")
    if str(out) != "-" and given is not click.core.ParameterSource.DEFAULT:
        # the file's suffix (or a folder) decides the format: a --format that says
        # otherwise would be ignored
        wanted = {"html": (".html", ".htm"), "xlsx": (".xlsx",), "zip": (".zip",)}[fmt]
        if out.suffix.lower() not in wanted:
            raise InputError(
                f"--format {fmt} goes with --out - only; the format of {out} follows its "
                f"name, so write --out {out.with_suffix(wanted[0])} (or leave out --format)",
                field="--format")
    if str(out) == "-":
        data, built = rendered_report(db, year, fmt, as_of=day, template_dir=template_dir)
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        _, built = written_report(db, year, out, as_of=day, template_dir=template_dir)
        click.echo(f"report written to {out}")
    note = built.later_note(_lang())
    if note:  # lines booked after --as-of are in no table of the report: say so
        click.echo(f"note: {_t(note)}", err=True)


# --------------------------------------------------------------------------- conventions

#: Help for options that mean the same in every command, where the command gives none.
_COMMON_HELP = {
    "db": "The settlement SQLite file (default: $ECOCOMP_DB).",
    "as_json": "Print the data as JSON instead of text.",
    "year": "The settled year.",
    "by": "Balances per party (received minus paid) or per account (party:purpose).",
}
#: Commands whose --db may be a postgresql:// URL (the ledger on PostgreSQL).
_POSTGRES_READY = frozenset({
    ("settle",), ("readings", "forget"), ("ledger", "verify"), ("ledger", "head"),
    ("ledger", "checkpoint"), ("ledger", "export"), ("ledger", "balances"),
    ("ledger", "transactions"), ("statement",), ("pay",), ("assess",), ("report",),
})

#: What to do instead, for commands that have a PostgreSQL counterpart of their own.
_POSTGRES_HINTS = {
    ("ledger", "backup"): "; back a PostgreSQL database up with the server's own `pg_dump`",
    ("air", "import"): "; air readings live in an SQLite file (settle the air project there)",
    ("air", "aqi"): "; air readings live in an SQLite file (settle the air project there)",
    ("demo",): ("; the demo writes an SQLite file of its own (on PostgreSQL: "
                "`ecocomp settle examples/hunan-2021 --year 2021 --db URL`)"),
}


class _Database(click.ParamType):
    """--db: an SQLite file (checked by the option's own type) or a postgresql:// URL."""

    name = "db"

    def __init__(self, file_type: click.ParamType, postgres_ready: bool,
                 hint: str = "") -> None:
        self.file_type = file_type
        self.postgres_ready = postgres_ready
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if is_url(str(value)):
            if self.postgres_ready:
                return str(value)
            self.fail("this command reads an SQLite file; a postgresql:// database works "
                      "with `ecocomp settle`, `statement`, `pay`, `assess`, `report`, "
                      "`readings forget` and "
                      "`ecocomp ledger verify/head/checkpoint/balances/export/transactions` "
                      f"so far (docs/postgres.md){self.hint}",
                      param, ctx)
        return self.file_type.convert(value, param, ctx)


#: Commands whose --db is not read from $ECOCOMP_DB: the demo writes a file of its own.
_OWN_DB = frozenset({"demo"})


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], click.Command]]:
    """Every command under ``group`` with its path, depth first."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta["ecocomp.lang"] = value


def _lang_option() -> click.Option:
    """``--lang`` after the command too (``ecocomp statement 常德市 ... --lang zh``)."""
    return click.Option(["--lang"], type=click.Choice(LANGS), default=None, expose_value=False,
                        callback=_set_lang, help="Output language, as `ecocomp --lang` "
                                                 "(default: $ECOCOMP_LANG, else the locale).")


def _apply_conventions(group: click.Group) -> None:
    """--db from $ECOCOMP_DB everywhere, dates as people write them, --lang after the command,
    and help text on every option.

    Done once over the whole command tree so that every command, including ones added
    later, follows the conventions (tests/test_cli_conventions.py checks them).
    """
    for path, command in _commands(group):
        if not isinstance(command, click.Group) and not any(
                p.name == "lang" for p in command.params):
            command.params.append(_lang_option())
        for param in command.params:
            if not isinstance(param, click.Option):
                continue
            if isinstance(param.type, click.DateTime):  # 2022/04/20, 2022年4月20日 too
                param.type = DAY
            if param.name == "db" and path[-1] in _OWN_DB:  # a URL is refused, not a file
                param.type = _Database(param.type, False, _POSTGRES_HINTS.get(path, ""))
            elif param.name == "db":
                param.type = _Database(param.type, path in _POSTGRES_READY,
                                       _POSTGRES_HINTS.get(path, ""))
                param.envvar = "ECOCOMP_DB"
                if param.help and "ECOCOMP_DB" not in param.help:
                    param.help = f"{param.help.rstrip('.')} (default: $ECOCOMP_DB)."
            if not param.help and param.name in _COMMON_HELP:
                param.help = _COMMON_HELP[param.name]


_apply_conventions(main)


if __name__ == "__main__":  # pragma: no cover
    main()
