"""Agreement files: validation names file, line and key; presets load; objects are immutable."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from ecocomp.agreements import (
    Agreement,
    agreement_from_dict,
    load_agreement,
    load_agreements,
    preset,
    presets,
)
from ecocomp.errors import EcocompError, ValidationFailed
from ecocomp.periods import Period

LISHUI = '''id = "lishui-test"
name = "澧水 test"
formula = "class_ladder"
sections = ["lishui-zjj-cd"]
upstream = "430800"
downstream = "430700"
start = 2020-01-01
end = 2022-12-31
unit = "wan"
clearing_due = "04-30"
source = "S5"
confidence = "confirmed"

[params]
factors = "standard"
missing_month = "skip"

[params.rules]
I            = { payer = "downstream", amount = 80 }
II           = { payer = "none" }
III          = { payer = "upstream", amount = "80.5" }
IV           = { payer = "upstream", amount = 80.25 }
V            = { payer = "upstream", amount = 80 }
worse_than_V = { payer = "upstream", amount = 80 }
'''

INDEX = '''id = "xin-test"
name = "新安江 test"
formula = "pollution_index"
sections = ["jiekou"]
upstream = "340000"
downstream = "330000"
start = 2012-01-01
end = 2014-12-31
unit = "wan"
clearing_due = "04-30"
source = "S10"
confidence = "inferred"

[params]
k0 = 0.85
weights = { codmn = "0.25", nh3n = "0.25", tn = "0.25", tp = "0.25" }
baseline = { codmn = "2.0", nh3n = "0.12", tn = "1.1", tp = "0.03" }
outcome.at_or_below = { payer = "downstream", amount = 10000 }
outcome.above = { payer = "upstream", amount = 10000 }
'''


def write(tmp_path: Path, text: str, name: str = "a.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, **kwargs: object) -> list:
    with pytest.raises(ValidationFailed) as info:
        load_agreement(path, **kwargs)  # type: ignore[arg-type]
    return list(info.value.problems)


def test_every_shipped_preset_loads_and_cites_its_source() -> None:
    names = presets()
    assert len(names) >= 13
    for name in names:
        agreement = preset(name)
        assert agreement.id == name
        assert agreement.source and agreement.confidence in ("confirmed", "inferred",
                                                             "placeholder")


def test_numbers_and_decimal_strings_load_exactly(tmp_path: Path) -> None:
    a = load_agreement(write(tmp_path, LISHUI))
    rules = a.params["rules"]
    assert rules["III"]["amount"] == Decimal("80.5")
    assert rules["IV"]["amount"] == Decimal("80.25")  # TOML float read as Decimal, not float
    assert isinstance(rules["I"]["amount"], Decimal)
    index = load_agreement(write(tmp_path, INDEX, "i.toml"))
    assert index.params["k0"] == Decimal("0.85") and index.params["threshold"] == Decimal(1)


def test_agreement_knows_its_parties_period_due_date_and_unit(tmp_path: Path) -> None:
    a = load_agreement(write(tmp_path, LISHUI))
    assert a.party_for("upstream") == "430800" and a.party_for("downstream") == "430700"
    assert a.in_force(Period(2020)) and a.in_force(Period(2022, 12))
    assert not a.in_force(Period(2023)) and not a.in_force(Period(2019, 12))
    assert a.due_date(2021) == date(2022, 4, 30)
    assert a.to_yuan(Decimal("80.5")) == Decimal("805000.00")
    with pytest.raises(EcocompError, match="no 'party' party"):
        a.party_for("party")


def test_months_in_force_cut_a_year_at_start_and_end() -> None:
    a = attrs.evolve(preset("lishui-zjj-cd-2020"), start=date(2020, 4, 16),
                     end=date(2020, 9, 14))
    assert [m.month for m in a.months_in_force(Period(2020))] == [4, 5, 6, 7, 8, 9]


def test_agreements_are_immutable_deep_down() -> None:
    a = preset("lishui-zjj-cd-2020")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        a.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        a.params["rules"]["I"]["amount"] = 1  # type: ignore[index]
    assert hash(a) == hash(preset("lishui-zjj-cd-2020"))


def test_json_agreement_loads_like_toml(tmp_path: Path) -> None:
    data = {"id": "j", "name": "n", "formula": "class_ladder", "sections": ["s"],
            "upstream": "430800", "downstream": "430700", "start": "2020-01-01",
            "end": "2020-12-31", "unit": "yuan", "clearing_due": "04-30", "source": "x",
            "confidence": "placeholder",
            "params": {"rules": {c: {"payer": "upstream", "amount": 1.5} for c in
                                 ("I", "II", "III", "IV", "V", "worse_than_V")}}}
    path = tmp_path / "j.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    a = load_agreement(path)
    assert a.params["rules"]["I"]["amount"] == Decimal("1.5")
    assert a.params["missing_month"] == "skip"  # schema default filled in


@pytest.mark.parametrize(
    ("old", "new", "key", "needle"),
    [
        ('II           = { payer = "none" }\n', "", "params.rules", "'II' is required"),
        ('upstream = "430800"', 'upstream = "439999"', "upstream", "unknown party 439999"),
        ('sections = ["lishui-zjj-cd"]', 'sections = ["nowhere"]', "sections.0",
         "unknown section 'nowhere'"),
        ("end = 2022-12-31", "end = 2019-12-31", "end", "before start"),
        ('amount = "80.5"', "amount = -5", "params.rules.III.amount", "less than the minimum"),
        ('amount = "80.5"', 'amount = "-5"', "params.rules.III.amount", "does not match"),
        ('missing_month = "skip"', 'mising_month = "skip"', "params.mising_month",
         "unknown key(s) 'mising_month'"),
        ('source = "S5"', 'source = "S5"\nsorce = "x"', "sorce", "unknown key(s) 'sorce'"),
        ('confidence = "confirmed"', 'confidence = "sure"', "confidence",
         "confirmed, inferred or placeholder"),
        ('clearing_due = "04-30"', 'clearing_due = "4/30"', "clearing_due", "MM-DD"),
        ('clearing_due = "04-30"', 'clearing_due = "02-30"', "clearing_due",
         "not a day of the year"),
        ('formula = "class_ladder"', 'formula = "class_ladderr"', "formula",
         "unknown formula 'class_ladderr'"),
        ('downstream = "430700"', 'party = "430700"', "party", "does not use 'party'"),
        ('I            = { payer = "downstream", amount = 80 }',
         'I            = { payer = "downstream" }', "params.rules.I", "'amount' is required"),
        ('factors = "standard"', 'factors = ["nh3n", "ammonia"]', "params.factors.1",
         "unknown parameter 'ammonia'"),
    ],
)
def test_each_invalid_agreement_names_file_line_and_key(
    tmp_path: Path, old: str, new: str, key: str | None, needle: str
) -> None:
    assert old in LISHUI
    path = write(tmp_path, LISHUI.replace(old, new))
    problems = problems_of(path, parties={"430700", "430800"}, sections={"lishui-zjj-cd"})
    matching = [p for p in problems if needle in p.message]
    assert matching, [str(p) for p in problems]
    problem = matching[0]
    assert problem.file == str(path)
    assert problem.field == key
    assert problem.row is not None and problem.row >= 1
    assert str(path) in str(problem)


def test_weights_that_do_not_sum_to_one_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, INDEX.replace('tp = "0.25" }', 'tp = "0.3" }'))
    (problem,) = problems_of(path)
    assert problem.field == "params.weights" and "sum to 1.05, not 1" in problem.message
    assert problem.row == 16


def test_toml_syntax_errors_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, LISHUI.replace('name = "澧水 test"', 'name = "澧水 test'))
    (problem,) = problems_of(path)
    assert problem.row == 2 and "TOML syntax error" in problem.message


def test_all_problems_of_all_files_are_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, LISHUI.replace('confidence = "confirmed"', 'confidence = "x"')
          .replace("end = 2022-12-31", "end = 2019-01-01"), "a.toml")
    write(tmp_path, INDEX.replace("k0 = 0.85", "k0 = -1"), "b.toml")
    write(tmp_path, LISHUI, "c.toml")
    write(tmp_path, LISHUI, "d.toml")  # same id as c.toml
    with pytest.raises(ValidationFailed) as info:
        load_agreements(tmp_path)
    found = {(Path(p.file).name, p.field) for p in info.value.problems}
    assert {("a.toml", "confidence"), ("b.toml", "params.k0"), ("d.toml", "id")} <= found
    assert len(info.value.problems) >= 3


def test_load_agreements_returns_every_valid_file(tmp_path: Path) -> None:
    write(tmp_path, LISHUI, "a.toml")
    write(tmp_path, INDEX, "b.toml")
    assert [a.id for a in load_agreements(tmp_path)] == ["lishui-test", "xin-test"]


def test_fund_split_parties_are_roles_in_list_order() -> None:
    a = preset("chishui-2018")
    assert dict(a.parties) == {"parties[0]": "530000", "parties[1]": "520000",
                               "parties[2]": "510000"}
    assert a.party_codes == ("530000", "520000", "510000")


def test_unknown_party_in_a_party_list_is_named(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "ecocomp" / "presets" / "chishui-2018.toml").read_text(
        encoding="utf-8")
    path = write(tmp_path, text)
    problems = problems_of(path, parties={"530000", "520000"})
    assert [(p.field, "unknown party 510000" in p.message) for p in problems] == [
        ("parties.2", True)]


def test_deduction_to_an_unknown_party_is_named() -> None:
    data = {"id": "f", "name": "n", "formula": "fund_split", "sections": ["a"],
            "parties": ["530000", "520000"], "start": "2018-01-01", "end": "2018-12-31",
            "unit": "wan", "clearing_due": "04-30", "source": "x", "confidence": "inferred",
            "params": {"fund": 10, "contribution": {"530000": 1, "520000": 1},
                       "allocation": {"530000": 1, "520000": 1},
                       "deductions": [{"section": "a", "from": "530000",
                                       "to": {"510000": 1}}]}}
    with pytest.raises(ValidationFailed) as info:
        agreement_from_dict(data, "f.toml")
    assert [p.field for p in info.value.problems] == ["params.deductions.0.to.510000"]


def test_an_agreement_object_cannot_be_built_invalid() -> None:
    good = preset("lishui-zjj-cd-2020")
    with pytest.raises(ValueError, match="before start"):
        attrs.evolve(good, end=date(2019, 1, 1))
    with pytest.raises(ValueError, match="MM-DD"):
        attrs.evolve(good, clearing_due="4-30")
    with pytest.raises(ValueError):
        attrs.evolve(good, confidence="sure")
    assert isinstance(good, Agreement)
