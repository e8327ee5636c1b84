"""Every error ecocomp raises on purpose: one root, one subclass per kind of problem.

Messages say what is wrong, where (file:row:field, section, period, sequence number) and how
to fix it, in one line, so the command line can print them without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

__all__ = [
    "AgreementError",
    "AssessmentError",
    "EcocompError",
    "FormulaError",
    "IdempotencyConflict",
    "InputError",
    "LedgerError",
    "LedgerIntegrityError",
    "Problem",
    "SettlementError",
    "StandardError",
    "UnbalancedTransaction",
    "ValidationFailed",
]


class EcocompError(Exception):
    """Root of every error ecocomp raises deliberately."""


@attrs.frozen
class Problem:
    """One problem in one input: where it is and what is wrong.

    ``str(problem)`` reads ``file:row:field: message`` (parts that are unknown are left out),
    the form editors and terminals recognise.
    """

    message: str
    file: str | None = None
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ":".join(
            str(part) for part in (self.file, self.row, self.field) if part not in (None, "")
        )
        return f"{where}: {self.message}" if where else self.message


class InputError(EcocompError):
    """A single bad input value, named by file, row (or line) and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.problem = Problem(message, file=file, row=row, field=field)
        super().__init__(str(self.problem))

    @property
    def problems(self) -> tuple[Problem, ...]:
        return (self.problem,)


class ValidationFailed(InputError):
    """Several problems found in one pass; nothing was written.

    Loaders collect every problem of an input before raising (like beancount), so a user can
    fix a file in one go. ``problems`` lists them all; ``str()`` shows the first few.
    """

    shown = 20

    def __init__(self, problems: Iterable[Problem], *, what: str = "input") -> None:
        found = tuple(problems)
        if not found:
            raise ValueError("ValidationFailed needs at least one problem")
        self._problems = found
        lines = [str(p) for p in found[: self.shown]]
        more = len(found) - self.shown
        if more > 0:
            lines.append(f"... and {more} more problem(s)")
        head = f"{len(found)} problem(s) in {what}; nothing was written"
        EcocompError.__init__(self, head + ":\n" + "\n".join(lines))
        self.problem = found[0]

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self._problems


class StandardError(EcocompError):
    """Unknown parameter, unit or class, or a malformed standard data file."""


class AgreementError(InputError):
    """An agreement file is invalid: names the file and the key."""


class AssessmentError(EcocompError):
    """An assessment was asked for something the data cannot answer."""


class FormulaError(EcocompError):
    """A formula cannot run: unknown name, missing data under an ``error`` policy, bad params."""


class SettlementError(EcocompError):
    """A settlement run was refused (agreement not in force, party missing, ...)."""


class ProjectMismatch(SettlementError):
    """The database belongs to another project (docs/project.md, "One database, one project")."""


class LedgerError(EcocompError):
    """The ledger refused an operation."""


class UnbalancedTransaction(LedgerError):
    """A transaction's transfers do not sum to zero, or an amount is not whole fen."""


class IdempotencyConflict(LedgerError):
    """A key was posted before with different content ("exists with different fields")."""

    def __init__(self, key: str, differences: Sequence[str]) -> None:
        self.key = key
        self.differences = tuple(differences)
        super().__init__(
            f"idempotency key {key!r} already posted with different "
            f"{', '.join(self.differences) or 'content'}; post a correction "
            "(reversal or adjustment) instead of re-posting the key"
        )


class LedgerIntegrityError(LedgerError):
    """``verify`` found the first bad transaction; ``seq`` names it."""

    def __init__(self, seq: int | None, reason: str) -> None:
        self.seq = seq
        self.reason = reason
        where = f"transaction #{seq}" if seq is not None else "ledger"
        super().__init__(f"{where}: {reason}")
