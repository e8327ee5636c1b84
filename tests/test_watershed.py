"""Parties, sections, the network checks, the loaders and the bundled reference dataset."""

from __future__ import annotations

import itertools
import json
import tempfile
from decimal import Decimal
from importlib import resources
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecocomp.errors import InputError, Problem, ValidationFailed
from ecocomp.standards import WaterClass
from ecocomp.validation import schema
from ecocomp.watershed import (
    BASINS,
    CONFIDENCES,
    PARTY_LEVELS,
    SECTION_LEVELS,
    WATERBODIES,
    Party,
    Section,
    Watershed,
    level_of_code,
    load_parties,
    load_sections,
    load_watershed,
    reference_watershed,
)

# --------------------------------------------------------------------------- helpers

PARTIES_TOML = """\
[[party]]
code = "430000"
name = "湖南省"
level = "province"

[[party]]
code = "430700"
name = "常德市"
level = "city"
parent = "430000"

[[party]]
code = "430800"
name = "张家界市"
level = "city"
parent = "430000"
"""

SECTION_A = """\
[[section]]
code = "a"
name = "甲"
river = "澧水"
basin = "澧水"
waterbody = "river"
upstream = "430800"
downstream = "430700"
"""


def section_toml(code: str, **extra: object) -> str:
    """One [[section]] table with valid required keys, overridden or extended by ``extra``."""
    keys = {"code": code, "name": f"断面{code}", "river": "澧水", "basin": "澧水",
            "waterbody": "river"}
    keys.update(extra)  # type: ignore[arg-type]
    lines = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in keys.items() if v is not None]
    return "[[section]]\n" + "\n".join(lines) + "\n\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(load, path: Path) -> tuple[Problem, ...]:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as caught:
        load(path)
    return caught.value.problems


def line_of(text: str, needle: str, start: int = 0) -> int:
    """1-based line of the first line containing ``needle`` at or after line ``start``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def city(code: str, name: str = "市") -> Party:
    return Party(code, name, "city", parent="430000")


HUNAN = Party("430000", "湖南省", "province")


# --------------------------------------------------------------------------- reference dataset

XIANGJIANG_CHAIN = ["lvbutou", "guiyangzhen", "zhutingzhen", "majiahe", "pingtang",
                    "zhangshugang", "quyuan"]  # fmt: skip


def test_reference_dataset_loads_and_passes_the_network_check() -> None:
    ws = reference_watershed()
    assert ws.problems() == []
    ws.check()
    assert len(ws.sections) >= 20 and len(ws.parties) >= 20


def test_reference_dataset_ships_as_package_data_and_loads_through_the_loaders() -> None:
    data = resources.files("ecocomp.data")
    with (
        resources.as_file(data / "reference_parties.toml") as parties,
        resources.as_file(data / "reference_sections.toml") as sections,
    ):
        loaded = load_watershed(parties, sections)
    assert loaded == reference_watershed()


def test_every_reference_section_carries_a_source_and_a_confidence() -> None:
    for s in reference_watershed().sections.values():
        assert s.source, s.code
        assert s.confidence in CONFIDENCES, s.code
        assert s.note, s.code


def test_reference_xiangjiang_chain_runs_from_guangxi_to_the_lake_city_by_city() -> None:
    ws = reference_watershed()
    assert [s.code for s in ws.downstream_of("lvbutou")] == XIANGJIANG_CHAIN[1:]
    chain = [ws.section(c) for c in XIANGJIANG_CHAIN]
    assert chain[0].upstream == "450000" and chain[0].downstream == "431100"
    for above, below in itertools.pairwise(chain):
        assert above.downstream == below.upstream, (above.code, below.code)
    assert [s.downstream for s in chain] == [
        "431100", "430400", "430200", "430300", "430100", "430600", None,
    ]  # fmt: skip
    # Targets on the mainstream are Ⅲ, and no source says so: the records must say inferred.
    assert all(s.target is WaterClass.III and s.confidence == "inferred" for s in chain)


def test_reference_cross_provincial_agreement_sections_are_between_provinces() -> None:
    ws = reference_watershed()
    jinyushi, liyezhen = ws.section("jinyushi"), ws.section("liyezhen")
    assert (jinyushi.upstream, jinyushi.downstream) == ("360000", "430000")
    assert (liyezhen.upstream, liyezhen.downstream) == ("500000", "430000")
    for s in (jinyushi, liyezhen):
        assert s.target is WaterClass.III and s.level == "national"
        assert s.confidence == "confirmed"


def test_reference_unnamed_lishui_section_is_marked_unknown() -> None:
    s = reference_watershed().section("lishui-zjj-cd")
    assert (s.upstream, s.downstream) == ("430800", "430700")
    assert s.confidence == "unknown" and "名称未公开" in s.name


def test_reference_lake_points_are_lakes_and_unconfirmed() -> None:
    lakes = [s for s in reference_watershed().sections.values() if s.waterbody == "lake"]
    assert lakes and all(s.basin == "洞庭湖" and s.confidence == "unknown" for s in lakes)


def test_reference_stations_with_unknown_roles_have_no_sides() -> None:
    ws = reference_watershed()
    for code in ("lengshuijiang-qiuxi", "anhua-pingkou", "taoyuan-guanyinsi", "shimen-xinguan",
                 "baojing-qingshuiping"):  # fmt: skip
        s = ws.section(code)
        assert s.upstream is None and s.downstream is None and s.target is None


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("430000", "湖南省"), ("430100", "长沙市"), ("430200", "株洲市"), ("430300", "湘潭市"),
        ("430400", "衡阳市"), ("430500", "邵阳市"), ("430600", "岳阳市"), ("430700", "常德市"),
        ("430800", "张家界市"), ("430900", "益阳市"), ("431000", "郴州市"), ("431100", "永州市"),
        ("431200", "怀化市"), ("431300", "娄底市"), ("433100", "湘西土家族苗族自治州"),
        ("360000", "江西省"), ("360300", "萍乡市"), ("500000", "重庆市"), ("520000", "贵州省"),
        ("450000", "广西壮族自治区"), ("440000", "广东省"), ("430281", "醴陵市"),
        ("433124", "花垣县"), ("500241", "秀山土家族苗族自治县"),
    ],
)  # fmt: skip
def test_reference_parties_carry_their_gb2260_codes(code: str, name: str) -> None:
    assert reference_watershed().party(code).name == name


def test_reference_matches_the_hunan_agreement_presets() -> None:
    from ecocomp.agreements import preset, presets

    ws = reference_watershed()
    checked = 0
    for name in presets():
        agreement = preset(name)
        if not agreement.sections or not all(code in ws.sections for code in agreement.sections):
            continue  # 新安江 and 赤水河 are templates from outside Hunan; 南山 reads no water
        checked += 1
        assert all(code in ws.parties for code in agreement.party_codes), name
        roles = dict(agreement.parties)
        if set(roles) == {"upstream", "downstream"}:
            for code in agreement.sections:
                s = ws.section(code)
                assert (s.upstream, s.downstream) == (roles["upstream"], roles["downstream"])
    assert checked >= 5


# --------------------------------------------------------------------------- schemas agree


def test_schemas_and_value_classes_name_the_same_keys_and_choices() -> None:
    party = schema("parties")["$defs"]["party"]["properties"]
    section = schema("sections")["$defs"]["section"]["properties"]
    assert set(party) == {a.name for a in attrs.fields(Party)} - {"origin"}
    assert set(section) == {a.name for a in attrs.fields(Section)} - {"origin"}
    assert tuple(party["level"]["enum"]) == PARTY_LEVELS
    assert tuple(section["basin"]["enum"]) == BASINS
    assert tuple(section["waterbody"]["enum"]) == WATERBODIES
    assert tuple(section["level"]["enum"]) == SECTION_LEVELS
    assert tuple(section["confidence"]["enum"]) == CONFIDENCES


# --------------------------------------------------------------------------- value classes


def test_level_of_code_reads_the_shape_of_a_gb2260_code() -> None:
    assert [level_of_code(c) for c in ("430000", "430700", "430281", "500241")] == [
        "province", "city", "county", "county",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"code": "43070"}, "6-digit"),
        ({"code": "930700"}, "no province starts with '93'"),
        ({"level": "county"}, "does not match the code"),
        ({"name": " "}, "non-empty"),
        ({"parent": "440000"}, "cannot be its parent"),
        ({"parent": "430700"}, "cannot be its parent"),
        ({"parent": "4300"}, "6-digit"),
    ],
)
def test_an_invalid_party_cannot_exist(kwargs: dict[str, str], words: str) -> None:
    fields = {"code": "430700", "name": "常德市", "level": "city", "parent": "430000", **kwargs}
    with pytest.raises(ValueError, match=words):
        Party(**fields)


def test_a_province_has_no_parent_and_a_county_may_sit_under_its_province() -> None:
    with pytest.raises(ValueError, match="has no parent"):
        Party("430000", "湖南省", "province", parent="430000")
    assert Party("500241", "秀山县", "county", parent="500000").parent == "500000"
    assert Party("430281", "醴陵市", "county", parent="430200").parent == "430200"


@pytest.mark.parametrize("spelling", ["III", "Ⅲ", "iii", "Ⅲ类", "3", 3, WaterClass.III])
def test_section_target_accepts_any_spelling_of_a_class(spelling: object) -> None:
    s = Section("a", "甲", "湘江", "湘江", "river", target=spelling)
    assert s.target is WaterClass.III


def test_section_target_reads_worse_than_v() -> None:
    for spelling in ("劣V", "劣Ⅴ", "worse_than_V"):
        assert Section("a", "甲", "湘江", "湘江", "river", target=spelling).target == 6


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"code": "Zhuting"}, "ASCII slug"),
        ({"code": "朱亭"}, "ASCII slug"),
        ({"basin": "珠江"}, "basin"),
        ({"waterbody": "reservoir"}, "waterbody"),
        ({"upstream": "430200", "downstream": "430200"}, "two different parties"),
        ({"upstream": "43020"}, "6-digit"),
        ({"target": "VII"}, "not a water class"),
        ({"target": 7}, "not a water class"),
        ({"level": "county"}, "level"),
        ({"downstream_section": "a"}, "names itself"),
        ({"downstream_section": "B b"}, "not a section code"),
        ({"eco_flow": "0"}, "positive"),
        ({"eco_flow": 1.5}, "float"),
        ({"eco_flow": "abc"}, "not a decimal"),
        ({"confidence": "sure"}, "confidence"),
        ({"note": ""}, "non-empty"),
    ],
)
def test_an_invalid_section_cannot_exist(kwargs: dict[str, object], words: str) -> None:
    fields: dict[str, object] = {"code": "a", "name": "甲", "river": "湘江", "basin": "湘江",
                                 "waterbody": "river", **kwargs}  # fmt: skip
    with pytest.raises(ValueError, match=words):
        Section(**fields)  # type: ignore[arg-type]


def test_section_eco_flow_is_an_exact_decimal() -> None:
    s = Section("a", "甲", "湘江", "湘江", "river", eco_flow="85.50")
    assert s.eco_flow == Decimal("85.50") and str(s.eco_flow) == "85.50"


def test_parties_and_sections_are_frozen_and_compare_by_value_not_origin() -> None:
    ws = reference_watershed()
    s = ws.section("zhutingzhen")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.target = WaterClass.I  # type: ignore[misc]
    assert s.origin is not None
    assert attrs.evolve(s, origin=None) == s
    with pytest.raises(TypeError):
        ws.sections["x"] = s  # type: ignore[index]


# --------------------------------------------------------------------------- the network


def chain(n: int) -> Watershed:
    """n+1 cities along a river, n boundary sections s0 → s1 → … between them."""
    cities = [city(f"43{i + 1:02d}00") for i in range(n + 1)]
    sections = [
        Section(f"s{i}", f"断面{i}", "湘江", "湘江", "river",
                upstream=cities[i].code, downstream=cities[i + 1].code,
                downstream_section=f"s{i + 1}" if i + 1 < n else None)
        for i in range(n)
    ]  # fmt: skip
    return Watershed(
        parties={p.code: p for p in (HUNAN, *cities)}, sections={s.code: s for s in sections}
    )


def test_watershed_refuses_a_mapping_keyed_by_the_wrong_code() -> None:
    with pytest.raises(ValueError, match="holds Party '430000'"):
        Watershed(parties={"430700": HUNAN}, sections={})
    with pytest.raises(TypeError, match="is not a Section"):
        Watershed(parties={}, sections={"a": "甲"})  # type: ignore[dict-item]


def test_exit_and_entry_sections_follow_the_sides() -> None:
    ws = reference_watershed()
    assert [s.code for s in ws.exit_sections("431100")] == ["guiyangzhen"]
    assert [s.code for s in ws.entry_sections("431100")] == ["lvbutou"]
    assert [s.code for s in ws.entry_sections("430200")] == ["zhutingzhen"]
    assert [s.code for s in ws.exit_sections("430600")] == ["quyuan"]
    assert ws.entry_sections("430600") == [ws.section("zhangshugang")]


def test_nested_entry_sections_are_those_crossing_into_the_province() -> None:
    ws = reference_watershed()
    entries = {s.code for s in ws.entry_sections("430000", nested=True)}
    assert entries == {"lvbutou", "jinyushi", "liyezhen", "hudukou", "qianyang-tuokou"}
    assert [s.code for s in ws.exit_sections("430000", nested=True)] == ["meitianzhen"]
    assert [s.code for s in ws.entry_sections("430000")] == ["jinyushi", "liyezhen"]


def test_upstream_of_walks_the_network_nearest_first_with_tributaries() -> None:
    ws = reference_watershed()
    codes = [s.code for s in ws.upstream_of("majiahe")]
    assert codes[:2] == ["zhutingzhen", "jinyushi"]
    assert set(codes) == {"zhutingzhen", "jinyushi", "guiyangzhen", "lianjiangcun",
                          "caoshizhen", "lvbutou"}  # fmt: skip
    assert ws.upstream_of("lvbutou") == []


def test_unknown_codes_raise_input_errors_that_suggest_close_matches() -> None:
    ws = reference_watershed()
    with pytest.raises(InputError, match=r"unknown section 'zhuting' \(did you mean 'zhutingzhen'"):
        ws.section("zhuting")
    with pytest.raises(InputError, match="that is the name of 'zhutingzhen'"):
        ws.section("朱亭镇")
    with pytest.raises(InputError, match=r"unknown party '430701' \(did you mean '430700' 常德市"):
        ws.party("430701")
    with pytest.raises(InputError, match="unknown party"):
        ws.exit_sections("999999")
    with pytest.raises(InputError, match="unknown section"):
        ws.upstream_of("nowhere")


def test_network_problems_name_the_object_when_it_was_not_read_from_a_file() -> None:
    s = Section("a", "甲", "湘江", "湘江", "river", upstream="430700", downstream="430800")
    ws = Watershed(parties={"430000": HUNAN, "430700": city("430700")}, sections={"a": s})
    [problem] = ws.problems()
    assert problem.field == "section.a.downstream" and "430800" in problem.message
    with pytest.raises(ValidationFailed) as caught:
        ws.check()
    assert caught.value.problems == (problem,)


def test_a_section_between_a_party_and_its_own_parent_is_a_problem() -> None:
    s = Section("a", "甲", "湘江", "湘江", "river", upstream="430000", downstream="430700")
    ws = Watershed(parties={"430000": HUNAN, "430700": city("430700")}, sections={"a": s})
    [problem] = ws.problems()
    assert "contains 430700" in problem.message


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=30))
def test_any_chain_of_boundary_sections_passes_the_network_check(n: int) -> None:
    ws = chain(n)
    assert ws.problems() == []
    assert [s.code for s in ws.downstream_of("s0")] == [f"s{i}" for i in range(1, n)]
    assert {s.code for s in ws.upstream_of(f"s{n - 1}")} == {f"s{i}" for i in range(n - 1)}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_any_back_edge_in_a_chain_is_caught_as_one_cycle(data: st.DataObject) -> None:
    n = data.draw(st.integers(min_value=2, max_value=30), label="n")
    top = data.draw(st.integers(min_value=0, max_value=n - 2), label="top")
    bottom = data.draw(st.integers(min_value=top + 1, max_value=n - 1), label="bottom")
    ws = chain(n)
    sections = dict(ws.sections)
    sections[f"s{bottom}"] = attrs.evolve(sections[f"s{bottom}"], downstream_section=f"s{top}")
    broken = attrs.evolve(ws, sections=sections)
    problems = broken.problems()
    assert len(problems) == 1 and "cycle" in problems[0].message
    ring = " → ".join([*(f"s{i}" for i in range(top, bottom + 1)), f"s{top}"])
    assert ring in problems[0].message
    assert problems[0].field == f"section.s{top}.downstream_section"
    # The walks stay finite on a broken network.
    assert len(broken.downstream_of("s0")) <= n and len(broken.upstream_of(f"s{top}")) <= n


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=25))
def test_any_tree_of_tributaries_passes_and_every_section_drains_to_the_mouth(
    picks: list[int],
) -> None:
    # Section i > 0 drains into a section with a smaller index: a tree rooted at s0.
    sections = {"s0": Section("s0", "口", "湘江", "湘江", "river")}
    for i, pick in enumerate(picks, start=1):
        sections[f"s{i}"] = Section(f"s{i}", f"断面{i}", "湘江", "湘江", "river",
                                    downstream_section=f"s{pick % i}")  # fmt: skip
    ws = Watershed(parties={}, sections=sections)
    assert ws.problems() == []
    assert {s.code for s in ws.upstream_of("s0")} == set(sections) - {"s0"}
    for code in sections:
        below = ws.downstream_of(code)
        assert (below[-1].code if below else code) == "s0"


# --------------------------------------------------------------------------- loaders


def test_load_parties_and_sections_read_valid_files(tmp_path: Path) -> None:
    parties = load_parties(write(tmp_path, "parties.toml", PARTIES_TOML))
    assert list(parties) == ["430000", "430700", "430800"]
    assert parties["430700"] == Party("430700", "常德市", "city", parent="430000")
    text = SECTION_A + 'target = "Ⅱ"\neco_flow = 85.50\nlevel = "national"\n'
    sections = load_sections(write(tmp_path, "sections.toml", text))
    a = sections["a"]
    assert a.target is WaterClass.II and a.level == "national"
    assert a.eco_flow == Decimal("85.50") and isinstance(a.eco_flow, Decimal)
    assert a.origin is not None and a.origin.line_of("upstream") == line_of(text, "upstream")


def test_a_misspelt_key_is_located_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    text = PARTIES_TOML.replace('parent = "430000"\n\n[[party]]\ncode = "430800"',
                                'parnet = "430000"\n\n[[party]]\ncode = "430800"')  # fmt: skip
    path = write(tmp_path, "parties.toml", text)
    [problem] = problems_of(load_parties, path)
    assert problem.file == str(path) and problem.row == line_of(text, "parnet")
    assert problem.field == "party.1.parnet" and "did you mean 'parent'" in problem.message


def test_a_bad_party_code_is_located(tmp_path: Path) -> None:
    text = PARTIES_TOML.replace('code = "430800"', 'code = "43080"')
    [problem] = problems_of(load_parties, write(tmp_path, "parties.toml", text))
    assert (problem.row, problem.field) == (line_of(text, "43080"), "party.2.code")
    assert "6-digit GB/T 2260" in problem.message


def test_a_level_that_does_not_match_the_code_is_located(tmp_path: Path) -> None:
    block = 'level = "city"\nparent = "430000"\n\n[[party]]\ncode = "430800"'
    text = PARTIES_TOML.replace(block, block.replace('"city"', '"county"'))
    [problem] = problems_of(load_parties, write(tmp_path, "parties.toml", text))
    assert (problem.row, problem.field) == (line_of(text, '"county"'), "party.1.level")


def test_a_bad_section_code_and_bad_choices_are_located(tmp_path: Path) -> None:
    text = section_toml("Bad Code") + section_toml("ok", basin="珠江", waterbody="sea")
    problems = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    located = {(p.row, p.field) for p in problems}
    assert located == {
        (line_of(text, "Bad Code"), "section.0.code"),
        (line_of(text, "珠江"), "section.1.basin"),
        (line_of(text, "sea"), "section.1.waterbody"),
    }
    basin = next(p for p in problems if p.field == "section.1.basin")
    assert "expected the basin" in basin.message  # the schema's description


def test_a_bad_target_class_is_located(tmp_path: Path) -> None:
    text = section_toml("a", target="VII") + section_toml("b", target=9)
    problems = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert [(p.row, p.field) for p in problems] == [
        (line_of(text, '"VII"'), "section.0.target"),
        (line_of(text, "target = 9"), "section.1.target"),
    ]
    assert all("not a water class; use I, II, III" in p.message for p in problems)


def test_the_same_party_on_both_sides_is_located(tmp_path: Path) -> None:
    text = section_toml("a", upstream="430700", downstream="430700")
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert (problem.row, problem.field) == (line_of(text, "downstream ="), "section.0.downstream")
    assert "two different parties" in problem.message


def test_a_duplicate_section_code_is_located_at_the_second_one(tmp_path: Path) -> None:
    text = section_toml("a") + section_toml("b") + section_toml("a")
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    first = line_of(text, 'code = "a"')
    assert problem.row == line_of(text, 'code = "a"', start=first + 1)
    assert problem.field == "section.2.code" and f"first at line {first}" in problem.message


def test_a_duplicate_party_code_is_reported(tmp_path: Path) -> None:
    text = PARTIES_TOML + '\n[[party]]\ncode = "430700"\nname = "又一个"\nlevel = "city"\n'
    [problem] = problems_of(load_parties, write(tmp_path, "parties.toml", text))
    assert problem.field == "party.3.code" and "defined twice" in problem.message


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    text = PARTIES_TOML.replace('name = "常德市"', "name = 常德市")
    path = write(tmp_path, "parties.toml", text)
    [problem] = problems_of(load_parties, path)
    assert problem.file == str(path) and problem.row == line_of(text, "name = 常德市")
    assert problem.message.startswith("TOML syntax error") and "column" in problem.message


def test_an_unterminated_string_is_reported_at_the_end_of_the_file(tmp_path: Path) -> None:
    text = SECTION_A + 'note = "open\n'
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert problem.message.startswith("TOML syntax error") and problem.row is not None


def test_missing_files_and_required_keys_are_reported(tmp_path: Path) -> None:
    [missing] = problems_of(load_parties, tmp_path / "nope.toml")
    assert "not found" in missing.message
    [empty] = problems_of(load_sections, write(tmp_path, "sections.toml", "# nothing yet\n"))
    assert "'section' is required" in empty.message
    text = '[[section]]\ncode = "a"\nname = "甲"\n'
    problems = problems_of(load_sections, write(tmp_path, "s2.toml", text))
    assert {p.message.split("'")[1] for p in problems} == {"river", "basin", "waterbody"}


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = (
        section_toml("a", upstream="430700", downstream="430700", target="VII", eco_flow=0)
        + section_toml("B", waterbody="sea")
        + section_toml("c", levle="national")
        + section_toml("a")
    )
    with pytest.raises(ValidationFailed) as caught:
        load_sections(write(tmp_path, "sections.toml", text))
    fields = [p.field for p in caught.value.problems]
    assert fields == [
        "section.0.downstream", "section.0.target", "section.0.eco_flow",
        "section.1.code", "section.1.waterbody", "section.2.levle", "section.3.code",
    ]  # fmt: skip
    assert all(p.row is not None for p in caught.value.problems)
    assert str(caught.value).startswith("7 problem(s) in ")


def test_network_problems_are_located_in_the_files(tmp_path: Path) -> None:
    parties = write(tmp_path, "parties.toml", PARTIES_TOML)
    text = (
        section_toml("a", upstream="430800", downstream="430701", downstream_section="b")
        + section_toml("b", downstream_section="c")
        + section_toml("c", downstream_section="a")
        + section_toml("d", downstream_section="zz")
    )
    sections = write(tmp_path, "sections.toml", text)
    with pytest.raises(ValidationFailed) as caught:
        load_watershed(parties, sections)
    found = {(p.file, p.row, p.field): p.message for p in caught.value.problems}
    unknown = (str(sections), line_of(text, "430701"), "section.0.downstream")
    cycle = (str(sections), line_of(text, 'downstream_section = "b"'),
             "section.0.downstream_section")  # fmt: skip
    missing = (str(sections), line_of(text, '"zz"'), "section.3.downstream_section")
    assert set(found) == {unknown, cycle, missing}
    assert "did you mean '430700' 常德市" in found[unknown]
    assert "cycle: a → b → c → a" in found[cycle]


def test_load_watershed_reports_both_files_problems_together(tmp_path: Path) -> None:
    parties = write(tmp_path, "parties.toml", PARTIES_TOML.replace('"430800"', '"43080"'))
    sections = write(tmp_path, "sections.toml", section_toml("a", target="X"))
    with pytest.raises(ValidationFailed) as caught:
        load_watershed(parties, sections)
    assert {p.file for p in caught.value.problems} == {str(parties), str(sections)}


def test_a_missing_parent_is_a_located_network_problem(tmp_path: Path) -> None:
    text = '[[party]]\ncode = "430281"\nname = "醴陵市"\nlevel = "county"\nparent = "430200"\n'
    parties = write(tmp_path, "parties.toml", text)
    sections = write(tmp_path, "sections.toml", section_toml("a"))
    with pytest.raises(ValidationFailed) as caught:
        load_watershed(parties, sections)
    [problem] = caught.value.problems
    assert (problem.row, problem.field) == (5, "party.0.parent")


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=12), st.sampled_from(["I", "Ⅱ", "III", "劣V", None]))
def test_any_chain_written_as_toml_loads_back_equal(n: int, target: str | None) -> None:
    ws = chain(n)
    parties = "\n".join(
        "[[party]]\n"
        + "".join(
            f"{k} = {json.dumps(v, ensure_ascii=False)}\n"
            for k, v in attrs.asdict(p).items()
            if v is not None and k != "origin"
        )
        for p in ws.parties.values()
    )
    sections = "".join(
        section_toml(s.code, name=s.name, river="湘江", basin="湘江", upstream=s.upstream,
                     downstream=s.downstream, downstream_section=s.downstream_section,
                     target=target)
        for s in ws.sections.values()
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        p = write(Path(folder), "parties.toml", parties)
        s = write(Path(folder), "sections.toml", sections)
        loaded = load_watershed(p, s)
    expected = {c: attrs.evolve(x, target=target) for c, x in ws.sections.items()}
    assert loaded.parties == ws.parties and loaded.sections == expected


# --------------------------------------------------------------------------- docs/watershed.md

DOC = Path(__file__).parent.parent / "docs" / "watershed.md"


def doc_blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [block.split("\n```", 1)[0] for block in text.split(f"```{language}\n")[1:]]


def test_the_documented_file_examples_load(tmp_path: Path) -> None:
    blocks = {block.splitlines()[0]: block for block in doc_blocks("toml")}
    parties = write(tmp_path, "parties.toml", blocks["# parties.toml"])
    sections = write(tmp_path, "sections.toml", blocks["# sections.toml"])
    ws = load_watershed(parties, sections)
    s = ws.section("lishui-zjj-cd")
    assert s.target is WaterClass.II and s.eco_flow == Decimal("85.5")
    assert ws.exit_sections("430800") == [s]


def test_the_documented_python_example_runs() -> None:
    [block] = doc_blocks("python")
    exec(compile(block, str(DOC), "exec"), {})


def test_the_documented_reference_tables_list_every_section_and_party() -> None:
    text = DOC.read_text(encoding="utf-8")
    ws = reference_watershed()
    assert [c for c in ws.sections if f"| `{c}` |" not in text] == []
    assert [c for c in ws.parties if f"| {c} | {ws.parties[c].name} |" not in text] == []
    assert f"### Sections ({len(ws.sections)})" in text
    assert f"### Parties ({len(ws.parties)})" in text


# --------------------------------------------------------------------------- nan, inf (D2)


@pytest.mark.parametrize(("literal", "shown"),
                         [("nan", "nan"), ("+nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_a_nan_or_inf_flow_is_a_located_problem(tmp_path: Path, literal: str,
                                                shown: str) -> None:
    text = SECTION_A + f"eco_flow = {literal}\n"
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert (problem.row, problem.field) == (line_of(text, "eco_flow"), "section.0.eco_flow")
    assert problem.message == f"{shown} is not a number; write the flow in m³/s, e.g. 85.5"


def test_nan_in_any_key_of_parties_and_sections_is_one_located_problem(tmp_path: Path) -> None:
    text = PARTIES_TOML.replace('parent = "430000"', "parent = nan", 1)
    [problem] = problems_of(load_parties, write(tmp_path, "parties.toml", text))
    assert (problem.row, problem.field) == (line_of(text, "nan"), "party.1.parent")
    assert problem.message.startswith("nan is not a number; write the 6-digit GB/T 2260")
    text = SECTION_A.replace('river = "澧水"', "river = [inf]") + "target = -inf\n"
    problems = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("section.0.river", "[inf] is a list"),  # one mistake, one message
        ("section.0.target", "-inf is not a number"),
    ]


# --------------------------------------------------------------------------- unique names (D7)


def test_a_section_name_used_twice_is_located_at_the_second_one(tmp_path: Path) -> None:
    text = (section_toml("zhutingzhen", name="朱亭镇") + section_toml("b")
            + section_toml("zhuting-lake", name="朱亭镇", waterbody="lake"))
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    first = line_of(text, "朱亭镇")
    assert problem.row == line_of(text, "朱亭镇", start=first + 1)
    assert problem.field == "section.2.name"
    assert problem.message == (
        f"name '朱亭镇' is also the name of section 'zhutingzhen' (line {first}); section names "
        "must be unique because readings files may use them")


def test_names_that_readings_files_cannot_tell_apart_are_refused(tmp_path: Path) -> None:
    # readings match names without spaces, case or full-width differences (docs/readings.md)
    text = (section_toml("a", name="朱亭镇") + section_toml("b", name="朱亭镇 ")
            + section_toml("c", name="Ｌｖｂｕｔｏｕ") + section_toml("lvbutou", name="渌埠头")
            + section_toml("d", name="D"))
    problems = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("section.1.name", f"name '朱亭镇 ' is also the name of section 'a' ('朱亭镇', line "
                           f"{line_of(text, '朱亭镇')})"),
        ("section.2.name", "name 'Ｌｖｂｕｔｏｕ' is the code of section 'lvbutou'"),
    ]  # 'D' names its own section 'd': that is not ambiguous


def test_a_duplicate_section_is_one_problem_not_also_a_duplicate_name(tmp_path: Path) -> None:
    text = section_toml("a", name="甲") + section_toml("a", name="甲")
    [problem] = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert problem.field == "section.1.code" and "defined twice" in problem.message


# --------------------------------------------------------------------------- plain messages (D15)


def test_schema_problems_of_sections_are_in_plain_words(tmp_path: Path) -> None:
    text = (
        '[[section]]\ncode = "Bad Code"\nname = 2021-01-01\nriver = ""\nbasin = "湘江"\n'
        'waterbody = "river"\nupstream = 430800\ndownstream = "4308"\neco_flow = "85,5"\n'
        'level = ["national"]\ntarget = []\nnote = 07:32:00\n'
    )
    problems = problems_of(load_sections, write(tmp_path, "sections.toml", text))
    assert [(p.row, p.field, p.message.split(";")[0]) for p in problems] == [
        (2, "section.0.code", "'Bad Code' is not an ASCII slug"),
        (3, "section.0.name", "2021-01-01 is a date"),
        (4, "section.0.river", "the text is empty"),
        (7, "section.0.upstream", "430800 is a number"),
        (8, "section.0.downstream", "'4308' is not a 6-digit GB/T 2260 division code"),
        (9, "section.0.eco_flow", "'85,5' is not a plain number"),
        (10, "section.0.level", "['national'] is not one of the choices"),
        (11, "section.0.target", "[] is a list"),
        (12, "section.0.note", "07:32:00 is a time"),
    ]
    jargon = ("is not of type", "does not match", "datetime.", "Decimal(", "^", "is too short",
              "is not one of [")
    assert [p for p in problems if any(j in p.message for j in jargon)] == []
    assert all(";" in p.message for p in problems)  # each says how to write it


# --------------------------------------------------------------------------- non-government parties

VILLAGE_TOML = '''
[[party]]
code = "430529"
name = "城步苗族自治县"
level = "county"

[[party]]
code = "430529-baiyun-cun"
name = "白云村"
level = "collective"
parent = "430529"

[[party]]
code = "430529-baiyun-cun-hu1"
name = "一户"
level = "household"
parent = "430529-baiyun-cun"

[[party]]
code = "430000-nanshan-glj"
name = "南山国家公园管理局"
level = "agency"
parent = "430000"

[[party]]
code = "430000"
name = "湖南省"
level = "province"
'''


def test_collectives_households_and_agencies_load_with_their_own_codes(tmp_path: Path) -> None:
    parties = load_parties(write(tmp_path, "parties.toml", VILLAGE_TOML))
    assert parties["430529-baiyun-cun"].level == "collective"
    assert parties["430529-baiyun-cun-hu1"].parent == "430529-baiyun-cun"
    assert Watershed(parties=parties, sections={}).problems() == []
    assert Watershed(parties=parties, sections={}).is_within("430529-baiyun-cun-hu1", "430529")


@pytest.mark.parametrize(("replace", "field", "words"), [
    ('level = "collective"\nparent = "430529"', "party.1.parent", "needs a parent"),
    ('parent = "430529"\n\n[[party]]\ncode = "430529-baiyun-cun-hu1"',
     "party.1.parent", "430528 cannot be its parent"),
    ('code = "430529-baiyun-cun"', "party.1.code", "'430529-Baiyun' is not a 6-digit"),
    ('level = "agency"', "party.3.level", "not a county's"),
    ('code = "430529"\nname = "城步苗族自治县"\nlevel = "county"', "party.0.level",
     "a collective has a code of its own"),
])
def test_a_bad_non_government_party_is_located(tmp_path: Path, replace: str, field: str,
                                               words: str) -> None:
    new = {
        "party.1.parent": replace.replace('parent = "430529"', "")
        if "needs" in words else replace.replace('parent = "430529"', 'parent = "430528"'),
        "party.1.code": 'code = "430529-Baiyun"',
        "party.3.level": 'level = "county"',
        "party.0.level": 'code = "430529"\nname = "城步苗族自治县"\nlevel = "collective"',
    }[field]
    text = VILLAGE_TOML.replace(replace, new, 1)
    problems = problems_of(load_parties, write(tmp_path, "parties.toml", text))
    assert any(p.field == field and words in p.message and p.row for p in problems), [
        str(p) for p in problems]
