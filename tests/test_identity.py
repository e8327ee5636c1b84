"""A database belongs to one project: another project is refused, the demo keeps out of
files it did not create, and moving the folder or editing amounts is still the same project."""

from __future__ import annotations

import hashlib
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import ecocomp
from ecocomp.cli import main
from ecocomp.errors import InputError
from ecocomp.identity import (
    ProjectMismatch,
    check_identity,
    declared_id,
    project_identity,
    recorded_identity,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hunan-2021"
YEAR = 2021


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


def copy_example(tmp_path: Path, name: str, *, project_id: str | None = "keep",
                 prefix: str = "") -> Path:
    """A copy of the example; ``project_id`` None drops project.toml, ``prefix`` renames
    every agreement id (a different project with the same data)."""
    project = tmp_path / name
    shutil.copytree(EXAMPLE, project)
    toml = project / "project.toml"
    if project_id is None:
        toml.unlink()
    elif project_id != "keep":
        toml.write_text(f'id = "{project_id}"\n', encoding="utf-8")
    if prefix:
        for file in (project / "agreements").glob("*.toml"):
            text = file.read_text(encoding="utf-8")
            file.write_text(re.sub(r'(?m)^id = "', f'id = "{prefix}', text), encoding="utf-8")
    return project


def settle(project: Path, db: Path, **options: object) -> ecocomp.SettlementResult:
    with ecocomp.Ledger.open(db) as ledger:
        return ecocomp.settle(ecocomp.load_project(project), year=YEAR, ledger=ledger,
                              today=date(2022, 3, 1), **options)  # type: ignore[arg-type]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- identity


def test_the_first_settle_records_the_declared_id_and_the_agreements(settled):
    found = recorded_identity(settled)
    assert found is not None
    assert found.id == "hunan-2021-example"
    assert "lishui-zjj-cd-2020" in found.agreements


def test_a_project_with_another_declared_id_is_refused_and_nothing_is_written(tmp_path, db):
    other = copy_example(tmp_path, "other", project_id="xinanjiang-2023")
    before = sha(db)
    with pytest.raises(ProjectMismatch, match=r"belongs to project 'hunan-2021-example'.*"
                                              r"declares id 'xinanjiang-2023'.*another --db"):
        settle(other, db)
    assert sha(db) == before


def test_the_cli_refuses_another_project_with_one_line_saying_how_to_proceed(tmp_path, db):
    other = copy_example(tmp_path, "other", project_id="xinanjiang-2023")
    result = run("settle", other, "--year", YEAR, "--db", db)
    assert result.exit_code == 1
    assert "belongs to project 'hunan-2021-example'" in result.output
    assert "--same-project" in result.output and "another --db" in result.output
    assert "Traceback" not in result.output


def test_without_ids_a_project_sharing_no_agreement_is_refused(tmp_path):
    db = tmp_path / "plain.db"
    settle(copy_example(tmp_path, "plain", project_id=None), db)
    renamed = copy_example(tmp_path, "renamed", project_id=None, prefix="x-")
    with pytest.raises(ProjectMismatch, match="none of the database's agreements"):
        settle(renamed, db)


def test_a_database_recorded_with_an_id_refuses_a_project_without_one(tmp_path, db):
    anonymous = copy_example(tmp_path, "anonymous", project_id=None)
    with pytest.raises(ProjectMismatch, match=r"no project\.toml declaring id"):
        settle(anonymous, db)


def test_moving_the_folder_and_editing_amounts_is_the_same_project(tmp_path, db):
    moved = copy_example(tmp_path, "somewhere-else")
    agreement = moved / "agreements" / "lishui-zjj-cd-2020.toml"
    text = agreement.read_text(encoding="utf-8")
    agreement.write_text(text.replace("amount = 80 }", "amount = 90 }"), encoding="utf-8")
    result = settle(moved, db)
    assert result.adjusted > 0  # the edited amounts were settled, not refused
    assert recorded_identity(db).folder == str(moved)  # type: ignore[union-attr]


def test_a_growing_project_without_an_id_stays_the_same_project(tmp_path):
    db = tmp_path / "plain.db"
    plain = copy_example(tmp_path, "plain", project_id=None)
    settle(plain, db)
    (plain / "agreements" / "youshui-cq-hn-2019.toml").unlink()
    settle(plain, db)  # one agreement fewer: still shares the others
    assert "youshui-cq-hn-2019" not in recorded_identity(db).agreements  # type: ignore[union-attr]


def test_same_project_accepts_and_records_the_new_identity(tmp_path, db):
    other = copy_example(tmp_path, "renamed", project_id="hunan-2021-renamed")
    settle(other, db, same_project=True)
    assert recorded_identity(db).id == "hunan-2021-renamed"  # type: ignore[union-attr]
    settle(other, db)  # from now on without the flag


def test_the_cli_same_project_flag_records_the_new_identity(tmp_path, db):
    other = copy_example(tmp_path, "renamed", project_id="hunan-2021-renamed")
    result = run("settle", other, "--year", YEAR, "--db", db, "--same-project", "--quiet")
    assert result.exit_code == 0, result.output
    assert recorded_identity(db).id == "hunan-2021-renamed"  # type: ignore[union-attr]


def test_a_database_settled_before_identities_were_recorded_uses_its_ledger(tmp_path, db):
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE project_identity")
    conn.commit()
    conn.close()
    legacy = recorded_identity(db)
    assert legacy is not None and legacy.id is None and "lvshui-jx-hn-2019" in legacy.agreements
    renamed = copy_example(tmp_path, "renamed", project_id=None, prefix="x-")
    with pytest.raises(ProjectMismatch):
        check_identity(db, ecocomp.load_project(renamed))


@pytest.mark.parametrize("text, field", [
    ('id = "Hunan 2021"\n', "id"),
    ("id = 7\n", "id"),
    ('name = "no id"\n', "id"),
    ('id = "a"\nowner = "b"\n', "owner"),
    ("id = \n", None),
])
def test_a_bad_project_toml_names_the_file_and_field(tmp_path, text, field):
    (tmp_path / "project.toml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        declared_id(tmp_path)
    problem = caught.value.problems[0]
    assert problem.file is not None and problem.file.endswith("project.toml")
    assert problem.field == field


def test_the_identity_ignores_the_folder_name():
    project = ecocomp.load_project(EXAMPLE)
    identity = project_identity(project)
    assert identity.id == "hunan-2021-example"
    assert identity == project_identity(project) and "hunan-2021" not in identity.agreements


# --------------------------------------------------------------------------- demo


def test_demo_refuses_an_existing_file_it_did_not_create(tmp_path, db):
    before = sha(db)
    result = run("demo", "--db", db)
    assert result.exit_code == 1
    assert "was not created by `ecocomp demo`" in result.output
    assert "--db" in result.output
    assert sha(db) == before


def test_demo_refuses_a_real_ledger_of_another_project(tmp_path):
    real = tmp_path / "real.db"
    settle(copy_example(tmp_path, "real", project_id="changde-2021"), real)
    before = sha(real)
    result = run("demo", "--db", real)
    assert result.exit_code == 1
    assert sha(real) == before


def test_demo_refuses_a_file_that_is_not_a_database(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me", encoding="utf-8")
    result = run("demo", "--db", notes)
    assert result.exit_code == 1
    assert notes.read_text(encoding="utf-8") == "keep me"


def test_demo_runs_again_into_its_own_file(tmp_path):
    demo = tmp_path / "demo.db"
    assert run("demo", "--db", demo).exit_code == 0
    again = run("demo", "--db", demo)
    assert again.exit_code == 0, again.output
    assert "ledger: 0 posted" in again.stdout


def test_check_reports_a_bad_project_toml(tmp_path):
    project = copy_example(tmp_path, "bad", project_id="keep")
    (project / "project.toml").write_text('id = "Not A Slug"\n', encoding="utf-8")
    result = run("check", project)
    assert result.exit_code == 1
    assert "project.toml" in result.output and "not a project id" in result.output
