"""The ``ecocomp`` command: a thin face over the Python API, one command per function.

User mistakes print one clear line per problem on stderr and exit with status 1 (2 for
usage errors, as click does); no traceback. ``--json`` prints the same data the API returns.
"""

from __future__ import annotations

import json
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

from ecocomp.errors import EcocompError, InputError
from ecocomp.money import format_yuan

F = TypeVar("F", bound=Callable[..., Any])

YEAR = click.IntRange(1900, 2999)
EXAMPLE = "hunan-2021"
EXAMPLE_YEAR = 2021


def _fail(message: str) -> None:
    for line in message.splitlines():
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
                    click.echo(f"  {p}", err=True)
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

    return wrapper  # type: ignore[return-value]


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _wan(amount: Decimal) -> str:
    return f"{format_yuan(amount, 'wan')}万"


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """Rows imported so far per readings file, on stderr (one line per file off a terminal)."""
    if not enabled:
        yield None
        return
    live = sys.stderr.isatty()
    seen: dict[str, int] = {}

    def report(file: str, rows: int) -> None:
        if live and rows - seen.get(file, -100_000) >= 20_000:
            click.echo(f"\rimporting {Path(file).name}: {rows:,} rows", err=True, nl=False)
        seen[file] = rows

    try:
        yield report
    finally:
        if live and seen:
            click.echo("", err=True)


def _import_lines(imports: Sequence[Mapping[str, Any]]) -> None:
    """After a run: one line per file, saying what it added (stderr)."""
    for item in imports:
        name = Path(item["file"]).name
        added = [f"{item[k]:,} {w}" for k, w in (("inserted", "new"), ("corrected", "corrected"))
                 if item.get(k)]
        what = ", ".join(added) if added else "nothing new"
        click.echo(f"imported {name}: {item['rows']:,} rows, {what}", err=True)


def _width(text: str) -> int:
    """Terminal columns of ``text``: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    """Left-justify by terminal columns, so tables with Chinese names line up."""
    return text + " " * max(0, width - _width(text))


@click.group()
@click.version_option(package_name="ecocomp")
def main() -> None:
    """Settle watershed ecological compensation (流域生态保护补偿) exactly and auditably."""


@main.command()
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@friendly
def check(project: Path) -> None:
    """Validate every input file of PROJECT and list all problems at once."""
    from ecocomp.project import check_project, load_project
    from ecocomp.settlement import import_problems

    problems = check_project(project)
    if not problems:  # each file is valid: are they also consistent with each other?
        problems = import_problems(load_project(project))
    if problems:
        click.echo(f"error: {len(problems)} problem(s) in {project}:", err=True)
        for p in problems:
            click.echo(f"  {p}", err=True)
        sys.exit(1)
    click.echo(f"{project}: all files valid")


@main.command()
@click.argument("project", type=click.Path(file_okay=False, path_type=Path))
@click.option("--year", type=YEAR, required=True, help="The year to settle.")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="SQLite file holding readings and the ledger (created if missing).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--dry-run", is_flag=True,
              help="Preview: compute and show what a run would post or adjust in --db; "
                   "write nothing.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@friendly
def settle(project: Path, year: int, db: Path, as_json: bool, dry_run: bool, quiet: bool) -> None:
    """Import, assess, compute and post one YEAR of PROJECT (idempotent)."""
    result = _settle(project, year, db, dry_run=dry_run, progress=not (quiet or as_json))
    if as_json:
        _print_json(result.to_json())
    else:
        _summary(result, db)


def _settle(project_path: Path, year: int, db: Path, *, dry_run: bool, progress: bool) -> Any:
    from ecocomp.ledger import Ledger
    from ecocomp.project import load_project
    from ecocomp.settlement import RUN_LOCK_WAIT_MS, require_in_force
    from ecocomp.settlement import settle as run

    project = load_project(project_path)
    new = not db.exists()
    if new:
        if not db.absolute().parent.is_dir():
            raise EcocompError(f"{db}: the folder {db.absolute().parent} does not exist; "
                               "create it or choose another path")
        require_in_force(project, year)  # before the file is created: no empty file left
    with _progress(progress) as report:
        if new and dry_run:  # nothing settled yet: compute only
            result = run(project, year=year, dry_run=True, progress=report)
        else:
            with Ledger.open(db, create=not dry_run, busy_timeout_ms=RUN_LOCK_WAIT_MS) as ledger:
                result = run(project, year=year, ledger=ledger, dry_run=dry_run,
                             progress=report)
    if progress:
        _import_lines(result.imports)
    return result


def _summary(result: Any, db: Path | None) -> None:
    from ecocomp.catalog import load_catalog

    names: Callable[[str], str] = str
    if db is not None and db.is_file():
        try:
            names = load_catalog(db).party_name
        except EcocompError:  # nothing settled in it yet (a dry run): show the codes
            pass
    paid = [o for o in result.obligations if o.amount > 0]
    click.echo(f"Settlement {result.year}: {len(result.obligations)} obligations "
               f"({len(paid)} with money), {len(result.nets)} agreement nets")
    for net in result.nets:
        click.echo(f"  {net.agreement}: {names(net.payer)} pays {names(net.payee)} "
                   f"{net.amount:,.2f} yuan ({_wan(net.amount)}), due {net.due}")
    if result.dry_run:
        click.echo(f"dry run, nothing was written; a real run would post {result.posted}, "
                   f"leave {result.unchanged} unchanged and adjust {result.adjusted}")
    else:
        click.echo(f"ledger: {result.posted} posted, {result.unchanged} unchanged, "
                   f"{result.adjusted} adjusted")
    verb = "would adjust" if result.dry_run else "adjusted"
    for change in result.changes:
        click.echo(f"  {verb} {change.corrects}: {change.reason}")


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("ecocomp-demo.db"), show_default=True,
              help="Where to write the demo's SQLite file.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Also write a report (.html, .xlsx or .csv).")
@friendly
def demo(db: Path, report_path: Path | None) -> None:
    """Settle the bundled example year (湘江 chain, 渌水, 酉水, 澧水) end to end."""
    from ecocomp.packagedata import data_folder

    source = data_folder("examples").joinpath(EXAMPLE)
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / EXAMPLE
        with resources.as_file(source) as folder:
            shutil.copytree(folder, project)
        click.echo(f"Bundled example: {EXAMPLE} (settling {EXAMPLE_YEAR} into {db})")
        result = _settle(project, EXAMPLE_YEAR, db, dry_run=False, progress=True)
    _summary(result, db)
    from ecocomp.ledger import Ledger

    with Ledger.open(db) as ledger:
        report = ledger.verify()
    click.echo(f"ledger verify: {'OK' if report.ok else 'FAILED'} ({report.count} transactions)")
    if report_path is not None:
        from ecocomp.reports import write_report

        write_report(db, EXAMPLE_YEAR, report_path)
        click.echo(f"report written to {report_path}")
    click.echo(f"Next: ecocomp statement 430700 --db {db} --year {EXAMPLE_YEAR}")


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
    if as_json:
        _print_json(table.to_json())
        return
    width = max([len("section")] + [len(r.section) for r in table.rows]) + 2
    names = max([4] + [_width(r.label) for r in table.rows]) + 2
    months = [f"{m:02d}" for m in range(1, 13)] + [str(year)]
    click.echo(_pad("section", width) + _pad("name", names) + " ".join(_pad(m, 4) for m in months))
    for row in table.rows:
        cells = [c.roman if c else "—" for c in (*row.months, row.year)]
        line = _pad(row.section, width) + _pad(row.label, names)
        click.echo((line + " ".join(_pad(c, 4) for c in cells)).rstrip())


@main.group()
def ledger() -> None:
    """Inspect and verify the settlement ledger."""


@ledger.command("verify")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--quick", is_flag=True,
              help="PRAGMA quick_check instead of integrity_check (does not compare indexes "
                   "with their tables).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Check the transactions in this many processes.")
@friendly
def ledger_verify(db: Path, as_json: bool, quick: bool, jobs: int) -> None:
    """Check the schema, the file and every hash, field and checkpoint; exit 1 on a problem.

    Opens DB read-only and never writes to it (read-only media and copies work).
    """
    from ecocomp.ledger.verify import verify_file

    report = verify_file(db, quick=quick, jobs=jobs)
    if as_json:
        _print_json({"ok": report.ok, "count": report.count,
                     "first_bad_seq": report.first_bad_seq, "reason": report.reason,
                     "checkpoints": report.checkpoints, "problems": list(report.problems),
                     "schema_version": report.schema_version,
                     "tx2_from_seq": report.tx2_from_seq, "quick": report.quick})
    elif report.ok:
        click.echo(f"OK: {report.count} transactions, chain and checkpoints verified")
    if not report.ok:
        if not as_json:
            shown = list(report.problems[:_MAX_PROBLEM_LINES])
            first_tx = next((p for p in report.problems if p.startswith("transaction #")), None)
            if first_tx is not None and first_tx not in shown:
                shown.append(first_tx)
            for line in shown:
                click.echo(f"error: {line}", err=True)
            if len(report.problems) > len(shown):
                click.echo(f"error: … and {len(report.problems) - len(shown)} more problems "
                           "(--json lists them all)", err=True)
        sys.exit(1)


_MAX_PROBLEM_LINES = 10


@ledger.command("balances")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Only transactions booked on or before this date.")
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
    for key, value in sorted(balances.items()):
        click.echo(f"{key:<20} {value:>18,.2f}")


@ledger.command("checkpoint")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@friendly
def ledger_checkpoint(db: Path) -> None:
    """Publish a Merkle root over every transaction so far."""
    from ecocomp.ledger import Ledger

    with Ledger.open(db, create=False) as opened:
        cp = opened.checkpoint()
    click.echo(f"checkpoint at #{cp.seq}: root {cp.root}")


@ledger.command("export")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="A .csv or .json file.")
@friendly
def ledger_export(db: Path, out: Path) -> None:
    """Export every transaction with its hashes to CSV or JSON."""
    from ecocomp.ledger import Ledger

    suffix = out.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise InputError(f"{out}: unknown export format {suffix or '(none)'!r}; use .csv or "
                         ".json", field="--out")
    with Ledger.open(db, create=False) as opened:
        if suffix == ".json":
            opened.export_json(out)
        else:
            opened.export_csv(out)
    click.echo(f"exported to {out}")


@main.command()
@click.argument("party")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--year", type=YEAR, required=True)
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Judge overdue amounts as of this date (default today).")
@click.option("--json", "as_json", is_flag=True)
@friendly
def statement(party: str, db: Path, year: int, as_of: Any, as_json: bool) -> None:
    """PARTY's obligations for YEAR with their basis, nets, payments and what is overdue."""
    from ecocomp.statements import party_statement

    st = party_statement(db, party, year, as_of=as_of.date() if as_of else date.today())
    if as_json:
        _print_json(st.to_json())
        return
    click.echo(st.render())


@main.command()
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
@click.option("--agreement", required=True)
@click.option("--year", type=YEAR, required=True, help="The settled year being paid.")
@click.option("--payer", required=True)
@click.option("--payee", required=True)
@click.option("--amount", required=True, help="Yuan, e.g. 8000000.00")
@click.option("--date", "paid_on", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--reference", required=True, help="Bank or treasury reference number.")
@friendly
def pay(db: Path, agreement: str, year: int, payer: str, payee: str, amount: str,
        paid_on: Any, reference: str) -> None:
    """Record an actual payment against an agreement-year's clearing."""
    from ecocomp.ledger import Ledger
    from ecocomp.settlement import pay as record
    from ecocomp.settlement import payment_key

    value = _payment_amount(amount)
    reference = reference.strip()
    if not reference:
        raise InputError("the bank or treasury reference is empty; write the number on the "
                         "payment order", field="--reference")
    with Ledger.open(db, create=False) as opened:
        earlier = opened.get(payment_key(agreement, year, reference))
        tx = record(opened, agreement=agreement, year=year, payer=payer, payee=payee,
                    amount=value, paid_on=paid_on.date(), reference=reference)
    if earlier is not None:
        click.echo(f"payment {reference} was already recorded as transaction #{tx.seq} "
                   f"({tx.key}); nothing changed")
    else:
        click.echo(f"payment recorded as transaction #{tx.seq} ({tx.key})")


_AMOUNT = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?", re.ASCII)
_THOUSANDS = re.compile(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", re.ASCII)  # 8,000,000.00


def _payment_amount(text: str) -> Decimal:
    """``--amount``: positive yuan with at most two decimals, e.g. 800000.00."""
    from ecocomp.money import FEN, MAX_YUAN

    written = text.strip()
    if _THOUSANDS.fullmatch(written):
        written = written.replace(",", "")
    value = Decimal(written) if _AMOUNT.fullmatch(written) else None
    if value is None:
        raise InputError(f"{text!r} is not an amount; write yuan like 800000.00",
                         field="--amount")
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
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="report.xlsx, report.html or report.csv")
@friendly
def report(db: Path, year: int, out: Path) -> None:
    """Write the year's report: class table, obligations with basis, nets, statements."""
    from ecocomp.reports import write_report

    write_report(db, year, out)
    click.echo(f"report written to {out}")


if __name__ == "__main__":  # pragma: no cover
    main()
