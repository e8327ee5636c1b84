"""A project folder loads validated, and a broken one lists every problem, located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import edit

import ecocomp
from ecocomp.errors import EcocompError, ValidationFailed

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"


def test_the_example_project_is_valid():
    assert ecocomp.check_project(EXAMPLE) == []


def test_the_example_project_loads_with_its_parts():
    project = ecocomp.load_project(EXAMPLE)
    assert {"430000", "430700", "430800", "360000", "500000"} <= set(project.parties)
    assert {"guiyangzhen", "jinyushi", "liyezhen", "lishui-zjj-cd"} <= set(project.sections)
    assert len(project.agreements) == len(list((EXAMPLE / "agreements").glob("*.toml")))
    assert sorted(p.name for p in project.readings_files) == sorted(
        p.name for p in (EXAMPLE / "readings").glob("*.csv"))
    assert project.correction_files == ()


def test_an_agreement_naming_an_unknown_party_is_reported_with_file_line_and_field(project):
    agreement = project / "agreements" / "lishui-zjj-cd-2020.toml"
    edit(agreement, 'upstream = "430800"', 'upstream = "439999"')
    problems = ecocomp.check_project(project)
    assert len(problems) == 1
    (problem,) = problems
    assert problem.file is not None and problem.file.endswith("lishui-zjj-cd-2020.toml")
    assert problem.field == "upstream" and problem.row is not None
    assert "439999" in problem.message and "parties.toml" in problem.message
    with pytest.raises(ValidationFailed) as caught:
        ecocomp.load_project(project)
    assert "lishui-zjj-cd-2020.toml" in str(caught.value)


def test_a_party_removed_from_parties_toml_is_reported_against_the_agreement(project):
    parties = project / "parties.toml"
    text = parties.read_text(encoding="utf-8")
    block = '[[party]]\ncode = "500000"\nname = "重庆市"\nlevel = "province"\n'
    assert block in text
    parties.write_text(text.replace(block, ""), encoding="utf-8")
    problems = ecocomp.check_project(project)
    assert any(p.file and p.file.endswith("youshui-cq-hn-2019.toml") and "500000" in p.message
               for p in problems), problems


def test_every_problem_in_every_file_is_listed_at_once(project):
    edit(project / "agreements" / "lishui-zjj-cd-2020.toml",
         'upstream = "430800"', 'upstream = "439999"')
    (project / "readings" / "bad.csv").write_text(
        HEADER
        + "guiyangzhen,2021-05-03,nh3n,-0.2,mg/L,manual,\n"
        + "nowhere,2021-05-03,nh3n,0.2,mg/L,manual,\n",
        encoding="utf-8")
    problems = ecocomp.check_project(project)
    located = {(Path(p.file or "").name, p.row, p.field) for p in problems}
    assert ("bad.csv", 2, "value") in located
    assert ("bad.csv", 3, "section") in located
    assert any(name == "lishui-zjj-cd-2020.toml" for name, _, _ in located)
    assert len(problems) == 3


def test_load_project_leaves_readings_to_the_import_unless_asked(project):
    (project / "readings" / "bad.csv").write_text(
        HEADER + "guiyangzhen,2021-05-03,nh3n,-0.2,mg/L,manual,\n", encoding="utf-8")
    assert ecocomp.load_project(project).readings_files  # readings are checked on import
    with pytest.raises(ValidationFailed, match=r"bad\.csv:2:value"):
        ecocomp.load_project(project, check_readings=True)


def test_a_missing_folder_is_one_clear_problem(tmp_path):
    problems = ecocomp.check_project(tmp_path / "nowhere")
    assert len(problems) == 1 and "project folder" in problems[0].message


def test_missing_required_files_are_each_named(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    files = {Path(p.file or "").name for p in ecocomp.check_project(folder)}
    assert {"parties.toml", "sections.toml", "agreements"} <= files


def test_a_project_without_readings_files_is_a_problem(project):
    shutil.rmtree(project / "readings")
    problems = ecocomp.check_project(project)
    assert any("no readings files" in p.message for p in problems)


def test_correction_files_are_found_and_checked(project):
    corrections = project / "corrections"
    corrections.mkdir()
    (corrections / "x.csv").write_text(
        HEADER + "guiyangzhen,2021-04-12,cd,0.0126,mg/L,manual,\n", encoding="utf-8")
    loaded = ecocomp.load_project(project)
    assert [p.name for p in loaded.correction_files] == ["x.csv"]
    (corrections / "y.csv").write_text(
        HEADER + "guiyangzhen,2021-04-12,cd,abc,mg/L,manual,\n", encoding="utf-8")
    problems = ecocomp.check_project(project)
    assert [(Path(p.file or "").name, p.row, p.field) for p in problems] == [("y.csv", 2, "value")]


def test_an_unknown_agreement_id_names_the_known_ones():
    project = ecocomp.load_project(EXAMPLE)
    assert project.agreement("lishui-zjj-cd-2020").formula == "class_ladder"
    with pytest.raises(EcocompError, match="lishui-zjj-cd-2020"):
        project.agreement("no-such-agreement")


def test_an_empty_agreements_folder_is_a_problem_not_a_settlement_without_agreements(project):
    for file in (project / "agreements").iterdir():
        file.unlink()
    (project / "agreements" / "README.md").write_text("agreements go here\n", encoding="utf-8")
    problems = ecocomp.check_project(project)
    assert [(p.file, p.message) for p in problems] == [(
        str(project / "agreements"),
        "no agreement files (*.toml, *.json) found; put one agreement per file in it",
    )]
    with pytest.raises(ValidationFailed, match=r"agreements: no agreement files"):
        ecocomp.load_project(project)


def test_nan_in_an_agreement_or_sections_file_is_a_problem_not_a_crash(project):
    edit(project / "agreements" / "lishui-zjj-cd-2020.toml", "amount = 80 }", "amount = nan }")
    edit(project / "sections.toml", 'code = "lvbutou"\n', 'code = "lvbutou"\neco_flow = inf\n')
    problems = ecocomp.check_project(project)
    assert [(Path(p.file or "").name, p.field, p.message.split(";")[0]) for p in problems] == [
        ("sections.toml", "section.0.eco_flow", "inf is not a number"),
        ("lishui-zjj-cd-2020.toml", "params.rules.I.amount", "nan is not a number"),
    ]
    assert all(p.row is not None for p in problems)
    assert problems[1].message.startswith("nan is not a number; write an amount such as 80")
