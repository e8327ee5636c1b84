"""A settlement project: a folder of parties, sections, agreements and readings files.

```
parties.toml        [[party]] tables
sections.toml       [[section]] tables (not needed when no agreement reads water)
agreements/*.toml   one agreement per file (JSON also accepted)
readings/*.csv|xlsx any number of readings files (long or wide; CSV or Excel); none needed
                    when no agreement reads water (e.g. only area_rate agreements)
corrections/*.csv|xlsx revised readings, imported explicitly as corrections (optional)
```

:func:`check_project` lists every problem in every file at once; :func:`load_project`
raises one :class:`~ecocomp.errors.ValidationFailed` with all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from ecocomp.agreement_files import agreement_warnings, load_agreements
from ecocomp.agreements import Agreement
from ecocomp.errors import EcocompError, Problem, ValidationFailed
from ecocomp.formulas import get_spec
from ecocomp.readings import check_readings, declared_supersedes
from ecocomp.watershed import Party, Section, Watershed, load_parties, load_sections

__all__ = ["Project", "check_project", "load_project"]

READINGS_GLOBS = ("*.csv", "*.xlsx")
#: What a readings or corrections folder may hold (the suffix in any case).
READINGS_SUFFIXES = (".csv", ".xlsx")
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
    #: Files skipped on purpose (hidden files such as .DS_Store, Excel's ~$ lock files) and
    #: agreements' odd but possible values (a ladder paying less for cleaner water), one
    #: located warning each: check and settle print them.
    warnings: tuple[Problem, ...] = ()
    #: For each corrections file (by name), the earlier corrections files it supersedes, as
    #: declared on its ``# supersedes: …`` line (docs/readings.md).
    supersedes: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @property
    def watershed(self) -> Watershed:
        return Watershed(parties=self.parties, sections=self.sections)

    def __repr__(self) -> str:
        return (f"<Project {str(self.root)!r}: {len(self.parties)} parties, "
                f"{len(self.sections)} sections, {len(self.agreements)} agreements, "
                f"{len(self.readings_files)} readings files, "
                f"{len(self.correction_files)} corrections files>")

    def agreement(self, agreement_id: str) -> Agreement:
        for agreement in self.agreements:
            if agreement.id == agreement_id:
                return agreement
        known = ", ".join(a.id for a in self.agreements)
        raise EcocompError(f"no agreement {agreement_id!r} in {self.root}; known: {known}")


def _readings_files(
    folder: Path, problems: list[Problem], warnings: list[Problem]
) -> tuple[Path, ...]:
    """The ``*.csv``/``*.xlsx`` files of ``folder``; anything else there is a problem.

    A file ecocomp does not read (``.xls``, ``.txt``, an editor's ``.csv~``) or a sub-folder
    would otherwise be left out of the settlement without a word. Hidden files (``.DS_Store``,
    ``._x.csv``) and Excel's lock files (``~$x.xlsx``) are made by the system, not by people:
    they are skipped with a warning.
    """
    if not folder.is_dir():
        return ()
    found = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if name.startswith((".", "~$")):
            what = "Excel lock" if name.startswith("~$") else "hidden"
            warnings.append(Problem(
                f"{what} file skipped (not read as readings); delete it if it is not a system "
                "file", file=str(entry),
            ))  # fmt: skip
        elif entry.is_dir():
            problems.append(Problem(
                f"is a sub-folder; ecocomp reads only the files directly in {folder.name}/, so "
                "its files would be left out: move them up into the folder, or move the "
                "sub-folder out of the project", file=str(entry),
            ))  # fmt: skip
        elif entry.suffix.lower() not in READINGS_SUFFIXES:
            hint = ("open it in Excel and save it as .xlsx or CSV" if entry.suffix.lower()
                    == ".xls" else "rename or convert it to .csv or .xlsx if it holds readings")
            problems.append(Problem(
                f"is not a readings file (only *.csv and *.xlsx are read), so its data would "
                f"be left out; {hint}, or move it out of {folder.name}/", file=str(entry),
            ))  # fmt: skip
        else:
            found.append(entry)
    return tuple(found)


def _supersedes(files: tuple[Path, ...], problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    """The ``# supersedes:`` declarations of the corrections files, checked.

    A file may supersede only a corrections file of the project that applies before it
    (corrections apply in name order), so that the declared one really is the one that wins.
    """
    names = [f.name for f in files]
    found: dict[str, tuple[str, ...]] = {}
    for file in files:
        named = []
        for line, other in declared_supersedes(file):
            base = Path(other).name
            if base not in names:
                problems.append(Problem(
                    f"supersedes {other!r}, which is not a file in corrections/ (there: "
                    f"{', '.join(names)}); name an earlier corrections file, or remove the line",
                    file=str(file), row=line, field="supersedes"))
            elif names.index(base) >= names.index(file.name):
                problems.append(Problem(
                    f"supersedes {other!r}, but corrections files apply in name order and "
                    f"{other!r} comes {'after' if base != file.name else 'as'} this one, so "
                    "it would win; rename the files so the superseding one sorts last (e.g. "
                    "a later date first in the name)", file=str(file), row=line,
                    field="supersedes"))
            else:
                named.append(base)
        if named:
            found[file.name] = tuple(named)
    return found


def _reads_water(agreements: object) -> bool:
    """Whether any of the loaded agreements reads water (True when they did not load)."""
    if not isinstance(agreements, list):
        return True
    return any(get_spec(a.formula).inputs == "water" for a in agreements)


def _formulas_read_water(folder: Path) -> bool:
    """Whether an agreement file in ``folder`` names a formula that reads water (or one that
    cannot be told: an unreadable file, an unknown formula)."""
    from ecocomp.agreement_files import _read  # the files as load_agreements reads them

    for pattern in AGREEMENT_GLOBS:
        for file in sorted(folder.glob(pattern)):
            data, _locate, _problems = _read(file)
            try:
                if data is None or get_spec(str(data["formula"])).inputs == "water":
                    return True
            except Exception:  # any doubt (no formula, an unknown one): it may read water
                return True
    return False


def _collect(problems: list[Problem], load: Callable[[], object]) -> object | None:
    try:
        return load()
    except ValidationFailed as exc:
        problems.extend(exc.problems)
    except EcocompError as exc:
        problems.extend(getattr(exc, "problems", (Problem(str(exc)),)))
    return None


def _scan(
    path: str | Path,
    *,
    readings: bool,
    progress: Callable[[str], None] | None = None,
    warnings: list[Problem] | None = None,
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
    # a project whose agreements read no water (南山 area_rate) needs no sections.toml; when
    # they do not load, their formula keys say it (else their problems were hidden behind a
    # "sections.toml is missing" they do not need)
    no_sections = False
    if [p.file for p in problems] == [str(root / "sections.toml")]:
        loaded = _collect([], lambda: load_agreements(root / "agreements"))
        no_sections = (not _reads_water(loaded) if loaded is not None
                       else not _formulas_read_water(root / "agreements"))
    if problems and not no_sections:
        return None, problems
    problems = []

    parties = _collect(problems, lambda: load_parties(root / "parties.toml"))
    sections = {} if no_sections else _collect(
        problems, lambda: load_sections(root / "sections.toml"))
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
    # files skipped on purpose, and agreements' odd but possible values: warnings
    skipped: list[Problem] = agreement_warnings(agreements) if agreements else []
    readings_files = _readings_files(root / "readings", problems, skipped)
    correction_files = _readings_files(root / "corrections", problems, skipped)
    if warnings is not None:
        warnings.extend(skipped)
    if not readings_files and (_reads_water(agreements) if agreements is not None
                               else _formulas_read_water(root / "agreements")):
        problems.append(Problem("no readings files (*.csv, *.xlsx) found",
                                file=str(root / "readings")))
    supersedes = _supersedes(correction_files, problems)
    if readings:
        known = sections if isinstance(sections, dict) else None
        names = {code: s.name for code, s in known.items()} if known else None
        for file in (*readings_files, *correction_files):
            if progress is not None:
                progress(str(file))
            # implausible values (a unit slip?) are warnings: the file still imports
            problems.extend(check_readings(file, sections=names, warnings=warnings))
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
        warnings=tuple(skipped),
        supersedes=supersedes,
    )
    return project, []


def check_project(
    path: str | Path,
    *,
    progress: Callable[[str], None] | None = None,
    warnings: list[Problem] | None = None,
) -> list[Problem]:
    """Every problem in every file of a project folder (empty when it is valid).

    Files skipped on purpose (hidden files, Excel lock files), agreements' odd but possible
    values and readings' implausible values (:func:`ecocomp.readings.check_readings`) are
    not problems; pass a list as ``warnings`` to have them appended to it.

    >>> check_project("examples/xiangjiang-2023")  # doctest: +SKIP
    []
    """
    return _scan(path, readings=True, progress=progress, warnings=warnings)[1]


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
