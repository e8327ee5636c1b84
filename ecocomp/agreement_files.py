"""Agreement files → admitted :class:`~ecocomp.agreements.Agreement` values.

Files (TOML or JSON) are checked against ``schemas/agreement.schema.json``; the named formula
then admits the data (:meth:`ecocomp.formulas.registry.FormulaSpec.admit`: roles, params
schema, coercion, money, its own checks); what only a project knows is checked here (party
and section codes, the sections' sides and waterbodies). Every problem of every file is
collected before one :class:`~ecocomp.errors.ValidationFailed` is raised, each naming the
file, the line and the key. This module sits above both the agreement value and the formula
registry; importing it registers the shipped formulas.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from ecocomp.agreements import (
    Agreement,
    overlap_problems,
    part_span_warnings,
    roles_of,
    thaw,
)
from ecocomp.errors import AgreementError, FormulaError, Problem, ValidationFailed
from ecocomp.formulas import get_spec
from ecocomp.formulas.registry import FormulaSpec, pinpoint, value_problems
from ecocomp.presets import TEMPLATES
from ecocomp.standards import gb3838
from ecocomp.validation import (
    TomlLocator,
    limit_problem,
    read_project_file,
    schema_problems,
    too_deep_message,
)

__all__ = [
    "agreement_from_dict",
    "agreement_problems",
    "load_agreement",
    "load_agreements",
    "preset",
    "presets",
]

_TOML_LINE = re.compile(r"at line (\d+)")


# --------------------------------------------------------------------------- loading


def _plain(value: Any, path: tuple[str | int, ...], problems: list[tuple[tuple, str]]) -> Any:
    """TOML dates → ISO strings (so one schema serves TOML and JSON); date-times refused."""
    if isinstance(value, datetime):
        problems.append((path, f"{value.isoformat()} is a date-time; write a date (YYYY-MM-DD)"))
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v, (*path, k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, (*path, i), problems) for i, v in enumerate(value)]
    return value


def agreement_from_dict(
    data: Mapping[str, Any],
    file: str | None = None,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
    locate: TomlLocator | None = None,
) -> Agreement:
    """Validate agreement data (as read from TOML or JSON) and build the :class:`Agreement`.

    ``parties``/``sections``, when given, are the known party and section codes to cross-check.
    Given as the loaded tables (code → Party / Section, as a project passes them), the
    parties are also checked against the sections' sides and the factors against their
    waterbodies (unless the agreement declares ``[parties_override]``).
    Raises :class:`~ecocomp.errors.ValidationFailed` listing every problem found.

    >>> data = tomllib.load(open("lishui.toml", "rb"), parse_float=Decimal)  # doctest: +SKIP
    >>> agreement_from_dict(data, "lishui.toml")  # doctest: +SKIP
    """
    problems = agreement_problems(data, file, parties=parties, sections=sections, locate=locate)
    if isinstance(problems, Agreement):
        return problems
    raise ValidationFailed(problems, what=f"agreement {file or data.get('id', '')}".strip())


def agreement_problems(
    data: Mapping[str, Any],
    file: str | None = None,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
    locate: TomlLocator | None = None,
) -> Agreement | list[Problem]:
    """The Agreement when ``data`` is valid, else every problem found (never raises for input).

    The agreement schema first; then the named formula admits the data
    (:meth:`~ecocomp.formulas.registry.FormulaSpec.admit`); the project's parties and sections
    are checked here.
    """

    def problem(path: tuple[str | int, ...], message: str) -> Problem:
        key = ".".join(str(p) for p in path) or None
        line = locate.line(path) if locate is not None and path else None
        return AgreementError(message, file=file, row=line, field=key).problem

    if not isinstance(data, Mapping):
        return [problem((), "an agreement must be a table of keys (id, name, formula, …)")]
    raw: list[tuple[tuple, str]] = []
    plain = _plain(dict(data), (), raw)
    found = [problem(p, m) for p, m in raw]
    # params are checked by the formula's admission, whose schema knows what each one is
    top = {**plain, "params": {}} if isinstance(plain.get("params"), dict) else plain
    found += [pinpoint(p, locate) for p in schema_problems("agreement", top, file=file,
                                                        locate=locate)]
    if found:
        return found

    spec: FormulaSpec | None = None
    try:
        spec = get_spec(plain["formula"])
    except FormulaError as exc:
        found.append(problem(("formula",), str(exc)))
    # what only the project knows: the party and section codes
    known: list[Problem] = []
    roles = roles_of(plain)
    if len(set(roles.values())) < len(roles):
        known.append(problem((next(iter(roles)).split("[")[0],),
                             "the same party code plays two roles; each party appears once"))
    for role, code in roles.items():
        if parties is not None and code not in parties:
            key = (role,) if "[" not in role else ("parties", int(role[8:-1]))
            known.append(problem(key, f"unknown party {code}; add it to parties.toml or fix the "
                                 "code"))
    if sections is not None:
        for i, code in enumerate(plain.get("sections", ())):
            if code not in sections:
                known.append(problem(("sections", i), f"unknown section {code!r}; add it to "
                                     "sections.toml or fix the code"))
    if spec is None:
        return found + value_problems(plain, file=file, locate=locate) + known
    if known:
        # the formula's own checks need a built agreement; report what it refuses before them
        found += value_problems(plain, file=file, locate=locate)
        found += spec.sections_problems(plain, file=file, locate=locate)
        found += [problem((k,), m) for k, m in spec.role_problems(plain)]
        found += known
        found += spec.admit_params(plain.get("params", {}), plain["unit"], file=file,
                                   locate=locate)[1]
        return found
    admitted = spec.admit(plain, file=file, locate=locate)
    if not isinstance(admitted, Agreement):
        return admitted
    agreement = admitted
    checked: list[Problem] = []
    if isinstance(sections, Mapping):
        checked += [problem(p, m) for p, m in _factor_problems(agreement, sections)]
        if agreement.parties_override is None:
            checked += [problem(p, m)
                        for p, m in _side_problems(agreement, spec.roles, sections, parties)]
    if agreement.supersedes == agreement.id:
        checked.append(problem(("supersedes",), "an agreement cannot supersede itself; name "
                               "the id of the earlier agreement it replaces"))
    return checked or agreement


# --------------------------------------------------------------------------- the watershed


def _factor_problems(
    agreement: Agreement, sections: Mapping[str, Any]
) -> list[tuple[tuple[str | int, ...], str]]:
    """Listed ``params.factors`` that GB 3838 does not classify on a section's waterbody.

    Such a factor would be left out of the class without a word (e.g. ``tn`` on a river:
    GB 3838 limits total nitrogen for lakes and reservoirs only; ``temp`` has no class).
    """
    factors = agreement.params.get("factors", "standard")
    if not isinstance(factors, tuple):
        return []
    found = []
    standard = gb3838()
    for i, code in enumerate(factors):
        if not isinstance(code, str) or code not in standard.parameters:
            continue  # unknown codes are reported by the formula's own check
        parameter = standard.parameters[code]
        bad = [s for c in agreement.sections if (s := sections.get(c)) is not None
               and not parameter.classifiable(s.waterbody)]
        if bad:
            waterbodies = sorted({s.waterbody for s in bad})
            where = ", ".join(repr(s.code) for s in bad[:3]) + (" …" if len(bad) > 3 else "")
            why = ("has no class limits in GB 3838" if not any(
                parameter.classifiable(w) for w in ("river", "lake"))
                else f"has no GB 3838 class limits for a {' or '.join(waterbodies)}")
            found.append((("params", "factors", i),
                          f"{code} ({parameter.name}) {why}, so it cannot count towards the "
                          f"class of section {where} ({' / '.join(waterbodies)}); remove it "
                          "from factors (or fix the section's waterbody in sections.toml)"))
    return found


def _contains(parties: Mapping[str, Any] | None, outer: str, inner: str | None) -> bool:
    """Whether party ``outer`` is ``inner`` or a division containing it (parent chain)."""
    seen = 0
    while inner is not None and seen < 8:
        if inner == outer:
            return True
        party = parties.get(inner) if parties is not None else None
        inner = getattr(party, "parent", None)
        seen += 1
    return False


#: Formulas whose sections are all the party's exit (出境) sections: the party is upstream.
_EXIT_FORMULAS = frozenset({"target_reward_penalty"})


def _side_problems(
    agreement: Agreement,
    roles: tuple[str, ...],
    sections: Mapping[str, Any],
    parties: Collection[str] | None,
) -> list[tuple[tuple[str | int, ...], str]]:
    """Parties that contradict the sides of the agreement's sections in sections.toml.

    ``upstream``/``downstream`` agreements: each section's upstream side must be the
    agreement's upstream party (or a division containing it), and likewise downstream; a swap
    flips every payment. ``party``/``counterparty`` agreements: the party must be on the
    upstream side of its exit sections (``exit_sections``, or every section of a
    target_reward_penalty agreement), on the downstream side of its ``entry_sections``, and
    on one side of every other section. A side sections.toml leaves out is not checked.
    """
    known = parties if isinstance(parties, Mapping) else None
    fix = ("; fix the party codes, or declare [parties_override] with a reason if the "
           "agreement deliberately names other parties")

    def at(section: Any, side: str) -> str:
        origin = getattr(section, "origin", None)
        line = origin.line_of(side) if origin is not None else None
        return f" ({origin.file}:{line})" if origin is not None and line else ""

    found: list[tuple[tuple[str | int, ...], str]] = []
    listed = [s for c in agreement.sections if (s := sections.get(c)) is not None]
    if roles == ("upstream", "downstream"):
        up, down = agreement.parties["upstream"], agreement.parties["downstream"]
        for s in listed:
            if s.upstream is None or s.downstream is None:
                pairs = [(r, side) for r, side in (("upstream", s.upstream),
                                                   ("downstream", s.downstream)) if side]
            else:
                pairs = [("upstream", s.upstream), ("downstream", s.downstream)]
            wrong = [(r, side) for r, side in pairs if not _contains(known, agreement.parties[r],
                                                                     side)]
            if not wrong:
                continue
            if (s.upstream is not None and s.downstream is not None
                    and _contains(known, up, s.downstream)
                    and _contains(known, down, s.upstream)):
                found.append((("upstream",),
                              f"upstream {up} and downstream {down} are swapped: sections.toml "
                              f"puts {s.upstream} upstream of section {s.code!r}"
                              f"{at(s, 'upstream')} and {s.downstream} downstream, so every "
                              f"payment would go the wrong way{fix}"))
                continue
            for role, side in wrong:
                found.append(((role,), f"{role} {agreement.parties[role]} is not the party "
                              f"{role} of section {s.code!r}: sections.toml says "
                              f"{side}{at(s, role)}{fix}"))
        return found
    if roles != ("party", "counterparty"):
        return found
    party = agreement.parties["party"]
    params = agreement.params
    exits = set(params.get("exit_sections", ()) or ())
    entries = set(params.get("entry_sections", ()) or ())
    if agreement.formula in _EXIT_FORMULAS:
        exits |= set(agreement.sections)
    for s in listed:
        if s.code in exits and s.upstream is not None and not _contains(known, party,
                                                                        s.upstream):
            found.append((("party",), f"party {party} is not upstream of {s.code!r}, one of "
                          f"its exit (出境) sections: sections.toml says {s.upstream} is "
                          f"upstream{at(s, 'upstream')}{fix}"))
        elif s.code in entries and s.downstream is not None and not _contains(
                known, party, s.downstream):
            found.append((("party",), f"party {party} is not downstream of {s.code!r}, one "
                          f"of its entry (入境) sections: sections.toml says {s.downstream} is "
                          f"downstream{at(s, 'downstream')}{fix}"))
        elif s.code not in exits | entries and (s.upstream or s.downstream) and not any(
                _contains(known, party, side) for side in (s.upstream, s.downstream)):
            found.append((("party",), f"party {party} is on neither side of section "
                          f"{s.code!r}: sections.toml says {s.upstream or '(none)'} upstream "
                          f"and {s.downstream or '(none)'} downstream{at(s, 'upstream')}{fix}"))
    return found


def _read(path: Path) -> tuple[dict[str, Any] | None, TomlLocator | None, list[Problem]]:
    file = str(path)
    try:
        text = read_project_file(path)
    except ValueError as exc:  # over the size limit
        return None, None, [Problem(str(exc), file=file)]
    except (OSError, UnicodeDecodeError) as exc:
        return None, None, [Problem(f"cannot read the file ({exc}); save it as UTF-8", file=file)]
    if path.suffix.lower() == ".json":
        try:
            # NaN/Infinity as Decimal too, so they are reported like TOML's nan/inf
            data = json.loads(text, parse_float=Decimal, parse_constant=Decimal)
        except RecursionError:
            return None, None, [Problem(too_deep_message(), file=file)]
        except json.JSONDecodeError as exc:
            return None, None, [Problem(f"JSON syntax error: {exc.msg} (column {exc.colno})",
                                        file=file, row=exc.lineno)]
        if not isinstance(data, dict):
            return None, None, [Problem("the file must hold one JSON object", file=file)]
        deep = limit_problem(data)
        if deep is not None:
            return None, None, [Problem(deep[1], file=file,
                                        field=".".join(str(p) for p in deep[0][:2]))]
        return data, None, []
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except RecursionError:
        return None, None, [Problem(too_deep_message(), file=file)]
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        return None, None, [Problem(f"TOML syntax error: {exc}", file=file,
                                    row=int(match.group(1)) if match else None)]
    locate = TomlLocator(text)
    deep = limit_problem(data)
    if deep is not None:
        return None, None, [Problem(deep[1], file=file, row=locate.line(deep[0]),
                                    field=".".join(str(p) for p in deep[0][:2]))]
    return data, locate, []


def _load(
    path: Path, parties: Collection[str] | None, sections: Collection[str] | None
) -> Agreement | list[Problem]:
    data, locate, problems = _read(path)
    if data is None:
        return problems
    return agreement_problems(data, str(path), parties=parties, sections=sections, locate=locate)


def load_agreement(
    path: str | Path,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
) -> Agreement:
    """Load and validate one agreement file (``.toml`` or ``.json``).

    >>> load_agreement("agreements/lishui.toml", parties={"430700", "430800"})  # doctest: +SKIP
    """
    result = _load(Path(path), parties, sections)
    if isinstance(result, Agreement):
        return result
    raise ValidationFailed(result, what=f"agreement file {path}")


def load_agreements(
    folder: str | Path,
    *,
    parties: Collection[str] | None = None,
    sections: Collection[str] | None = None,
) -> list[Agreement]:
    """Load every ``*.toml``/``*.json`` agreement in ``folder``; all problems of all files at once.

    Agreement ids must be unique across the folder.

    >>> load_agreements("project/agreements")  # doctest: +SKIP
    """
    root = Path(folder)
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".toml", ".json"))
    agreements: list[Agreement] = []
    problems: list[Problem] = [
        Problem(f"{'a folder' if p.is_dir() else 'a file'} that is not an agreement: only "
                "*.toml and *.json files are read here (and *.md notes), so this one would be "
                "ignored; move it out of agreements/ or rename it to .toml", file=str(p))
        for p in sorted(root.iterdir())
        if p not in files and not p.name.startswith((".", "~$"))
        and not (p.is_file() and p.suffix.lower() == ".md")
    ]
    seen: dict[str, str] = {}
    for path in files:
        result = _load(path, parties, sections)
        if isinstance(result, Agreement):
            if result.id in seen:
                problems.append(Problem(f"agreement id {result.id!r} is also used by "
                                        f"{seen[result.id]}; ids must be unique",
                                        file=str(path), field="id"))
            seen.setdefault(result.id, str(path))
            agreements.append(result)
        else:
            problems.extend(result)
    problems += overlap_problems(agreements, span=lambda a: get_spec(a.formula).settles_for(a))
    if problems:
        raise ValidationFailed(problems, what=f"agreements in {root}")
    return agreements


def agreement_warnings(agreements: Collection[Agreement]) -> list[Problem]:
    """What each agreement's formula finds odd but possible in its params (``advise`` of
    :func:`~ecocomp.formulas.registry.register_formula`), and agreements starting or ending
    inside a span their formula settles whole (:func:`ecocomp.agreements.part_span_warnings`),
    one located warning each: a slip would settle without an error, so ``check`` and
    ``settle`` say so."""
    found = []
    for agreement in agreements:
        advise = get_spec(agreement.formula).advise
        if advise is None:
            continue
        for path, message in advise(agreement):
            found.append(Problem(f"{message} (a warning: the agreement still settles as "
                                 "written)", file=agreement.file,
                                 field=".".join(str(p) for p in ("params", *path))))
    found += part_span_warnings(agreements, span=lambda a: get_spec(a.formula).settles_for(a))
    return found


# --------------------------------------------------------------------------- shipped presets


def presets(*, templates: bool = False) -> list[str]:
    """Names of the agreement files shipped in ``ecocomp/presets`` (sorted).

    Templates (:data:`ecocomp.presets.TEMPLATES`: the agreement's shape is known but some
    amounts are not published [U], so the user must supply them) are listed only with
    ``templates=True``.

    >>> "lishui-zjj-cd-2020" in presets(), "lvshui-jx-hn-2022" in presets(templates=True)
    (True, True)
    """
    folder = resources.files("ecocomp.presets")
    names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))
    return names if templates else [n for n in names if n not in TEMPLATES]


def _merged(base: Any, extra: Mapping[str, Any]) -> Any:
    """``base`` with ``extra`` merged in, tables merged key by key (neither is changed)."""
    if not isinstance(base, Mapping):
        return thaw(extra)
    out = dict(base)
    for key, value in extra.items():
        out[key] = (_merged(out[key], value) if isinstance(value, Mapping) and key in out
                    else thaw(value))
    return out


def preset(name: str, *, params: Mapping[str, Any] | None = None) -> Agreement:
    """A shipped agreement by file name (without ``.toml``), validated.

    ``params`` is merged into the file's ``[params]`` (tables key by key) before validation:
    that is how a template's missing amounts are supplied, e.g.
    ``preset("lvshui-jx-hn-2022", params={"rules": {"I": {"amount": 150}, ...}})``.

    >>> preset("lvshui-jx-hn-2019").party_for("upstream")
    '360000'
    """
    if name not in presets(templates=True):
        raise FormulaError(f"no preset agreement {name!r}; known: "
                           f"{', '.join(presets(templates=True))}")
    file = resources.files("ecocomp.presets").joinpath(f"{name}.toml")
    text = file.read_text(encoding="utf-8")
    data = tomllib.loads(text, parse_float=Decimal)
    if params is not None:
        data["params"] = _merged(data.get("params", {}), params)
    where = f"ecocomp/presets/{name}.toml"
    result = agreement_problems(data, where, locate=TomlLocator(text))
    if isinstance(result, Agreement):
        return result
    what = f"preset {where}"
    if name in TEMPLATES:
        what += (" (a template: its unpublished amounts must be supplied; pass them as "
                 f"preset({name!r}, params={{...}}) or copy the file into your project's "
                 "agreements/ and write them)")
    raise ValidationFailed(result, what=what)
