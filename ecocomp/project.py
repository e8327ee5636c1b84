"""A settlement project: a folder of parties, sections, agreements and readings files.

```
parties.toml        [[party]] tables
sections.toml       [[section]] tables
agreements/*.toml   one agreement per file (JSON also accepted)
readings/*.csv      any number of readings files (long or wide)
corrections/*.csv   revised readings, imported explicitly as corrections (optional)
```

:func:`check_project` lists every problem in every file at once; :func:`load_project`
raises one :class:`~ecocomp.errors.ValidationFailed` with all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from ecocomp.agreements import Agreement, load_agreements
from ecocomp.errors import EcocompError, Problem, ValidationFailed
from ecocomp.readings import check_readings
from ecocomp.watershed import Party, Section, Watershed, load_parties, load_sections

__all__ = ["Project", "check_project", "load_project"]

READINGS_GLOBS = ("*.csv", "*.CSV")
#: What load_agreements reads (the suffix in any case), for messages.
AGREEMENT_GLOBS = ("*.toml", "*.json")


@attrs.frozen
class Project:
    """A validated settlement project."""

    root: Path
    parties: Mapping[str, Party]
    sections: Mapping[str, Section]
    agreements: tuple[Agreement, ...]
    readings_files: tuple[Path, ...]
    correction_files: tuple[Path, ...] = ()

    @property
    def watershed(self) -> Watershed:
        return Watershed(parties=self.parties, sections=self.sections)

    def agreement(self, agreement_id: str) -> Agreement:
        for agreement in self.agreements:
            if agreement.id == agreement_id:
                return agreement
        known = ", ".join(a.id for a in self.agreements)
        raise EcocompError(f"no agreement {agreement_id!r} in {self.root}; known: {known}")


def _csv_files(folder: Path) -> tuple[Path, ...]:
    if not folder.is_dir():
        return ()
    found = {p for pattern in READINGS_GLOBS for p in folder.glob(pattern)}
    return tuple(sorted(found))


def _collect(problems: list[Problem], load: Callable[[], object]) -> object | None:
    try:
        return load()
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    except EcocompError as exc:
        problems.extend(getattr(exc, "problems", (Problem(str(exc)),)))
    return None


def _scan(
    path: str | Path, *, readings: bool, progress: Callable[[str], None] | None = None
) -> tuple[Project | None, list[Problem]]:
    root = Path(path)
    problems: list[Problem] = []
    if not root.is_dir():
        return None, [Problem("is not a project folder (expected parties.toml, sections.toml, "
                              "agreements/ and readings/)", file=str(root))]
    for required in ("parties.toml", "sections.toml"):
        if not (root / required).is_file():
            problems.append(Problem("file is missing", file=str(root / required)))
    if not (root / "agreements").is_dir():
        problems.append(Problem("folder is missing; put one agreement per file in it",
                                file=str(root / "agreements")))
    if problems:
        return None, problems

    parties = _collect(problems, lambda: load_parties(root / "parties.toml"))
    sections = _collect(problems, lambda: load_sections(root / "sections.toml"))
    if isinstance(parties, dict) and isinstance(sections, dict):
        network = Watershed(parties=parties, sections=sections)
        problems.extend(network.problems())
    agreements = _collect(
        problems,
        lambda: load_agreements(
            root / "agreements",
            # the loaded tables, so agreements are checked against the sections' sides,
            # waterbodies and the parties' divisions too
            parties=parties if isinstance(parties, dict) else None,
            sections=sections if isinstance(sections, dict) else None,
        ),
    )
    if agreements == []:
        problems.append(Problem(
            f"no agreement files ({', '.join(AGREEMENT_GLOBS)}) found; put one agreement per "
            "file in it",
            file=str(root / "agreements"),
        ))  # fmt: skip
    readings_files = _csv_files(root / "readings")
    correction_files = _csv_files(root / "corrections")
    if not readings_files:
        problems.append(Problem("no readings files (*.csv) found", file=str(root / "readings")))
    if readings:
        known = sections if isinstance(sections, dict) else None
        names = {code: s.name for code, s in known.items()} if known else None
        for file in (*readings_files, *correction_files):
            if progress is not None:
                progress(str(file))
            problems.extend(check_readings(file, sections=names))
    if problems:
        return None, problems
    assert isinstance(parties, dict) and isinstance(sections, dict)
    project = Project(
        root=root,
        parties=parties,
        sections=sections,
        agreements=tuple(agreements or ()),  # type: ignore[arg-type]
        readings_files=readings_files,
        correction_files=correction_files,
    )
    return project, []


def check_project(
    path: str | Path, *, progress: Callable[[str], None] | None = None
) -> list[Problem]:
    """Every problem in every file of a project folder (empty when it is valid).

    >>> check_project("examples/xiangjiang-2023")  # doctest: +SKIP
    []
    """
    return _scan(path, readings=True, progress=progress)[1]


def load_project(path: str | Path, *, check_readings: bool = False) -> Project:
    """Load and validate a project folder; raise ValidationFailed listing every problem.

    Readings files are validated when they are imported (atomically, per file); pass
    ``check_readings=True`` to validate them all up front as well.
    """
    project, problems = _scan(path, readings=check_readings)
    if problems:
        raise ValidationFailed(problems, what=f"project {path}")
    assert project is not None
    return project
