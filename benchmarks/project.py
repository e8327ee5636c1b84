"""A synthetic settlement project folder of N sections, with agreements of every preset type.

The folder has the layout of a real project (``parties.toml``, ``sections.toml``,
``agreements/*.toml``, ``readings/*.csv``) and passes ``ecocomp check``. Sections come from
:func:`benchmarks.synth.synthetic_sections` (same seed → same profiles, stations and flows),
spread over the real basins (湘江, 资水, 沅江, 澧水, 洞庭湖) between real Hunan cities. The
agreements:

- one ``class_ladder`` per boundary section (the 澧水 template, amounts in 万元);
- per 湘江 city with exit sections: ``target_reward_penalty``, ``class_change`` (when it also
  has entry sections) and ``min_flow`` (when an exit section has daily flows) — the three
  components of the 2014 湘江 办法, with the example's placeholder amounts;
- one ``pollution_index`` (新安江-style) and one ``fund_split`` (赤水河-style) over the
  first sections that suit them.

All amounts are the example project's placeholders (the presets mark them [U]); this
folder measures speed, not policy.

>>> import tempfile
>>> counts = write_project(tempfile.mkdtemp(), sections=4, years=[2021])
>>> counts["sections"], counts["agreements"] > 4
(4, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from benchmarks.synth import SectionSpec, generate_rows, synthetic_sections, write_long

__all__ = ["CITIES", "write_project"]

#: Hunan's prefecture-level cities (GB/T 2260), in 湘江 upstream → downstream order first.
CITIES: tuple[tuple[str, str], ...] = (
    ("431100", "永州市"), ("430400", "衡阳市"), ("430200", "株洲市"), ("430300", "湘潭市"),
    ("430100", "长沙市"), ("430600", "岳阳市"), ("431000", "郴州市"), ("431300", "娄底市"),
    ("430500", "邵阳市"), ("430900", "益阳市"), ("431200", "怀化市"),
    ("433100", "湘西土家族苗族自治州"), ("430800", "张家界市"), ("430700", "常德市"),
)  # fmt: skip
_PROVINCE = ("430000", "湖南省")
# Cities along each basin, upstream first; a section sits between two neighbours.
_BASINS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("湘江", ("431100", "430400", "430200", "430300", "430100", "430600")),
    ("资水", ("430500", "431300", "430900")),
    ("沅江", ("433100", "431200", "430700")),
    ("澧水", ("430800", "430700")),
)
_LAKE = ("洞庭湖", ("430900", "430600"))
_NAMES = dict(CITIES)


def _toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _sections_toml(specs: Sequence[SectionSpec]) -> tuple[str, list[dict[str, str]]]:
    rows: list[dict[str, str]] = []
    river_index = 0
    for spec in specs:
        if spec.waterbody == "lake":
            basin, chain = _LAKE
            river = "洞庭湖"
        else:
            basin, chain = _BASINS[river_index % len(_BASINS)]
            river = basin
            river_index += 1
        pair = (river_index if spec.waterbody == "river" else len(rows)) % (len(chain) - 1)
        rows.append({
            "code": spec.code, "name": f"断面{spec.code[1:]}", "river": river, "basin": basin,
            "waterbody": spec.waterbody, "upstream": chain[pair], "downstream": chain[pair + 1],
            "target": "III", "flow": "" if spec.mean_flow is None else str(spec.mean_flow),
        })  # fmt: skip
    out = ["# Synthetic sections (benchmarks/project.py): speed, not policy.\n"]
    for r in rows:
        out.append(
            f'\n[[section]]\ncode = "{r["code"]}"\nname = "{r["name"]}"\nriver = "{r["river"]}"\n'
            f'basin = "{r["basin"]}"\nwaterbody = "{r["waterbody"]}"\n'
            f'upstream = "{r["upstream"]}"\ndownstream = "{r["downstream"]}"\n'
            f'target = "{r["target"]}"\nlevel = "provincial"\n'
        )
    return "".join(out), rows


def _parties_toml() -> str:
    out = [f'[[party]]\ncode = "{_PROVINCE[0]}"\nname = "{_PROVINCE[1]}"\nlevel = "province"\n']
    for code, name in CITIES:
        out.append(f'\n[[party]]\ncode = "{code}"\nname = "{name}"\nlevel = "city"\n'
                   f'parent = "{_PROVINCE[0]}"\n')
    return "".join(out)


_HEAD = """id = "{id}"
name = "{name}"
formula = "{formula}"
sections = {sections}
{roles}
start = {start}-01-01
end = {end}-12-31
unit = "wan"
clearing_due = "04-30"
source = "synthetic benchmark agreement (benchmarks/project.py); amounts are placeholders"
confidence = "placeholder"
"""

_LADDER = """
[params]
factors = "standard"
missing_month = "skip"

[params.rules]
I            = { payer = "downstream", amount = 80 }
II           = { payer = "none" }
III          = { payer = "upstream", amount = 80 }
IV           = { payer = "upstream", amount = 80 }
V            = { payer = "upstream", amount = 80 }
worse_than_V = { payer = "upstream", amount = 80 }

[params.improvement]
basis = "same_month_last_year"
payer = "downstream"
amount = 80
"""

_TARGET = """
[params]
factors = ["ph", "do", "codmn", "nh3n", "tp", "as", "cd", "pb"]
missing_month = "skip"

[params.reward]
I = 100
II = 50

[params.penalty]
base = 50
step = 10
step_size = "0.2"
reference_class = "III"
"""

_CHANGE = """
[params]
factors = ["ph", "do", "codmn", "nh3n", "tp", "as", "cd", "pb"]
entry_sections = {entry}
exit_sections = {exit}
reward_per_class = 50
penalty_per_class = 50
combine = "mean"
missing_month = "skip"
"""

_FLOW = """
[params]
penalty_per_day = 1
cap_per_month = 30
missing_day = "skip"

[params.targets]
{targets}
"""

_INDEX = """
[params]
k0 = "0.90"
threshold = "1"
missing_year = "skip"

[params.weights]
codmn = "0.25"
nh3n = "0.25"
tn = "0.25"
tp = "0.25"

[params.baseline]
codmn = "2.0"
nh3n = "0.12"
tn = "1.1"
tp = "0.03"

[params.outcome]
at_or_below = { payer = "downstream", amount = 20000 }
above = { payer = "upstream", amount = 20000 }
"""

_FUND = """
[params]
fund = 20000
target = "II"
factors = "standard"
missing_year = "skip"

[params.contribution]
{a} = 1
{b} = 5
{c} = 4

[params.allocation]
{a} = 3
{b} = 4
{c} = 3

[[params.deductions]]
section = "{s1}"
from = "{a}"
to = {{ {b} = 1, {c} = 1 }}

[[params.deductions]]
section = "{s2}"
from = "{b}"
to = {{ {c} = 1 }}
"""


def _agreements(rows: list[dict[str, str]], first: int, last: int) -> dict[str, str]:
    years = {"start": first, "end": last}
    files: dict[str, str] = {}

    def add(ident: str, name: str, formula: str, sections: Sequence[str], roles: str,
            params: str) -> None:
        files[f"{ident}.toml"] = _HEAD.format(
            id=ident, name=name, formula=formula, sections=_toml_list(sections), roles=roles,
            **years,
        ) + params

    for r in rows:
        add(f"ladder-{r['code']}", f"{r['river']} {r['name']} 横向补偿 (synthetic)",
            "class_ladder", [r["code"]],
            f'upstream = "{r["upstream"]}"\ndownstream = "{r["downstream"]}"', _LADDER)
    xiang = [r for r in rows if r["basin"] == "湘江"]
    for city in _BASINS[0][1]:
        exits = [r for r in xiang if r["upstream"] == city]
        entries = [r for r in xiang if r["downstream"] == city]
        if not exits:
            continue
        roles = f'party = "{city}"\ncounterparty = "{_PROVINCE[0]}"'
        codes = [r["code"] for r in exits]
        add(f"xiangjiang-{city}-target", f"湘江 水质目标奖罚({_NAMES[city]}) (synthetic)",
            "target_reward_penalty", codes, roles, _TARGET)
        if entries:
            entry_codes = [r["code"] for r in entries]
            add(f"xiangjiang-{city}-change", f"湘江 水质动态奖罚({_NAMES[city]}) (synthetic)",
                "class_change", entry_codes + codes, roles,
                _CHANGE.format(entry=_toml_list(entry_codes), exit=_toml_list(codes)))
        flows = [r for r in exits if r["flow"]]
        if flows:
            targets = "\n".join(
                f'{r["code"]} = "{int(float(r["flow"]) * 0.3)}"' for r in flows
            )  # 30 % of the mean flow: a few dry-season days fall below it
            add(f"xiangjiang-{city}-flow", f"湘江 最小流量({_NAMES[city]}) (synthetic)",
                "min_flow", [r["code"] for r in flows], roles, _FLOW.format(targets=targets))
    rivers = [r for r in rows if r["waterbody"] == "river"]
    if rivers:
        r = rivers[0]
        add("index-" + r["code"], f"{r['name']} 水质指数补偿 (synthetic)", "pollution_index",
            [r["code"]], f'upstream = "{r["upstream"]}"\ndownstream = "{r["downstream"]}"',
            _INDEX)
    if len(rows) >= 2:
        a, b, c = "430500", "431300", "430900"  # the 资水 cities share a pooled fund
        s1, s2 = rows[0]["code"], rows[1]["code"]
        add("fund-zishui", "资水 流域补偿资金 (synthetic)", "fund_split", [s1, s2],
            f"parties = {_toml_list([a, b, c])}", _FUND.format(a=a, b=b, c=c, s1=s1, s2=s2))
    return files


def write_project(
    folder: str | Path,
    sections: int,
    years: Sequence[int] = (2020, 2021),
    *,
    seed: int = 1,
    automatic_share: float = 0.6,
    readings: bool = True,
) -> dict[str, int]:
    """Write a settlement project of ``sections`` sections under ``folder``; return counts.

    One readings file per year (``readings/<year>.csv``, long layout); ``readings=False``
    writes only the TOML files. Deterministic from ``seed``.
    """
    root = Path(folder)
    (root / "agreements").mkdir(parents=True, exist_ok=True)
    (root / "readings").mkdir(exist_ok=True)
    specs = synthetic_sections(sections, seed, automatic_share)
    text, rows = _sections_toml(specs)
    (root / "sections.toml").write_text(text, encoding="utf-8")
    (root / "parties.toml").write_text(_parties_toml(), encoding="utf-8")
    agreements = _agreements(rows, min(years), max(years))
    for name, body in agreements.items():
        (root / "agreements" / name).write_text(body, encoding="utf-8")
    count = 0
    if readings:
        for year in years:
            count += write_long(root / "readings" / f"{year}.csv",
                                generate_rows(specs, year, seed=seed))
    return {"sections": len(specs), "agreements": len(agreements), "readings": count}
