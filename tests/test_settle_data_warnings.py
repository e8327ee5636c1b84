"""Readings a settlement should not pass in silence: a month classed on fewer factors than
the section usually has (:func:`ecocomp.settlement.missing_factors`), readings dated after
today (:func:`ecocomp.settlement.future_readings`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from click.testing import CliRunner

import ecocomp
from ecocomp.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021
YONGZHOU = ("xiangjiang-2014-yongzhou-change, xiangjiang-2014-yongzhou-target")


def _project(tmp_path: Path, keep: Callable[[list[str]], bool]) -> Path:
    """The example with only the readings rows (split on commas) that ``keep`` keeps."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    for name in ("2021-manual.csv", "2021-automatic.csv"):
        path = project / "readings" / name
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([lines[0], *(line for line in lines[1:]
                                                if keep(line.split(",")))]) + "\n",
                        encoding="utf-8")
    return project


def _warnings(project: Path) -> list[str]:
    result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                            today=date(2022, 3, 15))
    return [w for w in result.warnings if "no valid reading of" in w]


def test_a_month_with_only_ph_is_named_with_what_its_class_rests_on(tmp_path):
    """guiyangzhen's March with pH alone (the station down, one manual sample of pH):
    class Ⅰ on pH, where its other months are classed on eight factors."""
    def keep(row: list[str]) -> bool:
        return not (row[0] == "guiyangzhen" and row[1].startswith("2021-03") and row[2] != "ph")

    (warning,) = _warnings(_project(tmp_path, keep))
    assert warning == (
        "guiyangzhen: in 2021-03 no valid reading of do, codmn, nh3n, tp, as, cd and 1 more "
        "(its class rests on ph alone). The section has readings of them in most of its 12 "
        f"months with readings in 2021, and {YONGZHOU} class a month on the factors it has. "
        "If readings are missing, import them and settle again")


def test_each_month_of_a_section_is_listed_in_one_warning(tmp_path):
    def keep(row: list[str]) -> bool:
        return not (row[0] == "jinyushi" and row[2] == "tp"
                    and row[1][:7] in ("2021-02", "2021-09"))

    (warning,) = _warnings(_project(tmp_path, keep))
    assert warning.startswith(
        "jinyushi: in 2021-02 no valid reading of tp (its class rests on ph, do, codmn, "
        "cod, bod5, nh3n and 14 more); in 2021-09 no valid reading of tp (")
    assert "readings of tp in most of its 12 months" in warning  # the one factor, named
    assert "lvshui-jx-hn-2019 classes a month" in warning


def test_a_factor_measured_in_half_the_months_or_fewer_is_not_missing(tmp_path):
    """Metals sampled every other month: their absence is the sampling plan, not a gap."""
    def keep(row: list[str]) -> bool:
        return not (row[0] == "jinyushi" and row[2] in ("cd", "pb")
                    and int(row[1][5:7]) % 2 == 0)

    assert _warnings(_project(tmp_path, keep)) == []


def test_only_the_agreements_factors_count(tmp_path):
    """tn is not one of the 21 standard items, cu not one of Yongzhou's eight factors."""
    def keep(row: list[str]) -> bool:
        return not (row[1].startswith("2021-05") and (
            row[2] == "tn" or (row[0] == "guiyangzhen" and row[2] == "cu")))

    assert _warnings(_project(tmp_path, keep)) == []


def test_a_factor_with_only_invalid_samples_is_missing(tmp_path):
    project = _project(tmp_path, lambda row: True)
    for name in ("2021-manual.csv", "2021-automatic.csv"):
        path = project / "readings" / name
        lines = path.read_text(encoding="utf-8").splitlines()
        edited = [line.rsplit(",", 1)[0] + ",invalid" if line.startswith("jinyushi,2021-06")
                  and line.split(",")[2] == "nh3n" else line for line in lines]
        assert edited != lines
        path.write_text("\n".join(edited) + "\n", encoding="utf-8")
    (warning,) = _warnings(project)
    assert warning.startswith("jinyushi: in 2021-06 no valid reading of nh3n (")


def test_one_missing_factor_is_named_in_the_singular(tmp_path):
    def keep(row: list[str]) -> bool:
        return not (row[0] == "jinyushi" and row[2] == "tp" and row[1].startswith("2021-02"))

    (warning,) = _warnings(_project(tmp_path, keep))
    assert warning.startswith("jinyushi: in 2021-02 no valid reading of tp (")
    assert "The section has readings of tp in most of its 12 months" in warning


def test_a_month_without_any_reading_is_left_to_the_missing_months_warning(tmp_path):
    def keep(row: list[str]) -> bool:
        return not (row[0] == "jinyushi" and row[1].startswith("2021-12"))

    result = ecocomp.settle(ecocomp.load_project(_project(tmp_path, keep)), year=YEAR,
                            dry_run=True, today=date(2022, 3, 15))
    assert [w for w in result.warnings if "jinyushi" in w] == [
        w for w in result.warnings if "no valid readings in 2021-12 (1 month)" in w]
    assert len(result.warnings) == 1


def test_the_command_prints_it_and_still_settles(tmp_path):
    def keep(row: list[str]) -> bool:
        return not (row[0] == "guiyangzhen" and row[1].startswith("2021-03") and row[2] != "ph")

    project = _project(tmp_path, keep)
    run = CliRunner().invoke(main, ["--lang", "en", "settle", str(project), "--db",
                                    str(tmp_path / "s.db"), "--year", str(YEAR)])
    assert run.exit_code == 0, run.output
    assert "warning: guiyangzhen: in 2021-03 no valid reading of do, codmn" in run.output


def test_readings_dated_after_today_are_named_with_their_file(tmp_path):
    """2031 typed for 2021: the two samples count for no settled year, and May still has
    its other samples, so no month shows a gap."""
    def keep(row: list[str]) -> bool:
        return True

    project = _project(tmp_path, keep)
    path = project / "readings" / "2021-manual.csv"
    text = path.read_text(encoding="utf-8")
    for parameter in ("ph", "do"):
        text = text.replace(f"zhutingzhen,2021-05-06,{parameter},",
                            f"zhutingzhen,2031-05-06,{parameter},")
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "s.db"
    run = CliRunner().invoke(main, ["--lang", "en", "settle", str(project), "--db", str(db),
                                    "--year", str(YEAR)])
    assert run.exit_code == 0, run.output
    (line,) = [w for w in run.output.splitlines() if "dated after tomorrow" in w]
    tomorrow = date.today() + timedelta(days=1)
    assert line.startswith(
        f"warning: 2 readings are dated after tomorrow ({tomorrow.isoformat()}): "
        "zhutingzhen (2 from 2031-05-06), from ")
    assert "2021-manual.csv. A year typed wrong or a clock set wrong?" in line
    assert f"`ecocomp readings forget FILE --db {db}`" in line


def test_a_reading_of_the_day_after_tomorrow_counts_and_one_of_tomorrow_does_not(tmp_path):
    """Tomorrow is not "later": readings are in China Standard Time, and on a server on UTC
    the machine's date is a day behind China's for eight hours of the day."""
    project = _project(tmp_path, lambda row: True)
    path = project / "readings" / "2021-manual.csv"
    with path.open("a", encoding="utf-8") as f:
        f.write("zhutingzhen,2022-03-16T00:00,tp,0.05,mg/L,manual,\n")
    for today in (date(2022, 3, 15), date(2022, 3, 16)):
        result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                                today=today)
        assert not [w for w in result.warnings if "dated after" in w]
    result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                            today=date(2022, 3, 14))
    (warning,) = [w for w in result.warnings if "dated after" in w]
    assert warning.startswith("1 reading is dated after tomorrow (2022-03-15): zhutingzhen "
                              "(1 from 2022-03-16), from ")


def test_more_than_six_sections_with_later_readings_are_counted_in_words(tmp_path):
    """Seven sections with a reading after today: six named, then "1 more section"."""
    project = _project(tmp_path, lambda row: True)
    path = project / "readings" / "2021-manual.csv"
    sections = sorted({line.split(",")[0] for line in
                       path.read_text(encoding="utf-8").splitlines()[1:]})
    assert len(sections) >= 7
    with path.open("a", encoding="utf-8") as f:
        for section in sections[:7]:
            f.write(f"{section},2031-05-06T08:00,tp,0.05,mg/L,manual,\n")
    result = ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                            today=date(2022, 3, 15))
    (warning,) = [w for w in result.warnings if "dated after tomorrow" in w]
    assert warning.startswith("7 readings are dated after tomorrow (2022-03-16): ")
    assert ", 1 more section, from " in warning


def _synthetic(tmp_path: Path, drop: Callable[[list[str]], bool]) -> Path:
    """The benchmarks' generator's 4-section project (an index and a fund split settled by
    the year, class ladders by the month), less the 2021 rows that ``drop`` picks."""
    from benchmarks.project import write_project

    project = tmp_path / "synthetic"
    write_project(project, 4)
    path = project / "readings" / "2021.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0], *(line for line in lines[1:]
                                            if not drop(line.split(",")))]) + "\n",
                    encoding="utf-8")
    return project


def _settled_warnings(project: Path) -> list[str]:
    return list(ecocomp.settle(ecocomp.load_project(project), year=YEAR, dry_run=True,
                               today=date(2022, 3, 15)).warnings)


def test_a_year_value_resting_on_two_months_is_named(tmp_path):
    """s0001 measured in January and December only: the monthly ladder skips the months
    between (a station down, listed in its statement); the index and the fund split take
    the year's mean from two months, which is said."""
    project = _synthetic(tmp_path, lambda row: row[0] == "s0001"
                         and row[1][5:7] not in ("01", "12"))
    assert _settled_warnings(project) == [
        "s0001: valid readings in only 2 of the 12 months that fund-zishui, index-s0001 "
        "settle by the year 2021 (none in 2021-02 to 2021-11); its annual value rests on "
        "them. If readings are missing, import them and settle again"]


def test_a_year_with_more_than_half_its_months_measured_is_not_named(tmp_path):
    project = _synthetic(tmp_path, lambda row: row[0] == "s0001"
                         and row[1][5:7] in ("03", "05", "07", "09", "11"))
    assert _settled_warnings(project) == []
    project = _synthetic(tmp_path / "six", lambda row: row[0] == "s0001"
                         and row[1][5:7] in ("02", "04", "06", "08", "10", "11"))
    (warning,) = _settled_warnings(project)
    assert warning.startswith("s0001: valid readings in only 6 of the 12 months that "
                              "fund-zishui, index-s0001 settle by the year 2021 (none in "
                              "2021-02, 2021-04, 2021-06, 2021-08, 2021-10, 2021-11)")

