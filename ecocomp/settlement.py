"""The annual settlement run: import, assess, compute, post — idempotent and correctable.

A run is a pipeline of pure steps with I/O at the two ends:

1. import the project's readings files into the store (atomic and idempotent per file;
   files in ``corrections/`` are imported explicitly as corrections),
2. aggregate the year (and the year before, for "improvement" rules) exactly in SQL and
   assess every section (pure),
3. run every agreement in force through its formula (pure) → obligations with their basis,
4. reconcile the obligations with what the ledger already holds (pure): a new obligation is
   posted as an accrual, an unchanged one is counted, a changed one gets an adjustment that
   references what it corrects — so afterwards the ledger's net per (agreement, period,
   component) equals the fresh computation,
5. the same for the annual clearing per agreement (the net between the two sides, due on the
   agreement's ``clearing_due`` day of the following year),
6. post everything in one atomic ledger batch.

Accounts (purposes): ``accrued`` holds computed obligations until the clearing moves the
year's net into ``payable`` (what is owed, due on a date); a payment moves money in
``settled`` and reduces ``payable``. A party's total over all purposes is what it received
minus what it paid (SPEC §6 ``balances``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import sqlite3
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from ecocomp.agreements import Agreement, superseded
from ecocomp.air.inputs import has_air_data, import_air
from ecocomp.assessment import Assessments, assess
from ecocomp.catalog import write_catalog, write_zero_amounts
from ecocomp.classification import ASSESSED_ITEMS
from ecocomp.dependencies import depends_on_previous_year
from ecocomp.errors import (
    EcocompError,
    LedgerIntegrityError,
    Problem,
    SettlementError,
    ValidationFailed,
)
from ecocomp.evidence import (
    InputsDigest,
    inputs_recorded_at,
    last_import,
    record_inputs,
    require_unchanged,
)
from ecocomp.formulas import Obligation, get_formula, net_obligations, party_nets
from ecocomp.formulas.base import settle_nets
from ecocomp.formulas.shared import factors_of
from ecocomp.identity import ProjectIdentity, check_identity, record_identity
from ecocomp.inputs import build_inputs, provider_of, register_inputs
from ecocomp.ledger import (
    Batch,
    Ledger,
    LedgerHead,
    NewTransaction,
    Transaction,
    Transfer,
)
from ecocomp.ledger.checkpoints import signed_by
from ecocomp.money import in_money_context
from ecocomp.periods import Period
from ecocomp.postgres import is_url
from ecocomp.project import Project
from ecocomp.readings import shown
from ecocomp.references import normalise_reference
from ecocomp.runs import (
    RecordedRun,
    fingerprint,
    latest_run,
    posted_since,
    record_run,
    record_terms,
    recorded_result,
    recorded_terms,
    terms_digest,
    terms_unrecordable,
)
from ecocomp.store import SCHEMA_VERSION as STORE_SCHEMA_VERSION
from ecocomp.store import Correction, ReadingStore, file_sha256

if TYPE_CHECKING:  # cryptography loads only when a key signs (ecocomp.ledger.signing)
    from ecocomp.ledger.signing import Signer

__all__ = [
    "ACCRUED",
    "PAYABLE",
    "RUN_LOCK_WAIT_MS",
    "SETTLED",
    "Change",
    "NetDue",
    "SettlementResult",
    "assess_project",
    "correction_conflicts",
    "future_readings",
    "import_problems",
    "is_payment",
    "missing_factors",
    "missing_files",
    "missing_months",
    "obligation_key",
    "pay",
    "payment_key",
    "reconcile",
    "recorded_payment",
    "register_inputs",
    "require_in_force",
    "require_intact",
    "require_vouched",
    "reverse_payment",
    "seal",
    "settle",
]

ACCRUED = "accrued"
PAYABLE = "payable"
SETTLED = "settled"
CLEARING = "clearing"
_ZERO = Decimal("0.00")


def obligation_key(agreement: str, period: Period | str, component: str) -> str:
    """The idempotency key of an obligation: agreement, period and component."""
    return f"{agreement}/{period}/{component}"


def _canonical(data: object) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=str)


def digest(data: object) -> str:
    """SHA-256 of the canonical JSON of ``data`` (Decimals as strings)."""
    return hashlib.sha256(_canonical(data).encode("utf-8")).hexdigest()


@attrs.frozen
class NetDue:
    """One agreement-year's net: who pays whom, how much, by when."""

    agreement: str
    year: int
    payer: str
    payee: str
    amount: Decimal
    due: date

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement,
            "year": self.year,
            "payer": self.payer,
            "payee": self.payee,
            "amount": f"{self.amount:.2f}",
            "due": self.due.isoformat(),
        }


@attrs.frozen
class Change:
    """An adjustment a re-run posted: what changed, from what to what, and why."""

    key: str
    corrects: str
    before: Mapping[str, Decimal]
    after: Mapping[str, Decimal]
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "corrects": self.corrects,
            "before": {p: f"{v:.2f}" for p, v in sorted(self.before.items())},
            "after": {p: f"{v:.2f}" for p, v in sorted(self.after.items())},
            "reason": self.reason,
        }


@attrs.frozen
class SettlementResult:
    """What a run computed and what it posted (``posted`` / ``unchanged`` / ``adjusted``)."""

    year: int
    obligations: tuple[Obligation, ...]
    nets: tuple[NetDue, ...]
    posted: int
    unchanged: int
    adjusted: int
    changes: tuple[Change, ...] = ()
    imports: tuple[Mapping[str, Any], ...] = ()
    dry_run: bool = False
    #: Odd but legitimate inputs, one located line each (skipped hidden files, readings
    #: still counted from a file no longer in the project).
    warnings: tuple[str, ...] = ()
    head: LedgerHead | None = None
    #: Later settled years that read this year's readings and no longer match them: what
    #: settling each would post and adjust (not posted; settle with ``cascade=True``).
    stale: tuple[SettlementResult, ...] = ()
    #: Later settled years re-settled in the same run (``cascade=True``).
    cascaded: tuple[SettlementResult, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The SPEC §6 ``settle --json`` shape (keys may be added, never renamed)."""
        return {
            "year": self.year,
            "obligations": [o.to_json() for o in self.obligations],
            "nets": [n.to_json() for n in self.nets],
            "posted": self.posted,
            "unchanged": self.unchanged,
            "adjusted": self.adjusted,
            "changes": [c.to_json() for c in self.changes],
            "imports": [dict(i) for i in self.imports],
            "dry_run": self.dry_run,
            "warnings": list(self.warnings),
            "head": self.head.to_json() if self.head else None,
            "stale_years": [r.year for r in self.stale],
            "cascaded": [r.to_json() for r in self.cascaded],
        }

    def __repr__(self) -> str:
        """One line (the full result is in ``to_json()`` / ``to_frame()``)."""
        run = "dry run" if self.dry_run else f"posted {self.posted}"
        return (f"<SettlementResult {self.year}: {len(self.obligations)} obligations, "
                f"{len(self.nets)} nets, {run}, unchanged {self.unchanged}, "
                f"adjusted {self.adjusted}, {len(self.warnings)} warnings>")

    def _repr_html_(self) -> str:
        from ecocomp.notebook import result_html

        return result_html(self)

    def to_frame(self) -> Any:
        """The obligations as a pandas DataFrame (amounts Decimal); needs ``ecocomp[pandas]``."""
        from ecocomp.notebook import result_frame

        return result_frame(self)


# --------------------------------------------------------------------------- pure steps


def _vector(payer: str, payee: str, amount: Decimal) -> dict[str, Decimal]:
    if amount == 0:
        return {}
    return {payer: -amount, payee: amount}


def _clean(vector: Mapping[str, Decimal]) -> dict[str, Decimal]:
    return {p: v for p, v in vector.items() if v != 0}


def transfers_for(vector: Mapping[str, Decimal], purpose: str) -> list[Transfer]:
    """Transfers realising a zero-sum change per party (negative = pays, positive = gets)."""
    return [
        Transfer.between(payer, payee, amount, purpose=purpose)
        for payer, payee, amount in settle_nets(vector)
    ]


@attrs.frozen
class _Desired:
    """What the ledger should hold for one key; ``meta`` is its transaction's meta."""

    key: str
    agreement: str
    period: Period
    component: str
    vector: Mapping[str, Decimal]
    kind: str
    booked_on: date
    due: date | None = None
    sections: tuple[str, ...] = ()
    _meta: Mapping[str, Any] | None = None
    obligation: Obligation | None = None

    @property
    def meta(self) -> Mapping[str, Any]:
        """The given meta, or the obligation's ``to_json()`` built anew each time: a run
        holds every basis once, frozen in its obligation, and not thawed beside it."""
        if self.obligation is not None:
            return self.obligation.to_json()
        assert self._meta is not None
        return self._meta

    @property
    def ledger_meta(self) -> Mapping[str, Any]:
        """:attr:`meta` for a :class:`NewTransaction`, which copies it into plain data
        itself: the obligation's basis as held (frozen), not thawed first."""
        if self.obligation is not None:
            return self.obligation.frozen_json()
        assert self._meta is not None
        return self._meta


def _existing_vectors(
    transactions: Iterable[Transaction], purpose_of: Callable[[str], str]
) -> dict[str, dict[str, Decimal]]:
    """Net per party of every key chain (an original and the adjustments correcting it)."""
    chains: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for tx in transactions:
        root = tx.corrects or tx.key
        base = _root_key(root)
        purpose = purpose_of(base)
        for t in tx.transfers:
            if t.credit_purpose == purpose:
                chains[base][t.credit_party] += t.amount
            if t.debit_purpose == purpose:
                chains[base][t.debit_party] -= t.amount
    return {k: _clean(v) for k, v in chains.items()}


def _root_key(key: str) -> str:
    return key.split("#", 1)[0]


def reconcile(
    desired: Sequence[_Desired],
    existing: Mapping[str, Mapping[str, Decimal]],
    adjustments_so_far: Mapping[str, int],
    *,
    today: date,
    why: Callable[[_Desired], str] | None = None,
    inputs: str | None = None,
    dues: Mapping[str, date] | None = None,
) -> tuple[list[NewTransaction], int, list[Change]]:
    """What to post so that the ledger's net per key equals ``desired`` (pure).

    ``inputs`` is every new transaction's ``inputs_digest`` (default: the digest of its
    basis). ``dues``: the due date the ledger holds per clearing key (its latest entry's).

    Returns the new transactions, the number of unchanged keys and the changes (adjustments).
    A key the ledger lacks is posted as computed; a key whose net differs gets an adjustment
    ``<key>#adj<n>`` for the difference, referencing the original key with the reason. A
    clearing whose net is unchanged but whose due date is not the ledger's (the agreement's
    ``clearing_due`` was edited) gets an adjustment that moves nothing and carries the new
    due date, which statements and reports read.
    """
    to_post: list[NewTransaction] = []
    changes: list[Change] = []
    unchanged = 0
    for want in desired:
        have = existing.get(want.key)
        target = _clean(want.vector)
        if have is None:
            if not target:
                continue
            to_post.append(_transaction(want, want.key, target, kind=want.kind,
                                        inputs=inputs))
            continue
        if dict(have) == target:
            was_due = (dues or {}).get(want.key)
            if not target or want.due is None or was_due is None or was_due == want.due:
                unchanged += 1
                continue
            n = adjustments_so_far.get(want.key, 0) + 1
            key = f"{want.key}#adj{n}"
            reason = (f"due date changed from {was_due} to {want.due} (the agreement's "
                      f"clearing_due); the net is unchanged: {_describe(target)}")
            tx = _transaction(want, key, target, kind="adjustment", corrects=want.key,
                              reason=reason, booked_on=today, inputs=inputs)
            # the net stays: the year's clearing taken back and booked again, due anew
            to_post.append(attrs.evolve(
                tx, transfers=[t.reversed() for t in tx.transfers] + list(tx.transfers)))
            changes.append(Change(key=key, corrects=want.key, before=dict(have),
                                  after=target, reason=reason))
            continue
        diff = {p: target.get(p, Decimal(0)) - have.get(p, Decimal(0)) for p in {*have, *target}}
        n = adjustments_so_far.get(want.key, 0) + 1
        key = f"{want.key}#adj{n}"
        change = f"net was {_describe(have)}, now {_describe(target)}"
        if "note" in want.meta:  # the key vanished: the agreement left, or the data did
            reason = f"{want.meta['note']}: {change}"
        else:
            cause = why(want) if why is not None else ""
            reason = f"recomputed: {change}" + (
                f"; {cause}" if cause else ""
            )
        to_post.append(
            _transaction(want, key, _clean(diff), kind="adjustment", corrects=want.key,
                         reason=reason, booked_on=today, inputs=inputs)
        )
        changes.append(Change(key=key, corrects=want.key, before=dict(have), after=target,
                              reason=reason))
    return to_post, unchanged, changes


def _describe(vector: Mapping[str, Decimal]) -> str:
    if not vector:
        return "nothing"
    parts = [f"{p} {'+' if v > 0 else ''}{v:.2f}" for p, v in sorted(vector.items())]
    return ", ".join(parts)


def _transaction(
    want: _Desired,
    key: str,
    vector: Mapping[str, Decimal],
    *,
    kind: str,
    corrects: str | None = None,
    reason: str | None = None,
    booked_on: date | None = None,
    inputs: str | None = None,
) -> NewTransaction:
    if want.component == CLEARING:
        # the clearing moves the year's net out of "accrued" into "payable"
        transfers = transfers_for(vector, PAYABLE) + transfers_for(
            {p: -v for p, v in vector.items()}, ACCRUED
        )
    else:
        transfers = transfers_for(vector, ACCRUED)
    meta = want.ledger_meta
    return NewTransaction(
        key=key,
        kind=kind,
        transfers=transfers,
        agreement=want.agreement,
        period=str(want.period),
        component=want.component,
        booked_on=booked_on or want.booked_on,
        due=want.due,
        reason=reason,
        corrects=corrects,
        inputs_digest=inputs if inputs is not None else digest(want.meta),
        meta=meta,
    )


def _desired_obligation(ob: Obligation, sections: Sequence[str]) -> _Desired:
    return _Desired(
        key=obligation_key(ob.agreement, ob.period, ob.component),
        agreement=ob.agreement,
        period=ob.period,
        component=ob.component,
        vector=_vector(ob.payer, ob.payee, ob.amount),
        kind="accrual",
        booked_on=ob.period.end,
        obligation=ob,
        sections=tuple(sections),
    )


def _desired_clearing(
    agreement: Agreement, year: int, obligations: Sequence[Obligation], nets: Sequence[NetDue]
) -> _Desired:
    """The annual clearing of one agreement: every party's net, due on ``clearing_due``.

    One transaction per agreement-year even when a pooled fund nets to several payers.
    """
    vector = party_nets(o for o in obligations if o.agreement == agreement.id)
    mine = [n.to_json() for n in nets if n.agreement == agreement.id]
    return _Desired(
        key=obligation_key(agreement.id, Period(year), CLEARING),
        agreement=agreement.id,
        period=Period(year),
        component=CLEARING,
        vector=_clean(vector),
        kind="clearing",
        booked_on=Period(year).end,
        meta={
            "agreement": agreement.id,
            "year": year,
            "name": agreement.name,
            "confidence": agreement.confidence,
            "due": agreement.due_date(year).isoformat(),
            "nets": mine,
            "explanation": "; ".join(
                f"{n['payer']} pays {n['payee']} {n['amount']} yuan" for n in mine
            ) or "no net amount between the parties this year",
        },
        due=agreement.due_date(year),
        sections=tuple(agreement.sections),
    )


# --------------------------------------------------------------------------- the run


#: How long a settlement run waits for another run that holds the database's write lock
#: (its import and computation are one transaction): 10 minutes, several province-years.
RUN_LOCK_WAIT_MS = 600_000


def require_intact(ledger: Ledger) -> None:
    """Refuse to read figures from, or post into, a ledger that fails ``verify()``.

    Statements, reports and balances are what parties pay by, and a run or a payment posted
    on top of a ledger changed behind ecocomp's back would bury the change under new entries.
    """
    report = ledger.verify()
    if not report.ok:
        path = ledger.path
        raise LedgerIntegrityError(
            report.first_bad_seq,
            f"{report.reason} — {path} fails verification, so ecocomp will neither show nor "
            f"add to it; run `ecocomp ledger verify --db {path}` and restore the file from a "
            "backup",
        )


def _has_data(assessments: Assessments, year: int) -> bool:
    """Whether any section has any valid sample or flow in ``year``."""
    return any(period.year == year and sa.items
               for (_code, period), sa in assessments.sections.items()) or any(
        day.year == year for days in assessments.daily_flows.values() for day in days)


def _superseding(project: Project) -> dict[str, list[Agreement]]:
    """For each agreement id, the project's agreements naming it in ``supersedes``: all
    that :func:`~ecocomp.agreements.superseded` looks at, found in one pass (asking it with
    every agreement of a province for every obligation was quadratic)."""
    found: dict[str, list[Agreement]] = defaultdict(list)
    for a in project.agreements:
        if a.supersedes is not None:
            found[a.supersedes].append(a)
    return found


def _in_force(project: Project, year: int) -> list[Agreement]:
    """The agreements in force in ``year``, less those superseded in every month of it."""
    newer = _superseding(project)
    return [a for a in project.agreements if a.in_force(Period(year))
            and not _superseded_all_year(a, year, newer.get(a.id, []))]


def _superseded_all_year(agreement: Agreement, year: int, newer: Sequence[Agreement]) -> bool:
    """Whether a superseding agreement (of ``newer``) settles every month ``agreement`` is
    in force in (every day of the year, for a formula prorated by days)."""
    if newer and get_formula(agreement.formula).prorated:
        return _until_superseded(agreement, newer, Period(year)) is None
    return all(superseded(agreement, m, newer)
               for m in agreement.months_in_force(Period(year)))


def require_in_force(project: Project, year: int) -> None:
    """Refuse a year in which none of the project's agreements is in force."""
    if not any(a.in_force(Period(year)) for a in project.agreements):
        raise SettlementError(
            f"no agreement of project {project.root} is in force in {year}; "
            "check the agreements' start and end dates"
        )


def import_problems(project: Project) -> list[Problem]:
    """What a run's import would refuse that no single file shows, e.g. two files that
    give one sample different values. Imports into a throw-away store in a temporary file
    (on disk, so memory stays flat however many readings there are).

    Each file is checked on its own by :func:`ecocomp.project.check_project`; this adds the
    files taken together, in the order a run imports them (readings, then corrections, then
    the air readings, which are checked here).
    """
    names = {code: s.name for code, s in project.sections.items()}
    plan = [(f, False) for f in project.readings_files]
    plan += [(f, True) for f in project.correction_files]
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory(prefix="ecocomp-check-") as folder, \
            ReadingStore.open(Path(folder) / "check.db") as store:
        for file, correction in plan:
            try:
                store.import_file(file, sections=names, correction=correction)
            except ValidationFailed as exc:
                problems.extend(exc.problems)
        problems.extend(correction_conflicts(project, store.corrections()))
        try:  # the air files (air-readings/) as a run imports them, all together
            import_air(project, store)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
    return problems


def correction_conflicts(project: Project, corrections: Iterable[Correction]) -> list[Problem]:
    """Samples two corrections files of the project correct to different values.

    Corrections files apply in name order, so the last would win without a word; that is
    refused unless the later file declares ``# supersedes: <earlier file>`` (docs/readings.md).
    """
    files = {f.name for f in project.correction_files}
    declared = project.supersedes
    found = []
    seen = set()
    for c in corrections:
        new, old = Path(c.file).name, Path(c.previous_file).name
        if new not in files or old not in files or new == old:
            continue
        if old in declared.get(new, ()) or new in declared.get(old, ()):
            continue  # declared: the later file replaces the earlier one
        key = (c.new.section, c.new.parameter, c.new.sampled_at, c.new.source,
               frozenset((new, old)))
        if key in seen:
            continue
        seen.add(key)
        found.append(Problem(
            f"{c.new.section} {c.new.parameter} at {c.new.sampled_at:%Y-%m-%d %H:%M} "
            f"({c.new.source}) is also corrected in {c.previous_file} row "
            f"{c.previous_row}, to {shown(c.old.value, c.old.below_dl, c.old.flag)}; "
            f"here {shown(c.new.value, c.new.below_dl, c.new.flag)}. Corrections "
            "files apply in name order, so the last one wins; keep the sample in one "
            f"file, or, if {new} replaces {old}, put the line '# supersedes: {old}' "
            f"before the header of {new}", file=c.file, row=c.row, field="value",
        ))
    return found


def missing_files(project: Project, store: ReadingStore, db: str | Path) -> list[Problem]:
    """Files imported into ``store`` that are no longer in the project, whose readings count.

    A readings file deleted (or moved away) after it was imported still counts: its readings
    are in the database. Renamed files (same content under another name) are not reported.
    So do readings of an earlier content of a file still in the project that its current
    content no longer holds (:func:`_edited_files`).
    """
    present = [*project.readings_files, *project.correction_files]
    names = {f.name for f in present}
    candidates = [i for i in store.imported_files(besides=names) if i.current and i.sha256]
    digests = {file_sha256(f) for f in present} if candidates else set()
    found = []
    for item in candidates:
        if item.sha256 in digests:
            continue  # renamed: the same content is still in the project
        folder = "corrections/" if item.correction else "readings/"
        found.append(Problem(
            f"imported into {db} on {item.imported_at[:10]} but no longer in {folder}; its "
            f"{item.current:,} readings still count. Put the file back, or, if it was "
            f"removed on purpose, run `ecocomp readings forget '{item.file}' --db {db}` "
            "and settle again", file=item.file,
        ))
    conn = getattr(store, "_conn", None)  # an SQLite store (air data live only there)
    if isinstance(conn, sqlite3.Connection) and conn.execute(  # air-readings/ files gone too
            "SELECT 1 FROM sqlite_master WHERE name = 'air_imports'").fetchone():
        from ecocomp.air.project import gone_air_files

        found += gone_air_files(project.root, conn, db)
    return found + _edited_files(project, store, db)



def missing_months(
    project: Project, store: ReadingStore, year: int,
    measured: Mapping[str, Mapping[str, set[str]]] | None = None,
) -> list[Problem]:
    """Sections read by the water agreements in force in ``year`` whose readings stop
    before the year's end or start after its beginning: no valid reading in the last (or
    the first) month(s) an agreement settles, or none in the whole year — a year settled
    before its readings were all in (a half-year's or a quarter's file not delivered).
    Also a section that an agreement settles by the year (an index, a fund split) with
    valid readings in half of its months or fewer: its annual value rests on them.

    The agreements' missing-data rules (skip, penalise, …) settle those months; the amounts
    follow the agreements, but settling half a year on no data should not pass in silence.
    Otherwise a month without data inside the year (a station down) is not reported: the
    statement lists it with the rule that applied. ``measured``: :func:`_measured_factors`
    of the year, when the caller has it.
    """
    wanted: dict[str, set[Period]] = defaultdict(set)
    readers: dict[str, set[str]] = defaultdict(set)
    yearly: dict[str, set[str]] = defaultdict(set)  # agreements settling it by the year
    for agreement, section, month in _sections_read(project, year):
        wanted[section].add(month)
        readers[section].add(agreement.id)
        if get_formula(agreement.formula).settles_for(agreement) == "year":
            yearly[section].add(agreement.id)
    if not wanted:
        return []
    if measured is None:
        measured = _measured_factors(store, year)
    problems = []
    for section in sorted(wanted):
        months = sorted(wanted[section], key=lambda m: m.start)
        have = measured.get(section, {})
        without = [m for m in months if str(m) not in have]
        if not without:
            continue
        if without[-1] != months[-1] and without[0] != months[0]:
            # data at both ends: a month inside without it is a station down, but for a
            # value of the year it matters how many months it rests on
            if yearly[section] and 2 * len(without) >= len(months):
                who = sorted(yearly[section])
                problems.append(Problem(
                    f"{section}: valid readings in only {len(months) - len(without)} of the "
                    f"{len(months)} months that {', '.join(who)} settle"
                    f"{'s' if len(who) == 1 else ''} by the year {year} (none in "
                    f"{_months_text(without)}); its annual value rests on them. "
                    "If readings are missing, import them and settle again"))
            continue
        shown = _months_text(without)
        count = f"{len(without)} month{'s' if len(without) > 1 else ''}"
        who = sorted(readers[section])
        problems.append(Problem(
            f"{section}: no valid readings in {shown} ({count}), which {', '.join(who)} "
            f"settle{'s' if len(who) == 1 else ''} for {year}; the agreements' missing-data "
            "rules settled "
            f"{'it' if len(without) == 1 else 'them'} (see each obligation's basis). If the "
            "readings are not all in yet, import them and settle again"))
    return problems


def _months_text(months: Sequence[Period]) -> str:
    """Months in order as "2021-07 to 2021-12" when they follow each other, else listed."""
    if len(months) > 1 and len(months) == months[-1].month - months[0].month + 1:
        return f"{months[0]} to {months[-1]}"
    return ", ".join(str(m) for m in months)


def _measured_factors(
    store: ReadingStore, year: int, sections: Collection[str] | None = None
) -> dict[str, dict[str, set[str]]]:
    """Section → month (``YYYY-MM``) → the parameters with a valid reading in it, for
    ``year``: one row a section-month from the monthly sums (10–20 ms a province-year),
    looked up by section when ``sections`` (the project's) are given, so that the years
    a store holds besides do not count."""
    conn = store._conn
    joined = ("string_agg(parameter, ',')" if getattr(conn, "dialect", "") == "postgresql"
              else "group_concat(parameter)")
    among = "" if sections is None else f"section IN ({', '.join('?' * len(sections))}) AND "
    measured: dict[str, dict[str, set[str]]] = defaultdict(dict)
    for section, month, parameters in conn.execute(
            f"SELECT section, month, {joined} FROM readings_monthly WHERE {among}month >= ? "
            "AND month <= ? AND count > 0 GROUP BY section, month",
            (*(sections or ()), f"{year}-01", f"{year}-12")).fetchall():
        measured[section][month] = set(parameters.split(","))
    return measured


def _sections_read(project: Project, year: int) -> Iterator[tuple[Agreement, str, Period]]:
    """(agreement, section, month) for each month of ``year`` that a water agreement in
    force settles on a section's readings (months a newer agreement supersedes left out)."""
    superseding = _superseding(project)
    for agreement in project.agreements:
        if get_formula(agreement.formula).inputs != "water":
            continue
        newer = superseding.get(agreement.id, [])
        for month in agreement.months_in_force(Period(year)):
            if newer and superseded(agreement, month, newer):
                continue
            for section in agreement.sections:
                yield agreement, section, month


#: Shipped formulas that pay on a section's class in each month, the worst class of its
#: factors (``params.factors``); a formula of the user's counts when it has ``factors``.
_MONTHLY_CLASS_FORMULAS = frozenset({"class_ladder", "target_reward_penalty"})
#: Names (factors, sections, files) shown in a warning before "and N more".
_SHOWN = 6


def missing_factors(
    project: Project, store: ReadingStore, year: int,
    measured: Mapping[str, Mapping[str, set[str]]] | None = None,
) -> list[Problem]:
    """Months that an agreement pays on a section's class in which factors measured in most
    of the section's other months of ``year`` have no valid reading: the month's class is
    the worst of the factors that were measured, so a month with only pH measured can be
    class Ⅰ and pay a reward that a full month would not.

    Only factors of the agreements' lists (``params.factors``), measured in more than half
    of the section's months with readings, count as missing: a factor sampled quarterly is
    not. Months without any reading are :func:`missing_months`' (or a station down). The
    amounts follow the agreements, which class a month on the factors it has; the warning
    says that it happened.
    """
    wanted: dict[str, dict[Period, set[str]]] = defaultdict(lambda: defaultdict(set))
    factors: dict[tuple[str, Period], set[str]] = defaultdict(set)
    for agreement, section, month in _sections_read(project, year):
        if not (agreement.formula in _MONTHLY_CLASS_FORMULAS
                or (get_formula(agreement.formula).settles_for(agreement) == "month"
                    and "factors" in agreement.params)):
            continue
        wanted[section][month].add(agreement.id)
        factors[(section, month)].update(factors_of(agreement))
    if not wanted:
        return []
    codes = sorted(wanted)
    if measured is None:
        measured = _measured_factors(store, year)
    problems = []
    for section in codes:
        months = measured.get(section)
        if not months or len(months) < 2:
            continue
        often = Counter(chain.from_iterable(months.values()))
        regular = {p for p, n in often.items() if 2 * n > len(months)}
        gaps = []
        named: set[str] = set()  # the factors the gaps name (one is named again)
        for month in sorted(wanted[section], key=lambda m: m.start):
            present = months.get(str(month))
            if present is None:
                continue  # no reading at all: missing_months (or a station down)
            assessed = factors[(section, month)]
            absent = sorted((regular & assessed) - present, key=_factor_order)
            if absent:
                named.update(absent)
                rest = sorted(present & assessed, key=_factor_order)
                on = (f"{rest[0]} alone" if len(rest) == 1
                      else _some(rest) if rest else "no factor: no class")
                gaps.append(f"in {month} no valid reading of {_some(absent)} (its class "
                            f"rests on {on})")
        if gaps:
            who = sorted({a for ids in wanted[section].values() for a in ids})
            which = (next(iter(named)) if len(named) == 1
                     else "these factors" if len(gaps) > 1 else "them")
            problems.append(Problem(
                f"{section}: {'; '.join(gaps)}. The section has readings of {which} in "
                f"most of its {len(months)} months with readings in {year}, and {', '.join(who)} "
                f"class{'' if len(who) > 1 else 'es'} a month on the factors it has. If "
                "readings are missing, import them and settle again"))
    return problems


def future_readings(
    store: ReadingStore, today: date, sections: Collection[str] | None = None
) -> list[Problem]:
    """Readings dated after tomorrow: a year typed wrong (2033 for 2023) or a logger's
    clock set wrong. Such a sample counts for no settled year until its date, and its
    month, if it has other samples, shows no gap: it would be lost in silence.

    Tomorrow, not today: readings are in China Standard Time and ``today`` is the
    machine's date, which on a server on UTC is a day behind China's for eight hours of
    every day (a live reading of today must not be called later than today).

    The sections come from the monthly sums (months from the day after tomorrow's on:
    one look-up a section of ``sections``, the project's, when given; else a scan of the
    sums), then the readings of those sections only (their index, from that day on).
    """
    conn = store._conn
    tomorrow = today + timedelta(days=1)
    after = (tomorrow + timedelta(days=1)).isoformat()
    among = "" if sections is None else f"section IN ({', '.join('?' * len(sections))}) AND "
    found = [r[0] for r in conn.execute(
        f"SELECT DISTINCT section FROM readings_monthly WHERE {among}month >= ? "
        "ORDER BY section", (*(sections or ()), after[:7])).fetchall()]
    later: list[tuple[str, int, str]] = []
    files: set[str] = set()
    for section in found:
        count, first = conn.execute(
            f"SELECT count(*), min(sampled_at) FROM {store._all()} WHERE superseded_by IS NULL "
            "AND section = ? AND sampled_at >= ? AND month >= ?",
            (section, after, after[:7])).fetchone()
        if count:
            later.append((section, count, first[:10]))
            files.update(r[0] for r in conn.execute(
                "SELECT DISTINCT i.file FROM readings_imports AS i WHERE i.id IN (SELECT "
                f"import_id FROM {store._all()} WHERE superseded_by IS NULL AND section = ? "
                "AND sampled_at >= ? AND month >= ?)", (section, after, after[:7])).fetchall())
    if not later:
        return []
    total = sum(count for _, count, _ in later)
    shown = [f"{section} ({count:,} from {first})"
             for section, count, first in later[:_SHOWN]]
    if len(later) > _SHOWN:
        more = len(later) - _SHOWN
        shown.append(f"{more} more section{'s' if more > 1 else ''}")
    names = sorted(files)
    db = f" --db {store.path}" if store.path not in ("", ":memory:") else ""
    return [Problem(
        f"{total:,} reading{'s are' if total > 1 else ' is'} dated after tomorrow "
        f"({tomorrow.isoformat()}): {', '.join(shown)}, from {_some(names)}. A year typed "
        "wrong or a clock set wrong? Such a reading counts for no settled year until its "
        f"date. Fix the dates in the file, run `ecocomp readings forget FILE{db}` and "
        "settle again (the file is imported again as it is then)")]


def _factor_order(code: str) -> tuple[int, str]:
    """The standard's order of the assessed items (pH, DO, CODMn, …), others after them."""
    return (ASSESSED_ITEMS.index(code) if code in ASSESSED_ITEMS else len(ASSESSED_ITEMS), code)


def _some(names: Sequence[str]) -> str:
    """The first few of ``names``, and how many more."""
    more = len(names) - _SHOWN
    return ", ".join(names[:_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _edited_files(project: Project, store: ReadingStore, db: str | Path) -> list[Problem]:
    """Project files whose earlier content held readings the file no longer holds (a row
    removed, or its section, time or parameter changed): imports only add, so those
    readings still count (:meth:`ReadingStore.outdated_readings`)."""
    files = [*((f, False) for f in project.readings_files),
             *((f, True) for f in project.correction_files)]
    problems = []
    for path, extra, stored in store.outdated_readings(files):
        one = extra == 1
        problems.append(Problem(
            f"{extra:,} reading{'' if one else 's'} imported from an earlier version of the "
            f"file {'is' if one else 'are'} no longer in it (a row removed, or its section, "
            f"time or parameter changed) and still count{'s' if one else ''}: imports only "
            f"add. If the file is right as it is now, run `ecocomp readings forget '{stored}' "
            f"--db {db}` and settle again (the file is imported again as it is now); to "
            "change a value, use corrections/", file=str(path),
        ))
    return problems




def assess_project(
    project: Project, store: ReadingStore, year: int, *, with_previous: bool = True,
    evidence: InputsDigest | None = None,
) -> Assessments:
    """Assess every section of the project for ``year`` (and the year before).

    ``evidence`` hashes the monthly sums and daily flows as they are read (docs/ledger.md).
    """
    sections = list(project.sections.values())
    codes = [s.code for s in sections]
    parts: dict[Any, Any] = {}
    flows: dict[str, dict[date, Decimal]] = {}
    for y in ((year - 1, year) if with_previous else (year,)):
        period = Period(y)
        # One section at a time: memory holds the results and one section's monthly sums,
        # however many readings there are.
        for section in sections:
            aggregates = store.aggregates(period, sections=[section.code])
            if evidence is not None:
                aggregates = evidence.aggregates(aggregates)
            parts.update(assess(aggregates, [section], period).sections)
        means = store.daily_means("flow", period, sections=codes)
        if evidence is not None:
            evidence.flows(means)
        for code, days in means.items():
            flows.setdefault(code, {}).update(days)
    return Assessments(sections=parts, daily_flows=flows)


def _water_inputs(
    project: Project, store: ReadingStore, year: int, *,
    progress: Callable[[str, int], None] | None = None, evidence: InputsDigest | None = None,
) -> Assessments:
    """The ``water`` inputs: every section assessed for ``year`` and the year before."""
    return assess_project(project, store, year, evidence=evidence)


register_inputs("water", _water_inputs, evidence=True)


def input_kinds_needed(project: Project, year: int) -> set[str]:
    """The kinds of inputs the agreements in force in ``year`` read (their formulas')."""
    return {get_formula(a.formula).inputs for a in project.agreements
            if a.in_force(Period(year))}


def _until_superseded(
    agreement: Agreement, newer: Sequence[Agreement], period: Period
) -> Agreement | None:
    """``agreement`` ending the day before the first agreement of ``newer`` (those that
    supersede it) starts in ``period``, for a formula whose amounts cover the days in force;
    None when they settle all of its days in ``period``.

    A newer agreement that ends before ``agreement`` does, so that ``agreement`` would
    resume within ``period``, is refused: a prorated year is one span of days.
    """
    first, last = max(agreement.start, period.start), min(agreement.end, period.end)
    spans = sorted((max(n.start, first), min(n.end, last)) for n in newer
                   if n.start <= last and n.end >= first)
    if not spans:
        return agreement
    cut = spans[0][0]
    covered = cut - timedelta(days=1)
    for start, end in spans:
        if start > covered + timedelta(days=1):
            break
        covered = max(covered, end)
    if covered < last:
        names = ", ".join(n.id for n in newer)
        raise SettlementError(
            f"agreement {agreement.id} ({agreement.formula}), {period}: superseded by {names} "
            f"from {cut} but not to {last}, so it would resume within {period}, and its amounts "
            "are prorated over one span of days; end it where the newer agreement starts, or "
            "give the later days their own agreement"
        )
    if cut <= first:
        return None
    return attrs.evolve(agreement, end=cut - timedelta(days=1))


@in_money_context
def compute(
    project: Project, inputs: Assessments | Mapping[str, object], year: int
) -> tuple[list[Obligation], list[NetDue]]:
    """Run every agreement in force in ``year`` (pure): obligations and nets.

    ``inputs`` maps each kind of inputs to what its builder built (:mod:`ecocomp.inputs`);
    an :class:`Assessments` alone is the ``water`` inputs.
    """
    period = Period(year)
    by_kind: Mapping[str, object] = (
        {"water": inputs} if isinstance(inputs, Assessments) else inputs
    )
    obligations: list[Obligation] = []
    superseding = _superseding(project)
    for agreement in project.agreements:
        if not agreement.in_force(period):
            continue
        newer = superseding.get(agreement.id, [])
        formula = get_formula(agreement.formula)
        if formula.inputs not in by_kind and formula.inputs != "none":
            raise SettlementError(
                f"agreement {agreement.id} ({agreement.formula}), {year}: its formula reads "
                f"{formula.inputs!r} inputs, which were not built for this run"
            )
        run_as: Agreement | None = agreement
        if newer and formula.prorated:  # its days before the newer one starts, not nothing
            run_as = _until_superseded(agreement, newer, period)
            if run_as is None:
                continue
        try:
            found = formula(run_as, by_kind.get(formula.inputs), period)
            # a newer agreement that supersedes this one settles the periods it is in force
            obligations.extend(o for o in found if not newer or formula.prorated
                               or not superseded(agreement, o.period, newer))
        except (ValueError, ArithmeticError) as exc:  # e.g. an amount beyond MAX_YUAN
            advice = "" if "; check" in str(exc) else "; check the agreement's parameters"
            raise SettlementError(
                f"agreement {agreement.id} ({agreement.formula}), {year}: {exc}{advice}"
            ) from exc
    nets = []
    by_id = {a.id: a for a in project.agreements}
    for net in net_obligations(obligations):
        agreement = by_id[net.agreement]
        nets.append(
            NetDue(
                agreement=net.agreement,
                year=year,
                payer=net.payer,
                payee=net.payee,
                amount=net.amount,
                due=agreement.due_date(year),
            )
        )
    return obligations, nets


@in_money_context
def settle(
    project: Project,
    *,
    year: int,
    ledger: Ledger | None = None,
    store: ReadingStore | None = None,
    dry_run: bool = False,
    today: date | None = None,
    progress: Callable[[str, int], None] | None = None,
    signer: Signer | None = None,
    cascade: bool = False,
    same_project: bool = False,
) -> SettlementResult:
    """Settle one year of a project: import, assess, compute, post (idempotent).

    >>> project = load_project("examples/xiangjiang-2023")            # doctest: +SKIP
    >>> result = settle(project, year=2023, ledger=Ledger.open("s.db"))  # doctest: +SKIP
    >>> result.posted, result.unchanged, result.adjusted                 # doctest: +SKIP
    (41, 0, 0)

    ``store`` defaults to a readings store in the ledger's database file. ``dry_run``
    changes nothing: with a ledger whose file already holds readings, it imports on trial
    (rolled back at the end) and reports what a real run would post, leave unchanged and
    adjust; otherwise it imports into a throw-away in-memory store and reports everything
    as to be posted.

    A real run ends, in the same transaction as its posts and the project catalog, with a
    checkpoint (signed with ``signer`` when given); ``result.head`` is that checkpoint as a
    party keeps it. A dry run makes none.

    The ledger's database must belong to ``project`` (:mod:`ecocomp.identity`; the first
    run records the project's identity); ``same_project=True`` accepts a project whose
    identity changed. Later settled years that read this year's readings (improvement
    rules) and no longer match them are returned in ``stale``; ``cascade=True`` settles
    them too, in the same atomic batch (``cascaded``).

    ``progress(file, rows)`` is called while each readings file is imported, with the rows
    imported so far; then ``progress(stage, -1)`` as each stage starts: ``"assessing"``,
    ``"computing"`` and (unless a dry run) ``"posting"``.
    """
    # A store the run opens stays open until the run ends: the readings it committed are
    # copied from the WAL into the database file meanwhile (database.Checkpointer), beside
    # the posting, and closing it waits for the copy to end.
    with contextlib.ExitStack() as run:
        return _settle(run, project, year=year, ledger=ledger, store=store, dry_run=dry_run,
                       today=today, progress=progress, signer=signer, cascade=cascade,
                       same_project=same_project)


def _settle(
    run: contextlib.ExitStack,
    project: Project,
    *,
    year: int,
    ledger: Ledger | None,
    store: ReadingStore | None,
    dry_run: bool,
    today: date | None,
    progress: Callable[[str, int], None] | None,
    signer: Signer | None,
    cascade: bool,
    same_project: bool,
) -> SettlementResult:
    """:func:`settle`, the stores it opens closed by ``run``."""
    today = today or date.today()
    in_force = _in_force(project, year)
    if not in_force and (ledger is None or not _year_transactions(ledger, year)):
        require_in_force(project, year)
    for agreement in in_force:
        for role, party in agreement.parties.items():
            if party not in project.parties:
                raise SettlementError(
                    f"agreement {agreement.id}: {role} party {party} is not in "
                    f"{project.root / 'parties.toml'}; add it there"
                )
    if ledger is None and not dry_run:
        raise SettlementError("settle needs a ledger (or dry_run=True)")
    identity: ProjectIdentity | None = None
    if ledger is not None:
        require_intact(ledger)
        identity = check_identity(
            ledger.connection if is_url(ledger.path) else ledger.path, project,
            same_project=same_project)
    if store is None:
        # the ledger's database holds the readings too (on PostgreSQL: its URL, password and all)
        path = ":memory:" if ledger is None else (
            ledger.connection.url if is_url(ledger.path) else ledger.path)
        if dry_run and path != ":memory:":
            stored = ReadingStore.version_in(path)
            if stored == 0:
                path = ":memory:"  # nothing stored yet: a dry run must not create the tables
            elif stored < STORE_SCHEMA_VERSION:
                raise SettlementError(
                    f"{path}: the readings tables are schema version {stored}, and a dry run "
                    "must not upgrade them; run `ecocomp settle` without --dry-run once (it "
                    "upgrades them), or preview on a copy"
                )
        # a run waits for another run's import (which holds the write lock) to finish
        store = ReadingStore.open(path, busy_timeout_ms=RUN_LOCK_WAIT_MS)
        run.callback(store.close)
    if is_url(store.path) and has_air_data(project.root):
        raise SettlementError(
            f"{project.root}: has air data (air-readings/, air_stations.toml), and the air "
            f"readings are kept in an SQLite file only; {store.path} is PostgreSQL. Settle "
            "this project into an SQLite file (--db settle.db); see docs/postgres.md")
    by_id = {a.id: a for a in project.agreements}
    # All of the project's files are imported, or none: the imports are committed only
    # once every file is in and the year computes, so a bad file or a formula that
    # fails leaves the database as it was. A dry run never commits them.
    with store.transaction(keep=not dry_run):
        # the readings state before the imports: a year settled earlier whose readings
        # they change is reported (_other_years_stale)
        imports_before = last_import(store)
        names = {code: s.name for code, s in project.sections.items()}
        imports = []
        corrected: list[Correction] = []
        implausible: list[str] = []  # the imported files' implausible values
        for file in project.readings_files:
            imports.append(_import(store, file, names, False, progress, None, implausible))
        for file in project.correction_files:
            imports.append(_import(store, file, names, True, progress, corrected, implausible))
        import_air(project, store)  # air-readings/, in this same transaction
        conflicts = correction_conflicts(project, corrected)
        if conflicts:
            raise ValidationFailed(conflicts, what=f"corrections of project {project.root}")
        warnings = [str(w) for w in project.warnings]
        warnings += implausible
        measured = _measured_factors(store, year, sorted(project.sections))
        warnings += [str(w) for w in missing_months(project, store, year, measured)]
        warnings += [str(w) for w in missing_factors(project, store, year, measured)]
        warnings += [str(w) for w in future_readings(store, today, sorted(project.sections))]
        if store.path != ":memory:":
            warnings += [str(w) for w in missing_files(project, store, store.path)]
        # what this run's amounts depend on, to record with its posts (None: a formula
        # from outside ecocomp, so every run settles in full)
        prints: dict[int, str | None] = {}
        reused: _Reused | None = None
        if ledger is not None and not dry_run and _same_file(store.path, ledger.path):
            prints = _fingerprints(project, store, ledger, year, identity)
            reused = _reusable(ledger, prints, last_import(store))
        if reused is None:
            this = _compute_year(project, store, year, by_id, progress)
            obligations, nets = this.obligations, this.nets
            desired, corrections = this.desired, this.corrections
            followers = (_followers(project, store, ledger, year, by_id, strict=cascade)
                         if ledger is not None else [])
            if ledger is not None:  # sums edited behind ecocomp's back: refuse them
                require_unchanged(ledger.connection, this.last_import, this.evidence,
                                  db=ledger.path)
                warnings += _other_years_stale(
                    project, store, ledger, year, by_id, imports_before,
                    {year, *(r.year for r in followers)}, today)
    if reused is not None:  # nothing new since the recorded run: its result stands
        assert ledger is not None
        return _settled_again(project, ledger, reused, identity=identity, imports=imports,
                              warnings=warnings + _stranded(project, ledger)
                              + _other_terms(project, store, ledger, year, {year}, by_id,
                                             today), signer=signer)
    if ledger is None:  # a dry run without a ledger: everything would be new
        to_post, _, _ = reconcile(list(desired), {}, {}, today=today)
        return SettlementResult(
            year=year, obligations=tuple(obligations), nets=tuple(nets), posted=len(to_post),
            unchanged=0, adjusted=0, imports=tuple(imports), dry_run=True,
            warnings=tuple(warnings),
        )
    plan = functools.partial(_plan, desired=desired, year=year, today=today, by_id=by_id,
                             corrections=corrections, inputs=this.evidence.hexdigest())
    if dry_run:  # what a real run would do, from the ledger as it is
        to_post, unchanged, changes, _ = plan(ledger)
        later = _later_years(ledger, followers, today=today, by_id=by_id, post=False)
        return SettlementResult(
            year=year, obligations=tuple(obligations), nets=tuple(nets),
            posted=len(to_post) - len(changes), unchanged=unchanged, adjusted=len(changes),
            changes=tuple(changes), imports=tuple(imports), dry_run=True,
            warnings=tuple(warnings),
            stale=() if cascade else tuple(later), cascaded=tuple(later) if cascade else (),
        )
    if progress is not None:
        progress("posting", -1)
    with ledger.batch() as batch:
        require_vouched(ledger, signer)
        to_post, unchanged, changes, keys = plan(batch)
        batch.post_many(to_post)  # one insert, one posting time for the run's posts
        adjusted = len(changes)
        posted = len(to_post) - adjusted
        del to_post  # in the ledger now: each one's meta, every basis again, can go
        warnings += _stranded(project, batch)
        # the later years that read this one: re-settled in the same batch, or reported
        later = _later_years(batch, followers, today=today, by_id=by_id, post=cascade)
        # the terms each year is now settled under
        done = [year, *(r.year for r in followers)] if cascade else [year]
        if terms_unrecordable(ledger.connection):
            warnings.append(
                f"{ledger.path}: the terms of each settled year are not recorded, so no "
                "run can say which settled years an agreement edited since changes: table "
                "settlement_terms is missing and this role may not create it; run one "
                "settlement as the database's owner, then grant_writer again "
                "(docs/postgres.md)")
        else:
            for settled_year in done:
                record_terms(ledger.connection, settled_year,
                             _year_terms(project, settled_year))
            warnings += _other_terms(project, store, ledger, year,
                                     {*done, *(r.year for r in later)}, by_id, today)
        assert identity is not None
        record_identity(ledger.connection, identity)
        # what the posted amounts were computed from (docs/ledger.md, "inputs digest")
        for run in [this, *(followers if cascade else ())]:
            record_inputs(ledger.connection, run.year, run.last_import, run.evidence)
        # what this run read and computed, so that a run with nothing new can reuse it
        _record_runs(ledger, batch.head_seq, prints, [(this, keys)] + (
            [(run, _year_keys(batch, run.year)) for run in followers] if cascade else []))
        if ledger.path != ":memory:":
            write_catalog(ledger.connection, project, year=year,
                          counts=(posted, unchanged, adjusted))
            write_zero_amounts(ledger.connection, year, obligations)
            for result in later if cascade else ():
                write_catalog(ledger.connection, project, year=result.year,
                              counts=(result.posted, result.unchanged, result.adjusted))
                write_zero_amounts(ledger.connection, result.year, result.obligations)
        head = seal(ledger, signer)
    return SettlementResult(
        year=year,
        obligations=tuple(obligations),
        nets=tuple(nets),
        posted=posted,
        unchanged=unchanged,
        adjusted=adjusted,
        changes=tuple(changes),
        imports=tuple(imports),
        warnings=tuple(warnings),
        head=head,
        stale=() if cascade else tuple(later),
        cascaded=tuple(later) if cascade else (),
    )


def _year_terms(project: Project, year: int) -> dict[str, str]:
    """The terms (:func:`ecocomp.runs.terms_digest`) of the agreements settled for ``year``."""
    sections = project.sections
    return {a.id: terms_digest(a, [sections[s].waterbody if s in sections else "" for s in
                                   a.sections]) for a in _in_force(project, year)}


def _other_terms(
    project: Project, store: ReadingStore, ledger: Ledger, year: int, handled: set[int],
    by_id: Mapping[str, Agreement], today: date,
) -> list[str]:
    """Warnings for the settled years (other than ``handled``) last settled under other terms
    (an agreement of theirs edited, added or removed since) whose amounts those terms change."""
    found = []
    for other, recorded in sorted(recorded_terms(ledger.connection).items()):
        if other in handled or not _settled(ledger, other):
            continue
        now = _year_terms(project, other)
        changed = sorted(a for a in {*recorded, *now} if recorded.get(a) != now.get(a))
        if not changed:
            continue
        what = (f"{other} was settled under other terms: agreement(s) {', '.join(changed)} "
                "changed since (edited, added or removed)")
        advice = _bring_up_to_date(project, ledger, other)
        counts = _settled_again_would(project, store, ledger, other, by_id, today)
        if isinstance(counts, str):
            found.append(f"{what}, and it no longer computes ({counts}); {advice}")
        elif counts is not None:
            found.append(f"{what}; the ledger keeps {other}'s amounts under the old terms: "
                         f"settling it again would post {counts[0]} and adjust {counts[1]}; "
                         f"{advice}")
    return found


def _bring_up_to_date(project: Project, ledger: Ledger, year: int) -> str:
    return (f"run `ecocomp settle {project.root} --year {year} --db {ledger.path}` to bring "
            "it up to date")


def _settled_again_would(
    project: Project, store: ReadingStore, ledger: Ledger, year: int,
    by_id: Mapping[str, Agreement], today: date,
) -> tuple[int, int] | str | None:
    """What settling ``year`` again would post and adjust (None: nothing), or why it no
    longer computes (the error's text)."""
    try:
        run = _compute_year(project, store, year, by_id)
    except EcocompError as exc:
        return str(exc)
    to_post, _, changes, _ = _plan(ledger, desired=run.desired, year=year, today=today,
                                   by_id=by_id, corrections=run.corrections)
    return (len(to_post) - len(changes), len(changes)) if to_post else None


def _stranded(project: Project, source: Ledger | Batch) -> list[str]:
    """Warnings for the parties no longer in the project (a code changed or removed in
    parties.toml) whose accounts the ledger still holds money in: obligations moved to the
    new code by the run's adjustments leave what was paid to (or by) the old code open."""
    held: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for account, amount in source.balances(by="account").items():
        party, _, purpose = account.rpartition(":")
        if amount and party not in project.parties and purpose in (ACCRUED, PAYABLE):
            held[party][purpose] = amount
    return [
        f"party {party} is not in parties.toml of {project.root}, but the ledger still holds "
        + ", ".join(f"{purpose} {amount:+,.2f}" for purpose, amount in sorted(amounts.items()))
        + f" yuan of it (positive: owed to it; a payment made to it before its obligations "
        f"moved to another code is still with it); see `ecocomp statement {party}` for each "
        "year and pass it on with `ecocomp pay`, or put the party back in parties.toml"
        for party, amounts in sorted(held.items())
    ]


def _same_file(a: str, b: str) -> bool:
    """Whether the store and the ledger are one database (one file, or one URL)."""
    if is_url(a) or is_url(b):
        return a == b
    return a != ":memory:" and b != ":memory:" and Path(a).resolve() == Path(b).resolve()


def _fingerprints(
    project: Project, store: ReadingStore, ledger: Ledger, year: int,
    identity: ProjectIdentity | None,
) -> dict[int, str | None]:
    """The fingerprint (:mod:`ecocomp.runs`) of ``year`` and of each later settled year
    that reads the year before it, in a chain, as :func:`_followers` finds them."""
    specs = [get_formula(a.formula) for a in project.agreements]
    formulas = [f for spec in specs for f in (spec.func, spec.check, spec.lookback)
                if f is not None]
    # the builders of their inputs too: one a user registered in place of ecocomp's own
    # (``register_inputs``) cannot be pinned either, so it makes every run a full one
    providers = {provider_of(getattr(spec, "inputs", "water")) for spec in specs}
    formulas += [p.builder for p in providers if p is not None]
    # the fingerprint covers the readings (water) and formulas that read nothing; a formula
    # reading another kind of inputs (``FormulaSpec.inputs``) makes every run a full one
    if any(getattr(spec, "inputs", "water") not in ("water", "none") for spec in specs):
        return {year: None}
    identities = _identity_text(identity)
    prints: dict[int, str | None] = {}
    later = year
    while True:
        prints[later] = fingerprint(year=later, project=project, store=store,
                                    identity=identities, formulas=formulas)
        later += 1
        if not (depends_on_previous_year(project.agreements, later)
                and _settled(ledger, later)):
            return prints


def _identity_text(identity: ProjectIdentity | None) -> str:
    if identity is None:
        return "-"
    return repr((identity.id, sorted(identity.agreements)))  # the folder: messages only


@attrs.frozen
class _Reused:
    """A recorded run whose result stands: its record, obligations and nets."""

    run: RecordedRun
    obligations: tuple[Obligation, ...]
    nets: tuple[NetDue, ...]


def _reusable(ledger: Ledger, prints: Mapping[int, str | None], now: int) -> _Reused | None:
    """The recorded run of the first year in ``prints`` when every year there was recorded
    reading exactly what a run would read now (readings state ``now``) and nothing of its
    year was posted since, and the recorded amounts are the ledger's; else None (settle in
    full)."""
    runs = []
    # the readings state each year's inputs were recorded at: a run that posted recorded
    # them at the state it read (settlement_inputs), so a run record matching the current
    # state without them was not written by a run (settle in full; and --with-readings
    # re-derives any record added to go with it)
    for year, wanted in prints.items():
        run = latest_run(ledger.connection, year)
        if wanted is None or run is None or run.fingerprint != wanted or posted_since(
                ledger.connection, year, run.ledger_seq) or not inputs_recorded_at(
                ledger.connection, year, now):
            return None
        runs.append(run)
    found, owed = recorded_result(ledger.connection, runs[0])
    obligations = tuple(_obligation(o) for o in found)
    if not _is_the_ledgers(ledger, runs[0].year, obligations):
        return None  # the record does not match the hash-chained ledger: recompute
    return _Reused(runs[0], obligations, tuple(_net(n) for n in owed))


def _is_the_ledgers(ledger: Ledger, year: int, obligations: Sequence[Obligation]) -> bool:
    """Whether the ledger's net per key of ``year`` (accrued per obligation, payable per
    agreement's clearing) is exactly what ``obligations`` give: what a full run checks
    before it posts nothing. Reads only the transfers, in fen."""
    have: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    # the year's transactions as _year_transactions selects them: payments (is_payment)
    # are not what a run reconciles
    rows = ledger.connection.execute(
        "SELECT t.key, t.corrects, x.debit_party, x.debit_purpose, x.credit_party, "
        "x.credit_purpose, x.amount_fen FROM ledger_transactions AS t "
        "JOIN ledger_transfers AS x ON x.seq = t.seq WHERE t.agreement IS NOT NULL AND "
        "(t.period = ? OR t.period LIKE ?) AND t.kind <> 'payment' AND "
        "(t.component IS NULL OR t.component <> 'payment') AND NOT EXISTS (SELECT 1 FROM "
        "ledger_transfers AS y WHERE y.seq = t.seq AND (y.debit_purpose = ? OR "
        "y.credit_purpose = ?))", (str(year), f"{year}-%", SETTLED, SETTLED))
    for key, corrects, dparty, dpurpose, cparty, cpurpose, fen in rows:
        root = _root_key(corrects or key)
        purpose = PAYABLE if root.endswith(f"/{CLEARING}") else ACCRUED
        if cpurpose == purpose:
            have[root][cparty] += fen
        if dpurpose == purpose:
            have[root][dparty] -= fen
    want: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in obligations:
        fen = int(o.amount * 100)
        for key in (obligation_key(o.agreement, o.period, o.component),
                    obligation_key(o.agreement, Period(year), CLEARING)):
            want[key][o.payer] -= fen
            want[key][o.payee] += fen

    def clean(vectors: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
        found = {k: {p: v for p, v in vector.items() if v} for k, vector in vectors.items()}
        return {k: v for k, v in found.items() if v}

    return clean(have) == clean(want)


def _record_runs(
    ledger: Ledger, seq: int, prints: Mapping[int, str | None],
    runs: Sequence[tuple[_YearRun, int]],
) -> None:
    """Record each run that has a fingerprint, with the ledger's length ``seq`` after
    the batch's posts and how many keys of its year the ledger then holds."""
    for run, keys in runs:
        found = prints.get(run.year)
        if found is None:
            continue
        record_run(ledger.connection, year=run.year, fingerprint=found,
                   ledger_seq=seq, unchanged=keys,
                   obligations=(o.frozen_json() for o in run.obligations),
                   nets=[n.to_json() for n in run.nets])


def _year_keys(source: Ledger | Batch, year: int) -> int:
    """How many keys (an original and its adjustments count once) the year holds."""
    return len(_keys(_year_transactions(source, year)))


def _settled_again(
    project: Project, ledger: Ledger, reused: _Reused, *,
    identity: ProjectIdentity | None, imports: Sequence[Mapping[str, Any]],
    warnings: Sequence[str], signer: Signer | None,
) -> SettlementResult:
    """A run with nothing new: the recorded result, the run logged, the head returned
    (checkpointed only if the latest checkpoint does not already cover everything)."""
    run = reused.run
    with ledger.batch():
        require_vouched(ledger, signer)
        latest = latest_run(ledger.connection, run.year)
        if latest is None or latest.id != run.id or posted_since(
                ledger.connection, run.year, run.ledger_seq):
            raise SettlementError(
                f"{ledger.path}: another run settled {run.year} while this one was "
                "reading; settle again"
            )
        assert identity is not None
        record_identity(ledger.connection, identity)  # e.g. the project's folder moved
        if ledger.path != ":memory:":
            write_catalog(ledger.connection, project, year=run.year,
                          counts=(0, run.unchanged, 0))
        head = seal(ledger, signer)
    return SettlementResult(
        year=run.year, obligations=reused.obligations, nets=reused.nets,
        posted=0, unchanged=run.unchanged, adjusted=0, imports=tuple(imports),
        warnings=tuple(warnings), head=head,
    )


def _obligation(data: Mapping[str, Any]) -> Obligation:
    """An obligation from its ``to_json()`` (the same object: its basis is JSON data)."""
    return Obligation(data["agreement"], Period.parse(data["period"]), data["component"],
                      data["payer"], data["payee"], Decimal(data["amount"]), data["basis"])


def _net(data: Mapping[str, Any]) -> NetDue:
    return NetDue(agreement=data["agreement"], year=data["year"], payer=data["payer"],
                  payee=data["payee"], amount=Decimal(data["amount"]),
                  due=date.fromisoformat(data["due"]))


def require_vouched(ledger: Ledger, signer: Signer | None = None) -> None:
    """Refuse to post onto transactions that no checkpoint vouches for.

    settle and pay checkpoint in the same transaction as their posts, so transactions after
    the latest checkpoint were written some other way: by a program calling
    ``Ledger.post`` directly, or by someone writing the file behind ecocomp's back (a forged
    payment with a recomputed chain). A new checkpoint over them would vouch for them, so a
    run stops and says so. A ledger with no checkpoint yet (made before checkpoints were
    automatic) is taken as it is. With ``signer``, only a checkpoint signed with that key
    counts, once the ledger has one.
    """
    checkpoints = ledger.checkpoints()
    signed = signed_by(checkpoints, signer.public_key) if signer is not None else []
    if signed:
        checkpoints = signed
        what = "checkpoint signed with this key"
    else:
        what = "checkpoint"
    if not checkpoints:
        return
    covered, count = checkpoints[-1].seq, len(ledger)
    if count > covered:
        path = ledger.path
        raise LedgerIntegrityError(
            covered + 1,
            f"transactions #{covered + 1}..#{count} of {path} come after the latest {what} "
            "and nothing vouches for them (ecocomp's settle and pay checkpoint every post) — "
            f"check them with `ecocomp ledger verify --db {path}`; if they are yours, vouch "
            f"for them with `ecocomp ledger checkpoint --db {path}`, otherwise restore the file "
            "from a backup",
        )


def seal(ledger: Ledger, signer: Signer | None = None) -> LedgerHead:
    """Checkpoint every transaction (inside the caller's batch) and return the head."""
    ledger.checkpoint(signer=signer)
    head = ledger.head()
    assert head is not None
    return head


@attrs.frozen
class _YearRun:
    """One year computed from the store: what the ledger should hold for it."""

    year: int
    obligations: list[Obligation]
    nets: list[NetDue]
    desired: list[_Desired]
    corrections: list[Correction]
    evidence: InputsDigest
    last_import: int


def _compute_year(
    project: Project, store: ReadingStore, year: int, by_id: Mapping[str, Agreement],
    progress: Callable[[str, int], None] | None = None,
) -> _YearRun:
    """Assess and compute ``year`` from the stored readings (pure but for the reads)."""
    if progress is not None:
        progress("assessing", -1)
    in_force = _in_force(project, year)
    evidence = InputsDigest()
    inputs = build_inputs(project, store, year, input_kinds_needed(project, year),
                          progress=progress, evidence=evidence)
    if "water" in inputs and not _has_data(inputs["water"], year):  # type: ignore[arg-type]
        raise SettlementError(
            f"no readings for {year} at any section of project {project.root}; check "
            "the year and that its readings files are in readings/"
        )
    corrections = store.corrections(Period(year - 1)) + store.corrections(Period(year))
    if progress is not None:
        progress("computing", -1)
    obligations, nets = compute(project, inputs, year)
    desired = [_desired_obligation(o, by_id[o.agreement].sections) for o in obligations]
    # grouped once: filtering every obligation per agreement was quadratic
    own: dict[str, list[Obligation]] = defaultdict(list)
    own_nets: dict[str, list[NetDue]] = defaultdict(list)
    for o in obligations:
        own[o.agreement].append(o)
    for n in nets:
        own_nets[n.agreement].append(n)
    desired += [_desired_clearing(a, year, own[a.id], own_nets[a.id]) for a in in_force]
    return _YearRun(year, obligations, nets, desired, corrections, evidence,
                    last_import(store))


def _settled(ledger: Ledger, year: int) -> bool:
    """Whether the ledger holds accruals or clearings of ``year``."""
    row = ledger.connection.execute(
        "SELECT 1 FROM ledger_transactions WHERE kind <> 'payment' AND agreement IS NOT NULL "
        "AND (period = ? OR period LIKE ?) LIMIT 1", (str(year), f"{year}-%"),
    ).fetchone()
    return row is not None


def _followers(
    project: Project, store: ReadingStore, ledger: Ledger, year: int,
    by_id: Mapping[str, Agreement], *, strict: bool,
) -> list[_YearRun]:
    """The settled years after ``year`` that read the year before them, in a chain
    (``year + 1``, ``year + 2`` … while each is settled and reads its predecessor),
    computed from the store as it is now.

    ``strict=False`` (no cascade): a later year that no longer computes is left for its
    own run to report, so it does not block this one.
    """
    runs = []
    later = year + 1
    while depends_on_previous_year(project.agreements, later) and _settled(ledger, later):
        try:
            runs.append(_compute_year(project, store, later, by_id))
        except EcocompError:
            if strict:
                raise
            break
        later += 1
    return runs


def readings_by_year(store: ReadingStore) -> dict[str, tuple[Any, ...]]:
    """Per year, counts and sums over the stored monthly sums (any import that changes a
    reading of the year changes them)."""
    wrap = 1_000_000_007  # keeps every SUM far from 64-bit overflow
    rows = store._conn.execute(
        "SELECT substr(month, 1, 4), count(*), sum(count), sum(high % ?), sum(low % ?), "
        "sum(inexact), sum(exponent), sum(nondetects), sum(suspect), sum(invalid) "
        "FROM readings_monthly GROUP BY 1", (wrap, wrap)).fetchall()
    return {str(row[0]): tuple(int(v or 0) for v in row[1:]) for row in rows}


def _other_years_stale(
    project: Project, store: ReadingStore, ledger: Ledger, year: int,
    by_id: Mapping[str, Agreement], before: int, handled: set[int], today: date,
) -> list[str]:
    """Warnings for the settled years other than ``handled`` (the run's year and the later
    years it reports as stale) that this run's imports changed: a correction or a late
    sample of another year (and of the year before one that reads it). The ledger keeps
    their amounts until they are settled again, so the run says so.

    ``before`` is the last import before the run's: the years of the readings imported
    since (a new sample, or a correction's new revision of one) are the years changed. A
    run that imported nothing reads no readings for it, nor does one whose store holds no
    other settled year that could be stale (a first settle).
    """
    if last_import(store) == before:
        return []
    conn = store._conn
    held = {int(y) for (y,) in conn.execute(
        "SELECT DISTINCT substr(month, 1, 4) FROM readings_monthly") if str(y).isdigit()}
    if not any(y not in handled and _settled(ledger, y) for y in held | {y + 1 for y in held}):
        return []
    changed = sorted({int(y) for (y,) in conn.execute(*store._with_packed(
        "SELECT DISTINCT substr(sampled_at, 1, 4) FROM readings WHERE import_id > ?",
        "SELECT DISTINCT substr(month, 1, 4) FROM readings_packed WHERE import_id > ?",
        (before,))) if str(y).isdigit()})
    reads: dict[int, int] = {}  # the year stale -> the year whose readings changed
    for x in changed:
        reads.setdefault(x, x)
        if depends_on_previous_year(project.agreements, x + 1):
            reads.setdefault(x + 1, x)
    found = []
    for other, source in sorted(reads.items()):
        if other in handled or not _settled(ledger, other):
            continue
        why = (f"readings of {other} changed" if source == other else
               f"it reads {source}'s readings (improvement vs last year), which changed")
        advice = _bring_up_to_date(project, ledger, other)
        counts = _settled_again_would(project, store, ledger, other, by_id, today)
        if isinstance(counts, str):
            found.append(f"{other} may be stale: {why} in this run's import, after {other} "
                         f"was settled, and it no longer computes ({counts}); {advice}")
        elif counts is not None:
            found.append(f"{other} is stale: {why} in this run's import, after {other} was "
                         f"settled; settling it again would post {counts[0]} and adjust "
                         f"{counts[1]}; {advice}")
    return found


def _later_years(
    source: Ledger | Batch, runs: Sequence[_YearRun], *, today: date,
    by_id: Mapping[str, Agreement], post: bool,
) -> list[SettlementResult]:
    """What settling each of ``runs`` would change (posted too when ``post``): the years
    whose ledger entries no longer equal a fresh computation."""
    results = []
    for run in runs:
        to_post, unchanged, changes, _ = _plan(
            source, desired=run.desired, year=run.year, today=today, by_id=by_id,
            corrections=run.corrections, inputs=run.evidence.hexdigest())
        if not to_post:
            continue
        if post:
            assert isinstance(source, Batch)
            source.post_many(to_post)
        results.append(SettlementResult(
            year=run.year, obligations=tuple(run.obligations), nets=tuple(run.nets),
            posted=len(to_post) - len(changes), unchanged=unchanged, adjusted=len(changes),
            changes=tuple(changes), dry_run=not post,
        ))
    return results


def _plan(
    source: Ledger | Batch,
    *,
    desired: Sequence[_Desired],
    year: int,
    today: date,
    by_id: Mapping[str, Agreement],
    corrections: Sequence[Correction],
    inputs: str | None = None,
) -> tuple[list[NewTransaction], int, list[Change], int]:
    """What to post so the ledger's year equals ``desired``: (to post, unchanged, changes,
    and how many keys of the year the ledger holds once they are posted).

    ``inputs``: the digest of the readings the run read, recorded as every posted
    transaction's ``inputs_digest`` (otherwise the digest of its basis).
    """
    wanted = list(desired)
    # every agreement the ledger holds for the year, also those no longer in force or
    # no longer in the project: their keys vanish below and are adjusted to zero
    existing_txs = _year_transactions(source, year)
    # obligations that vanished (data now missing, or a formula no longer yields them)
    for key in sorted(_keys(existing_txs) - {d.key for d in wanted}):
        wanted.append(_vanished(key, existing_txs, today, by_id))
    purpose = {d.key: (PAYABLE if d.component == CLEARING else ACCRUED) for d in wanted}
    existing = _existing_vectors(existing_txs, lambda k: purpose.get(k, ACCRUED))
    counts = _adjustment_counts(existing_txs)
    dues = {_root_key(tx.corrects or tx.key): tx.due for tx in existing_txs
            if tx.component == CLEARING and tx.due is not None}  # the latest entry's
    to_post, unchanged, changes = reconcile(wanted, existing, counts, today=today,
                                            why=_explain_changes(corrections), inputs=inputs,
                                            dues=dues)
    keys = _keys(existing_txs) | {_root_key(tx.corrects or tx.key) for tx in to_post}
    return to_post, unchanged, changes, len(keys)


def _explain_changes(corrections: Sequence[Correction]) -> Callable[[_Desired], str]:
    """Name the readings corrections that touch a key's sections and period."""

    def why(want: _Desired) -> str:
        # last year's data count too: improvement rules compare with the year before
        found = [
            c for c in corrections
            if c.new.section in want.sections
            and (want.period.contains(c.new.sampled_at)
                 or want.period.shift_years(-1).contains(c.new.sampled_at))
        ]
        if not found:
            return "the project's readings or agreement files changed since the last run"
        shown = "; ".join(c.reason for c in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        return f"readings corrected: {shown}{more}"

    return why


def _import(
    store: ReadingStore,
    file: Path,
    names: Mapping[str, str],
    correction: bool,
    progress: Callable[[str, int], None] | None,
    corrected: list[Correction] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    callback = (lambda rows: progress(str(file), rows)) if progress else None
    result = store.import_file(file, sections=names, correction=correction, progress=callback)
    if corrected is not None:
        corrected.extend(result.corrected)
    if warnings is not None:
        warnings.extend(str(w) for w in result.warnings)
    return {
        "file": str(file),
        "rows": result.rows,
        "inserted": result.inserted,
        "unchanged": result.unchanged,
        "corrected": len(result.corrected),
        "correction": correction,
    }


def _year_transactions(ledger: Ledger | Batch, year: int) -> list[Transaction]:
    """The year's accruals, clearings and their corrections (payments and their reversals
    excluded)."""
    return [
        tx for tx in ledger.transactions()
        if not is_payment(tx) and tx.agreement and tx.period
        and Period.parse(tx.period).year == year
    ]


def _keys(transactions: Iterable[Transaction]) -> set[str]:
    return {_root_key(tx.corrects or tx.key) for tx in transactions}


def _adjustment_counts(transactions: Iterable[Transaction]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for tx in transactions:
        if tx.corrects:
            counts[_root_key(tx.corrects)] += 1
    return counts


def _vanished(
    key: str,
    transactions: Sequence[Transaction],
    today: date,
    agreements: Mapping[str, Agreement],
) -> _Desired:
    first = next(tx for tx in transactions if tx.key == key)
    agreement = agreements.get(first.agreement or "")
    if agreement is None:
        note = f"agreement {first.agreement} is no longer in the project"
    elif not agreement.in_force(first_period := Period.parse(first.period or "")):
        note = f"agreement {agreement.id} is not in force in {first_period}"
    else:
        note = "no longer computed from the latest data"
    return _Desired(
        key=key,
        agreement=first.agreement or "",
        period=Period.parse(first.period or ""),
        component=first.component or "",
        vector={},
        kind="accrual",
        booked_on=today,
        meta={"key": key, "note": note, "explanation": f"{key}: {note}"},
        due=first.due,
        sections=tuple(agreement.sections) if agreement else (),
    )


@in_money_context
def pay(
    ledger: Ledger,
    *,
    agreement: str,
    year: int,
    payer: str,
    payee: str,
    amount: Decimal,
    paid_on: date,
    reference: str,
    today: date | None = None,
    allow_future: bool = False,
    signer: Signer | None = None,
) -> Transaction:
    """Record an actual transfer against a clearing (reference number, date).

    The payment reduces what the payer owes (``payable``) and moves the money in ``settled``.
    References are compared as a person reads them (:func:`normalise_reference`): recording
    an equivalent reference again with the same content is a no-op, with different content
    it is refused (reverse the first with :func:`reverse_payment`). Over-paying the open
    amount is refused, and so is a date before ``year`` began or after ``today`` (default:
    the local date) unless ``allow_future``. A checkpoint (signed with ``signer`` when
    given) commits with the payment; read it with ``ledger.head()``.
    """
    shown = _reference_text(reference)
    require_intact(ledger)
    with ledger.batch() as batch:  # the check and the post see the same ledger
        require_vouched(ledger, signer)
        tx = _pay(batch, agreement, year, payer, payee, amount, paid_on, shown,
                  today or date.today(), allow_future)
        seal(ledger, signer)
        return tx


def payment_key(agreement: str, year: int, reference: str) -> str:
    """The ledger key of a payment: one per agreement, settled year and bank reference.

    Payments posted by :func:`pay` use the normalised reference
    (:func:`normalise_reference`); one re-entered after a reversal adds ``#2``, ``#3``, ….
    """
    return f"{agreement}/{year}/payment/{reference}"


def _reference_text(reference: str) -> str:
    """The reference as typed (trimmed), refusing one that is empty once normalised."""
    if not normalise_reference(reference):
        raise SettlementError(
            f"payment reference {reference!r} is empty; write the bank or treasury number "
            "on the payment order"
        )
    if any(unicodedata.category(c) == "Cc" for c in reference.strip()):
        raise SettlementError(
            f"payment reference {reference.strip()!r} contains a control character; type "
            "the number as printed on the payment order"
        )
    return " ".join(reference.split())


def is_payment(tx: Transaction) -> bool:
    """A payment, or a reversal or adjustment of one (money moved in ``settled``)."""
    return tx.kind == "payment" or tx.component == "payment" or any(
        SETTLED in (t.debit_purpose, t.credit_purpose) for t in tx.transfers)


@attrs.frozen
class _Recorded:
    payment: Transaction
    reversal: Transaction | None


def _recorded(
    source: Ledger | Batch, reference: str, *, agreement: str | None = None,
    year: int | None = None,
) -> list[_Recorded]:
    """The payments whose reference reads as ``reference``, each with its reversal if any."""
    wanted = normalise_reference(reference)
    found = []
    for tx in source.transactions(kind="payment", agreement=agreement):
        if year is not None and tx.period != str(year):
            continue
        if tx.reference is None or normalise_reference(tx.reference) != wanted:
            continue
        reversals = source.transactions(corrects=tx.key, kind="reversal")
        found.append(_Recorded(tx, reversals[0] if reversals else None))
    return found


def recorded_payment(
    ledger: Ledger, *, agreement: str, year: int, reference: str
) -> Transaction | None:
    """The payment (not reversed) already recorded under an equivalent reference, if any."""
    live = [r.payment for r in _recorded(ledger, reference, agreement=agreement, year=year)
            if r.reversal is None]
    return live[0] if live else None


def _payment_content(tx: Transaction) -> dict[str, str | None]:
    """Payer, payee, amount and date of a recorded payment, read from its transfers."""
    moved = [t for t in tx.transfers if t.credit_purpose == SETTLED]
    payer = moved[0].debit_party if len(moved) == 1 else tx.meta.get("payer")
    payee = moved[0].credit_party if len(moved) == 1 else tx.meta.get("payee")
    amount = f"{moved[0].amount:.2f}" if len(moved) == 1 else tx.meta.get("amount")
    return {"payer": payer, "payee": payee, "amount": amount,
            "paid_on": tx.booked_on.isoformat()}


def _check_date(what: str, day: date, today: date, allow_future: bool, flag: str) -> None:
    if day > today and not allow_future:
        raise SettlementError(
            f"{what}: dated {day}, after today ({today}); check the date, or pass {flag} "
            "if the order really is dated ahead"
        )


def _pay(
    batch: Batch, agreement: str, year: int, payer: str, payee: str, amount: Decimal,
    paid_on: date, reference: str, today: date, allow_future: bool,
) -> Transaction:
    earlier = _recorded(batch, reference, agreement=agreement, year=year)
    live = [r.payment for r in earlier if r.reversal is None]
    meta = {"payer": payer, "payee": payee, "amount": f"{amount:.2f}",
            "reference": reference, "paid_on": paid_on.isoformat()}
    if live:
        old = live[0]
        was = _payment_content(old)
        now = {k: meta[k] for k in was}
        if was == now:
            return old  # the same payment again: a no-op
        differences = ", ".join(f"{k} {was[k]} → {now[k]}" for k in was if was[k] != now[k])
        raise SettlementError(
            f"payment {reference}: reference {old.reference!r} is already recorded as "
            f"transaction #{old.seq} under {agreement} for {year}, differently ({differences}); "
            f"if that entry was mistyped, reverse it first (ecocomp pay --reverse "
            f"\"{old.reference}\" --reason \"...\"), then record the payment again"
        )
    if paid_on < date(year, 1, 1):
        raise SettlementError(
            f"payment {reference}: dated {paid_on}, before {year} began, so it cannot pay "
            f"{year}'s clearing; check the date and the year"
        )
    _check_date(f"payment {reference}", paid_on, today, allow_future, "--allow-future")
    year_txs = [tx for tx in batch.transactions(agreement=agreement)
                if tx.period == str(year)]
    if not year_txs:
        raise SettlementError(
            f"payment {reference}: nothing is settled under agreement {agreement!r} for "
            f"{year}; check the agreement id and the year (settle the year first)"
        )
    owed = -sum((tx.effect(payer, PAYABLE) for tx in year_txs), _ZERO)
    due = sum((tx.effect(payee, PAYABLE) for tx in year_txs), _ZERO)
    if owed <= 0:
        raise SettlementError(
            f"payment {reference}: {payer} owes nothing under {agreement} for {year}; "
            "check the agreement, year and payer (settle the year first)"
        )
    if due <= 0:
        raise SettlementError(
            f"payment {reference}: {payee} is owed nothing under {agreement} for {year}; "
            "check the payee"
        )
    if amount > min(owed, due):
        raise SettlementError(
            f"payment {reference}: {payer} owes {min(owed, due):.2f} yuan to {payee} "
            f"under {agreement} for {year}, not {amount:.2f}; check the amount"
        )
    base = payment_key(agreement, year, normalise_reference(reference))
    key, n = base, len(earlier) + 1
    while batch.get(key) is not None:  # re-entered after a reversal: a fresh key
        key, n = f"{base}#{n}", n + 1
    tx = NewTransaction(
        key=key,
        kind="payment",
        transfers=[
            Transfer.between(payee, payer, amount, purpose=PAYABLE),
            Transfer.between(payer, payee, amount, purpose=SETTLED),
        ],
        agreement=agreement,
        period=str(year),
        component="payment",
        booked_on=paid_on,
        reference=reference,
        meta=meta,
    )
    return batch.post(tx).transaction


def reverse_payment(
    ledger: Ledger,
    *,
    reference: str,
    reason: str,
    agreement: str | None = None,
    year: int | None = None,
    booked_on: date | None = None,
    today: date | None = None,
    allow_future: bool = False,
    signer: Signer | None = None,
) -> Transaction:
    """Reverse a recorded payment (e.g. a mistyped amount): a ``reversal`` with the reason.

    The payment is found by its reference, compared as :func:`pay` compares them;
    ``agreement`` and ``year`` narrow the search when one reference was used under several
    agreement-years. The reversal restores what the payer owes and is booked on
    ``booked_on`` (default ``today``, the local date). A payment is reversed at most once;
    an unknown reference, a payment already reversed or an empty reason is refused. A
    checkpoint (signed with ``signer`` when given) commits with the reversal.
    """
    shown = _reference_text(reference)
    why = " ".join(reason.split())
    if not why:
        raise SettlementError(
            f"reversing payment {shown}: the reason is empty; say why it is reversed "
            "(--reason), e.g. \"amount mistyped, order says 300000.00\""
        )
    today = today or date.today()
    day = booked_on or today
    require_intact(ledger)
    with ledger.batch() as batch:
        require_vouched(ledger, signer)
        found = _recorded(batch, shown, agreement=agreement, year=year)
        where = "".join([f" under {agreement}" if agreement else "",
                         f" for {year}" if year is not None else ""])
        if not found:
            raise SettlementError(
                f"reversing payment {shown}: no payment with this reference{where} in "
                f"{ledger.path}; check the reference (`ecocomp statement PARTY --year YEAR` "
                "lists the payments with their references)"
            )
        live = [r.payment for r in found if r.reversal is None]
        if not live:
            last = found[-1]
            assert last.reversal is not None
            raise SettlementError(
                f"reversing payment {shown}: transaction #{last.payment.seq} "
                f"({last.payment.key}) was already reversed by #{last.reversal.seq} on "
                f"{last.reversal.booked_on} ({last.reversal.reason}); a payment is reversed "
                "once — nothing changed"
            )
        if len(live) > 1:
            listed = ", ".join(f"{p.agreement} {p.period} (#{p.seq})" for p in live)
            raise SettlementError(
                f"reversing payment {shown}: the reference matches payments under {listed}; "
                "name the one to reverse with --agreement and --year"
            )
        payment = live[0]
        what = f"reversing payment {shown} (#{payment.seq})"
        adjusted = batch.transactions(corrects=payment.key, kind="adjustment")
        if adjusted:
            raise SettlementError(
                f"{what}: it was adjusted by #{adjusted[0].seq} ({adjusted[0].reason}); a "
                "reversal undoes the original amount only, so post an adjustment of the "
                "adjusted amount instead"
            )
        if day < payment.booked_on:
            raise SettlementError(
                f"{what}: the reversal is dated {day}, before the payment ({payment.booked_on}); "
                "check the date"
            )
        _check_date(what, day, today, allow_future, "--allow-future")
        tx = NewTransaction(
            key=f"{payment.key}#reversal",
            kind="reversal",
            transfers=[t.reversed() for t in payment.transfers],
            agreement=payment.agreement,
            period=payment.period,
            component=payment.component,
            booked_on=day,
            reason=why,
            corrects=payment.key,
            reference=payment.reference,
            meta={"reverses": payment.key, "reference": payment.reference, "reason": why,
                  "amount": payment.meta.get("amount"), "payer": payment.meta.get("payer"),
                  "payee": payment.meta.get("payee")},
        )
        reversal = batch.post(tx).transaction
        seal(ledger, signer)
        return reversal
