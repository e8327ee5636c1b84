"""No silent wrong money from a project's inputs: every odd input is a located error or a
reported warning, through ``ecocomp check``, ``ecocomp settle`` and ``load_project``.

Agreement parties against the sections' sides, factors against the waterbody, class Ⅵ,
overlapping agreements, stray and hidden files, Excel readings, files deleted after import,
conflicting corrections, deep nesting and over-long names.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import edit
from hypothesis import given
from hypothesis import strategies as st

import ecocomp
from ecocomp.agreements import Agreement, overlap_problems
from ecocomp.cli import main
from ecocomp.errors import ValidationFailed
from ecocomp.evidence import last_import
from ecocomp.settlement import settle
from ecocomp.store import ReadingStore, StoreError

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
HEADER = "section,sampled_at,parameter,value,unit,source,flag\n"
LISHUI = "agreements/lishui-zjj-cd-2020.toml"
YONGZHOU = "agreements/xiangjiang-2014-yongzhou-target.toml"


def line_of(relative: str, start: str) -> int:
    """The line number of the example file's first line starting with ``start``."""
    lines = (EXAMPLE / relative).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith(start))


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def refused_everywhere(project: Path, *expected: str, readings: bool = False) -> str:
    """check and settle exit 1 naming every expected text; load_project raises.

    A problem of the project files is found before settle creates its database; one of a
    readings file when settle imports it (``readings=True``: load_project then reads them).
    """
    checked = run("check", project)
    assert checked.exit_code == 1, checked.output
    db = project.parent / "refused.db"
    settled = run("settle", project, "--year", "2021", "--db", db)
    assert settled.exit_code == 1, settled.output
    assert "Traceback" not in checked.output + settled.output
    assert readings or not db.exists()
    with pytest.raises(ValidationFailed) as raised:
        ecocomp.load_project(project, check_readings=readings)
    loaded = "\n".join(str(p) for p in raised.value.problems)
    for text in expected:
        assert text in checked.output, (text, checked.output)
        assert text in settled.output, (text, settled.output)
        assert text in loaded, (text, loaded)
    return checked.output


def nets(project: Path, year: int = 2021) -> dict[str, tuple[str, str, Decimal]]:
    result = settle(ecocomp.load_project(project), year=year, dry_run=True)
    return {n.agreement: (n.payer, n.payee, n.amount) for n in result.nets}


# --------------------------------------------------------------------------- item 3: parties


def test_swapped_upstream_and_downstream_are_a_located_error(project):
    # 张家界 (430800) is upstream of the 澧水 section; swapped, 常德's 80万 would flow back
    edit(project / LISHUI, 'upstream = "430800"     # 张家界市\ndownstream = "430700"',
         'upstream = "430700"\ndownstream = "430800"')
    output = refused_everywhere(project, "lishui-zjj-cd-2020.toml:13:upstream",
                                "are swapped")
    assert "sections.toml" in output and "[parties_override]" in output


def test_a_party_on_neither_side_is_named_per_role(project):
    edit(project / LISHUI, 'downstream = "430700"', 'downstream = "433100"')
    refused_everywhere(project, "lishui-zjj-cd-2020.toml:14:downstream",
                       "downstream 433100 is not the party downstream of section "
                       "'lishui-zjj-cd'")


def test_a_declared_parties_override_is_accepted_with_its_reason(project):
    edit(project / LISHUI, 'downstream = "430700"', 'downstream = "433100"')
    edit(project / LISHUI, "[params]\n",
         '[parties_override]\nreason = "湘西 signs for 常德 in this test"\n\n[params]\n')
    assert run("check", project).exit_code == 0
    agreement = ecocomp.load_project(project).agreement("lishui-zjj-cd-2020")
    assert agreement.parties_override == "湘西 signs for 常德 in this test"


def test_an_empty_override_reason_is_refused(project):
    edit(project / LISHUI, "[params]\n", '[parties_override]\nreason = ""\n\n[params]\n')
    result = run("check", project)
    assert result.exit_code == 1
    assert "parties_override.reason" in result.output


def test_a_target_party_must_be_upstream_of_its_exit_section(project):
    # 衡阳 (430400) is downstream of 归阳镇, 永州's exit section: not 永州's reward to take
    edit(project / YONGZHOU, 'party = "431100"', 'party = "430400"')
    line = line_of(YONGZHOU, "party = ")
    refused_everywhere(project, f"xiangjiang-2014-yongzhou-target.toml:{line}:party",
                       "not upstream of 'guiyangzhen'")


def test_a_class_change_party_must_be_downstream_of_its_entry_sections(project):
    path = project / "agreements" / "xiangjiang-2014-zhuzhou-change.toml"
    edit(path, 'party = "430200"', 'party = "430400"')  # 衡阳: upstream of 朱亭镇, 株洲's entry
    # 衡阳 is on the wrong side of both: upstream of the entry, not upstream of the exit
    refused_everywhere(project, "not downstream of 'zhutingzhen', one of its entry (入境)",
                       "not upstream of 'majiahe', one of its exit (出境)")


def test_a_class_change_party_on_the_downstream_side_of_its_exit_is_refused(project):
    path = project / "agreements" / "xiangjiang-2014-zhuzhou-change.toml"
    edit(path, 'party = "430200"', 'party = "430300"')  # 湘潭: downstream of 马家河
    output = refused_everywhere(project, "party 430300 is not upstream of 'majiahe'")
    assert "2 problem(s)" in output  # and not downstream of 朱亭镇 (衡阳 | 株洲) either


def test_a_province_may_sign_for_its_city_on_the_section(project):
    # a division that contains the side's party is that side (湖南 430000 for 常德 430700)
    edit(project / LISHUI, 'downstream = "430700"', 'downstream = "430000"')
    assert run("check", project).exit_code == 0


# --------------------------------------------------------------------------- item 8: factors


def test_factors_without_limits_for_the_waterbody_are_located_errors(project):
    edit(project / YONGZHOU, '"as", "cd", "pb"]', '"as", "cd", "pb", "tn", "temp"]')
    line = line_of(YONGZHOU, "factors = ")
    refused_everywhere(
        project, f"xiangjiang-2014-yongzhou-target.toml:{line}:params.factors.8",
        "tn (总氮) has no GB 3838 class limits for a river",
        f"xiangjiang-2014-yongzhou-target.toml:{line}:params.factors.9",
        "temp (水温) has no class limits in GB 3838")


def test_tn_is_a_factor_on_a_lake(project):
    edit(project / YONGZHOU, '"as", "cd", "pb"]', '"as", "cd", "pb", "tn"]')
    sections = project / "sections.toml"
    text = sections.read_text(encoding="utf-8")
    sections.write_text(text.replace('code = "guiyangzhen"\nname = "归阳镇"\nriver = "湘江"\n'
                                     'basin = "湘江"\nwaterbody = "river"',
                                     'code = "guiyangzhen"\nname = "归阳镇"\nriver = "湘江"\n'
                                     'basin = "湘江"\nwaterbody = "lake"'), encoding="utf-8")
    assert "lake" in sections.read_text(encoding="utf-8")
    assert run("check", project).exit_code == 0


@pytest.mark.parametrize("target", ['"VI"', '"Ⅵ"', '"6"', "6"])
def test_a_target_class_six_is_refused_not_read_as_worse_than_five(project, target):
    edit(project / "sections.toml", 'target = "III"\nlevel = "national"\n\n[[section]]\n'
         'code = "liyezhen"', f'target = {target}\nlevel = "national"\n\n[[section]]\n'
         'code = "liyezhen"')
    refused_everywhere(project, "sections.toml:97:section.7.target", "no class Ⅵ")


# --------------------------------------------------------------------------- item 9: overlaps


def _second_lishui(project: Path, start: str, amount: int, supersedes: str | None) -> None:
    text = (project / LISHUI).read_text(encoding="utf-8")
    text = text.replace('id = "lishui-zjj-cd-2020"', 'id = "lishui-zjj-cd-2021"')
    text = text.replace("start = 2020-01-01", f"start = {start}")
    text = text.replace("amount = 80 }     # [C]", f"amount = {amount} }}     # [C]")
    if supersedes:
        text = text.replace("confidence =", f'supersedes = "{supersedes}"\nconfidence =', 1)
    (project / "agreements" / "lishui-zjj-cd-2021.toml").write_text(text, encoding="utf-8")


def test_two_agreements_settling_the_same_months_are_a_located_error(project):
    _second_lishui(project, "2021-07-01", 90, None)
    refused_everywhere(project, "lishui-zjj-cd-2021.toml:start",
                       "overlaps agreement 'lishui-zjj-cd-2020'",
                       "from 2021-07-01 to 2022-12-31",
                       'supersedes = "lishui-zjj-cd-2020"')


def test_supersedes_must_name_an_agreement(project):
    edit(project / LISHUI, "confidence =", 'supersedes = "no-such-agreement"\nconfidence =')
    refused_everywhere(project, "lishui-zjj-cd-2020.toml:supersedes",
                       "no agreement of the project has that id")


def test_two_agreements_superseding_each_other_are_refused(project):
    _second_lishui(project, "2021-07-01", 90, "lishui-zjj-cd-2020")
    edit(project / LISHUI, "confidence =", 'supersedes = "lishui-zjj-cd-2021"\nconfidence =')
    refused_everywhere(project, "lishui-zjj-cd-2020.toml:supersedes",
                       "which supersedes it in turn")


def test_a_superseded_agreement_is_not_settled_where_the_newer_one_is_in_force(project):
    _second_lishui(project, "2021-07-01", 90, "lishui-zjj-cd-2020")
    assert run("check", project).exit_code == 0
    result = settle(ecocomp.load_project(project), year=2021, dry_run=True)
    old = {str(o.period) for o in result.obligations if o.agreement == "lishui-zjj-cd-2020"}
    new = {str(o.period) for o in result.obligations if o.agreement == "lishui-zjj-cd-2021"}
    # each month is settled once: by the old agreement until the new one starts
    assert old == {f"2021-{m:02d}" for m in range(1, 7)}
    assert new == {f"2021-{m:02d}" for m in range(7, 13)}
    assert {"lishui-zjj-cd-2020", "lishui-zjj-cd-2021"} <= {n.agreement for n in result.nets}


def test_an_agreement_superseded_for_the_whole_year_is_not_settled_in_it(project):
    _second_lishui(project, "2021-01-01", 90, "lishui-zjj-cd-2020")
    before = nets(project)
    assert "lishui-zjj-cd-2020" not in before
    assert before["lishui-zjj-cd-2021"][2] > 0
    result = settle(ecocomp.load_project(project), year=2021, dry_run=True)
    amounts = {o.amount for o in result.obligations if o.agreement.startswith("lishui")}
    # every month is settled by the newer agreement alone, with its own rules (90万 for Ⅰ类)
    assert {o.agreement for o in result.obligations if o.agreement.startswith("lishui")} == {
        "lishui-zjj-cd-2021"}
    assert Decimal("900000.00") in amounts
    assert len([o for o in result.obligations if o.agreement.startswith("lishui")]) == 12


# --------------------------------------------------------------------------- item 4: files


def test_files_ecocomp_would_not_read_are_each_a_located_error(project):
    (project / "readings" / "notes.txt").write_text("x", encoding="utf-8")
    (project / "readings" / "2021-old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (project / "readings" / "2021-manual.csv~").write_text(HEADER, encoding="utf-8")
    (project / "readings" / "2022").mkdir()
    (project / "corrections").mkdir()
    (project / "corrections" / "fix.txt").write_text("x", encoding="utf-8")
    output = refused_everywhere(project, "notes.txt: is not a readings file",
                                "2021-old.xls: is not a readings file", "save it as .xlsx",
                                "2021-manual.csv~: is not a readings file",
                                "2022: is a sub-folder", "fix.txt: is not a readings file")
    assert "5 problem(s)" in output


def test_files_in_agreements_that_are_not_agreements_are_located_errors(project):
    (project / "agreements" / "lishui-extension.txt").write_text("amount = 80\n")
    (project / "agreements" / "drafts").mkdir()
    (project / "agreements" / ".DS_Store").write_bytes(b"\0")
    output = refused_everywhere(project, "lishui-extension.txt", "drafts")
    assert ".DS_Store" not in output


def test_hidden_and_lock_files_are_skipped_with_a_warning(project, tmp_path):
    (project / "readings" / ".DS_Store").write_bytes(b"\0\1")
    (project / "readings" / "~$2021-manual.xlsx").write_bytes(b"\0")
    checked = run("check", project)
    assert checked.exit_code == 0, checked.output
    assert "warning: " in checked.stderr and ".DS_Store: hidden file skipped" in checked.stderr
    assert "~$2021-manual.xlsx: Excel lock file skipped" in checked.stderr
    settled = run("settle", project, "--year", "2021", "--db", tmp_path / "s.db")
    assert settled.exit_code == 0, settled.output
    assert ".DS_Store: hidden file skipped" in settled.stderr
    loaded = ecocomp.load_project(project)
    assert [Path(w.file or "").name for w in loaded.warnings] == [".DS_Store",
                                                                  "~$2021-manual.xlsx"]
    result = settle(loaded, year=2021, dry_run=True)
    assert any(".DS_Store" in w for w in result.warnings)


def _csv_as_xlsx(csv_path: Path, xlsx_path: Path) -> None:
    import csv

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    with open(csv_path, encoding="utf-8-sig", newline="") as stream:
        for i, row in enumerate(csv.reader(stream)):
            if i == 0:
                sheet.append(row)
                continue
            # numbers as Excel numbers, as a monitoring centre's workbook holds them
            cells: list[object] = []
            for cell in row:
                try:
                    cells.append(float(cell) if cell and cell[0].isdigit() else cell)
                except ValueError:
                    cells.append(cell)
            sheet.append(cells)
    book.save(xlsx_path)


def test_xlsx_readings_settle_exactly_like_the_same_csv(project):
    expected = nets(project)
    source = project / "readings" / "2021-manual.csv"
    _csv_as_xlsx(source, project / "readings" / "2021-manual.xlsx")
    source.unlink()
    assert run("check", project).exit_code == 0
    assert nets(project) == expected


def test_a_bad_xlsx_cell_is_located_by_sheet_row_and_field(project):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "3月"
    sheet.append(["section", "sampled_at", "parameter", "value", "unit"])
    sheet.append(["jinyushi", "2021-03-09", "nh3n", 0.2, "mg/L"])
    sheet.append(["jinyushi", "2021-03-10", "nh3n", "ND", "mg/L"])
    book.save(project / "readings" / "extra.xlsx")
    refused_everywhere(project, "extra.xlsx:3月:3:value: 'ND' has no detection limit",
                       readings=True)
    (project / "readings" / "extra.xlsx").unlink()
    (project / "readings" / "broken.xlsx").write_text("not a workbook", encoding="utf-8")
    refused_everywhere(project, "broken.xlsx: cannot open the file as an Excel workbook",
                       readings=True)


def test_a_readings_file_deleted_after_import_is_reported_with_the_command(project, tmp_path):
    db = tmp_path / "s.db"
    assert run("settle", project, "--year", "2021", "--db", db).exit_code == 0
    before = nets(project)
    (project / "readings" / "2021-wide-lishui.csv").unlink()
    checked = run("check", project, "--db", db)
    assert checked.exit_code == 0, checked.output
    stored = str(project / "readings" / "2021-wide-lishui.csv")
    assert f"warning: {stored}: imported into {db}" in checked.stderr
    assert "readings still count" in checked.stderr
    command = f"ecocomp readings forget '{stored}' --db {db}"
    assert command in checked.stderr
    again = run("settle", project, "--year", "2021", "--db", db, "--json")
    assert again.exit_code == 0
    assert any("still count" in w for w in json.loads(again.stdout)["warnings"])
    # the data still counts: nothing changed in the ledger
    assert json.loads(again.stdout)["adjusted"] == 0
    forgot = run("readings", "forget", stored, "--db", db)
    assert forgot.exit_code == 0, forgot.output
    assert "264 readings removed" in forgot.output
    after = run("settle", project, "--year", "2021", "--db", db, "--json")
    data = json.loads(after.stdout)
    # the file's warning is gone; its section now has no readings at all, which is said
    (warning,) = data["warnings"]
    assert warning.startswith("lishui-zjj-cd: no valid readings in 2021-01 to 2021-12")
    assert data["adjusted"] > 0
    assert "lishui-zjj-cd-2020" in before
    assert "lishui-zjj-cd-2020" not in {n["agreement"] for n in data["nets"]}
    unknown = run("readings", "forget", "nope.csv", "--db", db)
    assert unknown.exit_code == 1 and "no readings were imported from 'nope.csv'" in (
        unknown.output)


def test_forget_restores_what_the_file_corrected_and_rereads_shared_samples(tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    row = "jinyushi,2021-03-09,nh3n,{},mg/L,manual,\n"
    (folder / "a.csv").write_text(HEADER + row.format("0.2"), encoding="utf-8")
    (folder / "b.csv").write_text(HEADER + row.format("0.2") + row.replace("03-09", "03-10")
                                  .format("0.3"), encoding="utf-8")
    (folder / "fix.csv").write_text(HEADER + row.format("0.5"), encoding="utf-8")
    with ReadingStore.open(tmp_path / "r.db") as store:
        store.import_file(folder / "a.csv")
        store.import_file(folder / "b.csv")
        store.import_file(folder / "fix.csv", correction=True)
        assert [r.value for r in store.readings()] == [Decimal("0.5"), Decimal("0.3")]
        assert store.forget(str(folder / "fix.csv")) == 1
        assert [r.value for r in store.readings()] == [Decimal("0.2"), Decimal("0.3")]
        assert store.corrections() == []
        assert store.forget("a.csv") == 1  # by its name alone, when that is unique
        assert [r.value for r in store.readings()] == [Decimal("0.3")]
        store.import_file(folder / "b.csv")  # b held a's sample too: it comes back
        assert [r.value for r in store.readings()] == [Decimal("0.2"), Decimal("0.3")]
        months = store.aggregates("2021-03")
        assert months  # the monthly sums follow the readings
        files = {Path(f.file).name: f.current for f in store.imported_files()}
        assert files == {"b.csv": 2}



def test_forget_is_a_new_readings_state_and_no_import_number_is_used_twice(tmp_path):
    """The readings' state is the latest import's number (ecocomp.evidence.last_import):
    a forget must change it, and a later import must not take a forgotten number, or a run
    after them looks like the run recorded before (same state) and is reused."""
    folder = tmp_path / "files"
    folder.mkdir()
    row = "jinyushi,2021-03-{:02d},nh3n,0.2,mg/L,manual,\n"
    for day, name in enumerate(("a", "b", "c"), start=1):
        (folder / f"{name}.csv").write_text(HEADER + row.format(day), encoding="utf-8")
    with ReadingStore.open(tmp_path / "r.db") as store:
        store.import_file(folder / "a.csv")
        store.import_file(folder / "b.csv")
        states = [last_import(store)]
        store.forget("b.csv")  # the latest import
        states.append(last_import(store))
        store.import_file(folder / "c.csv")
        states.append(last_import(store))
        store.forget("a.csv")  # not the latest
        states.append(last_import(store))
        store.import_file(folder / "b.csv")
        states.append(last_import(store))
        assert states == sorted(set(states))  # each one new and larger
        assert [Path(f.file).name for f in store.imported_files()] == ["c.csv", "b.csv"]
        with pytest.raises(StoreError, match=r"imported files: .*b\.csv, .*c\.csv$"):
            store.forget("a.csv")

# --------------------------------------------------------------------------- item 7: corrections


def _corrections(project: Path, **files: str) -> None:
    (project / "corrections").mkdir(exist_ok=True)
    for name, text in files.items():
        (project / "corrections" / name).write_text(text, encoding="utf-8")


ROW = "lishui-zjj-cd,2021-05-07,tp,{},mg/L,manual,\n"


def test_settle_refuses_two_corrections_files_that_disagree(project, tmp_path):
    _corrections(project, **{"a.csv": HEADER + ROW.format("0.08"),
                             "b.csv": HEADER + ROW.format("0.12")})
    db = tmp_path / "s.db"
    result = run("settle", project, "--year", "2021", "--db", db)
    assert result.exit_code == 1, result.output
    assert "b.csv:2:value" in result.output and "a.csv row 2, to 0.08; here 0.12" in (
        result.output)
    assert "# supersedes: a.csv" in result.output
    # nothing was written: a later run without the conflict starts from scratch
    (project / "corrections" / "b.csv").unlink()
    ok = run("settle", project, "--year", "2021", "--db", db, "--json")
    assert ok.exit_code == 0
    assert json.loads(ok.stdout)["posted"] > 0


def test_settle_refuses_a_new_corrections_file_that_contradicts_an_imported_one(project,
                                                                              tmp_path):
    db = tmp_path / "s.db"
    _corrections(project, **{"a.csv": HEADER + ROW.format("0.08")})
    assert run("settle", project, "--year", "2021", "--db", db).exit_code == 0
    _corrections(project, **{"b.csv": HEADER + ROW.format("0.12")})
    result = run("settle", project, "--year", "2021", "--db", db)
    assert result.exit_code == 1 and "b.csv:2:value" in result.output


def test_a_later_corrections_file_that_names_the_earlier_one_wins(project, tmp_path):
    _corrections(project, **{"a.csv": HEADER + ROW.format("0.08"),
                             "b.csv": "# supersedes: a.csv\n" + HEADER + ROW.format("0.12")})
    assert run("check", project).exit_code == 0
    db = tmp_path / "s.db"
    for _ in range(2):  # and again: the declaration holds on every run
        result = run("settle", project, "--year", "2021", "--db", db)
        assert result.exit_code == 0, result.output
    with ReadingStore.open(db) as store:
        stored = [r.value for r in store.readings(section="lishui-zjj-cd", parameter="tp")
                  if r.sampled_at.isoformat().startswith("2021-05-07")]
    assert stored == [Decimal("0.12")]
    assert ecocomp.load_project(project).supersedes == {"b.csv": ("a.csv",)}


def test_supersedes_must_name_an_earlier_corrections_file(project):
    _corrections(project, **{"a.csv": "# supersedes: b.csv\n" + HEADER + ROW.format("0.08"),
                             "b.csv": HEADER + ROW.format("0.12"),
                             "c.csv": "# supersedes: zz.csv\n" + HEADER + ROW.format("0.2")})
    refused_everywhere(project, "a.csv:1:supersedes", "comes after this one",
                       "c.csv:1:supersedes", "'zz.csv', which is not a file in corrections/")


# --------------------------------------------------------------------------- issue 10: limits


def test_a_deeply_nested_agreement_is_a_located_error_not_a_recursion_error(project):
    depth = 10_000
    (project / "agreements" / "deep.toml").write_text(
        "x = " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    (project / "agreements" / "deep2.json").write_text(
        '{"x": ' + "[" * depth + "]" * depth + "}", encoding="utf-8")
    (project / "agreements" / "deep3.toml").write_text(
        "[" + ".".join(["a"] * 200) + "]\n", encoding="utf-8")
    refused_everywhere(project, "deep.toml: tables or lists nest more than 32 deep",
                       "deep2.json: tables or lists nest more than 32 deep",
                       "deep3.toml:a.a: tables or lists nest more than 32 deep")


def test_a_deeply_nested_sections_file_is_a_located_error(project):
    with open(project / "sections.toml", "a", encoding="utf-8") as stream:
        stream.write("deep = " + "[" * 40 + "]" * 40 + "\n")
    refused_everywhere(project, "sections.toml:", "nest more than 32 deep")


def test_a_megabyte_name_is_refused_briefly(project):
    edit(project / "parties.toml", 'name = "常德市"', f'name = "{"常" * 1_000_000}"')
    output = refused_everywhere(project, "parties.toml:", "party.10.name",
                                "is longer than 200 characters")
    assert len(output) < 3_000  # the name is shown clipped, never in full


def test_a_huge_project_file_is_refused_by_its_size(project):
    big = project / "agreements" / "huge.toml"
    big.write_text("# " + "x" * (9 * 1024 * 1024) + "\n", encoding="utf-8")
    refused_everywhere(project, "huge.toml: the file is",
                       "more than the 8,388,608 a project file may have")


def test_the_shipped_presets_agree_with_the_reference_sections_sides_and_waterbodies():
    import tomllib
    from importlib import resources

    from ecocomp.agreements import Agreement, agreement_problems, presets
    from ecocomp.watershed import reference_watershed

    reference = reference_watershed()
    checked = 0
    for name in presets():
        text = resources.files("ecocomp.presets").joinpath(f"{name}.toml").read_text("utf-8")
        data = tomllib.loads(text, parse_float=Decimal)
        if not data.get("sections") or not set(data["sections"]) <= set(reference.sections):
            continue  # 赤水河, 新安江: outside the bundled Hunan dataset; 南山 reads no water
        result = agreement_problems(data, name, parties=dict(reference.parties),
                                    sections=dict(reference.sections))
        assert isinstance(result, Agreement), [str(p) for p in result]
        checked += 1
    assert checked >= 9


def _overlaps_pair_by_pair(agreements: list[Agreement]) -> list[str]:
    """The oracle: every pair compared, as overlap_problems did before it grouped them."""
    found = []
    ordered = sorted(agreements, key=lambda a: (a.start, a.file or "", a.id))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if (a.formula != b.formula or dict(a.parties) != dict(b.parties)
                    or ((a.sections or b.sections) and not set(a.sections) & set(b.sections))
                    or b.start > a.end or a.start > b.end
                    or a.supersedes == b.id or b.supersedes == a.id):
                continue
            found.append(f"{b.file}: {b.id} overlaps {a.id}")
    return found


_SOME_AGREEMENTS = st.lists(st.builds(
    lambda n, formula, parties, sections, start, days, supersedes: Agreement(
        id=f"a{n}", name="x", formula=formula, sections=sections,
        parties=dict(zip(("upstream", "downstream"), parties, strict=True)),
        start=date(2020, 1, 1) + timedelta(days=start),
        end=date(2020, 1, 1) + timedelta(days=start + days), file=f"f{n % 3}.toml",
        supersedes=None if supersedes is None else f"a{supersedes}"),
    st.integers(0, 30), st.sampled_from(["class_ladder", "min_flow"]),
    st.sampled_from([("p", "q"), ("q", "p"), ("p", "r")]),
    st.lists(st.sampled_from(["s1", "s2", "s3"]), max_size=2, unique=True).map(tuple),
    st.integers(0, 700), st.integers(0, 700), st.none() | st.integers(0, 30),
), max_size=12, unique_by=lambda a: a.id)


@given(_SOME_AGREEMENTS)
def test_overlaps_found_within_groups_are_every_pair_compared(agreements):
    found = [f"{p.file}: {p.message.split(' (')[0]}" for p in overlap_problems(agreements)
             if " overlaps " in p.message]
    assert [f.replace("agreement '", "").replace("'", "") for f in found] == \
        _overlaps_pair_by_pair(agreements)


def test_superseding_index_gives_superseded_its_answer_for_every_month(project):
    """settlement looks superseding agreements up by id (linear) instead of asking every
    agreement of the project for every month: the same answers."""
    from ecocomp.agreements import superseded
    from ecocomp.periods import Period
    from ecocomp.settlement import _superseding

    _second_lishui(project, "2021-07-01", 90, "lishui-zjj-cd-2020")
    loaded = ecocomp.load_project(project)
    index = _superseding(loaded)
    answers = []
    for agreement in loaded.agreements:
        for month in agreement.months_in_force(Period(2021)):
            quick = superseded(agreement, month, index.get(agreement.id, []))
            assert quick == superseded(agreement, month, loaded.agreements)
            answers.append(quick)
    assert answers.count(True) == 6  # lishui-zjj-cd-2020 from July on
