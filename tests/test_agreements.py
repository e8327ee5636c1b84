"""Agreement files: validation names file, line and key; presets load; objects are immutable."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ecocomp.agreements import (
    Agreement,
    FrozenDict,
    agreement_from_dict,
    freeze,
    load_agreement,
    load_agreements,
    preset,
    presets,
    thaw,
    unfrozen,
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


JSON_LADDER = {"id": "j", "name": "n", "formula": "class_ladder", "sections": ["s"],
               "upstream": "430800", "downstream": "430700", "start": "2020-01-01",
               "end": "2020-12-31", "unit": "yuan", "clearing_due": "04-30", "source": "x",
               "confidence": "placeholder",
               "params": {"rules": {c: {"payer": "upstream", "amount": 1.5} for c in
                                    ("I", "II", "III", "IV", "V", "worse_than_V")}}}


def test_json_agreement_loads_like_toml(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text(json.dumps(JSON_LADDER), encoding="utf-8")
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
        ('amount = "80.5"', "amount = -5", "params.rules.III.amount",
         "-5 is negative; write an amount of 0 or more"),
        ('amount = "80.5"', 'amount = "-5"', "params.rules.III.amount",
         "'-5' is not a plain number; write digits only"),
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


# --------------------------------------------------------------------------- nan and inf (D2)


@pytest.mark.parametrize(("literal", "shown"),
                         [("nan", "nan"), ("+nan", "nan"), ("inf", "inf"), ("-inf", "-inf")])
def test_nan_and_inf_amounts_are_located_problems(tmp_path: Path, literal: str,
                                                  shown: str) -> None:
    path = write(tmp_path, LISHUI.replace('amount = "80.5"', f"amount = {literal}"))
    (problem,) = problems_of(path)
    assert (problem.row, problem.field) == (21, "params.rules.III.amount")
    assert problem.message == (f"{shown} is not a number; write an amount such as 80 (in the "
                               "agreement's unit)")


def test_nan_outside_params_and_in_a_ratio_are_located(tmp_path: Path) -> None:
    path = write(tmp_path, INDEX.replace("k0 = 0.85", "k0 = nan").replace(
        'tn = "0.25", tp', "tn = inf, tp"))
    problems = problems_of(path)
    assert [(p.row, p.field) for p in problems] == [(15, "params.k0"), (16, "params.weights.tn")]
    assert [p.message.split(";")[0] for p in problems] == ["nan is not a number",
                                                          "inf is not a number"]
    assert "write a number above 0, e.g. 0.85" in problems[0].message
    path = write(tmp_path, LISHUI.replace('name = "澧水 test"', "name = nan"), "b.toml")
    (problem,) = problems_of(path)
    assert (problem.row, problem.field) == (2, "name")
    assert problem.message.startswith("nan is not a number; write the agreement's name")


def test_nan_and_infinity_in_a_json_agreement_are_located(tmp_path: Path) -> None:
    data = json.loads(json.dumps(JSON_LADDER))
    text = json.dumps(data).replace('"amount": 1.5', '"amount": NaN', 1)
    text = text.replace('"amount": 1.5', '"amount": -Infinity', 1)
    path = tmp_path / "j.json"
    path.write_text(text, encoding="utf-8")
    problems = problems_of(path)
    assert [(p.field, p.message.split(";")[0]) for p in problems] == [
        ("params.rules.I.amount", "nan is not a number"),
        ("params.rules.II.amount", "-inf is not a number"),
    ]


def test_nan_never_reaches_the_schema_of_a_users_formula() -> None:
    from ecocomp.formulas import register_formula

    register_formula("test_nan_fee", lambda a, s, p: [], roles=("upstream", "downstream"),
                     params_schema={"type": "object", "properties": {
                         "fee": {"type": "number", "minimum": 0}}}, replace=True)
    data = {**JSON_LADDER, "formula": "test_nan_fee", "params": {"fee": Decimal("NaN")}}
    with pytest.raises(ValidationFailed) as info:
        agreement_from_dict(data, "f.toml")
    (problem,) = info.value.problems
    assert problem.field == "params.fee" and problem.message.startswith("nan is not a number")


def test_a_users_formula_schema_problem_is_in_plain_words() -> None:
    from ecocomp.formulas import register_formula

    register_formula("test_plain_fee", lambda a, s, p: [], roles=("upstream", "downstream"),
                     params_schema={"type": "object", "properties": {
                         "fee": {"type": "number", "minimum": 0}}}, replace=True)
    data = {**JSON_LADDER, "formula": "test_plain_fee", "params": {"fee": Decimal(-5)}}
    with pytest.raises(ValidationFailed) as info:
        agreement_from_dict(data, "f.toml")
    (problem,) = info.value.problems
    assert problem.field == "params.fee"
    assert problem.message.startswith("-5 is negative"), problem.message
    assert "minimum" not in problem.message


# --------------------------------------------------------------------------- money amounts (D3, D6)


def money_schema_paths(node: object, root: dict, path: str = "") -> set[str]:
    """Dotted paths of the ``x-money`` nodes of a params schema (``*`` for any key)."""
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        node = {**root["$defs"][node["$ref"].rsplit("/", 1)[-1]], **node}
        del node["$ref"]
    if node.get("x-money"):
        return {path}
    found = set()
    for key, sub in node.get("properties", {}).items():
        found |= money_schema_paths(sub, root, f"{path}.{key}".lstrip("."))
    found |= money_schema_paths(node.get("additionalProperties"), root, f"{path}.*".lstrip("."))
    found |= money_schema_paths(node.get("items"), root, f"{path}.*".lstrip("."))
    return found


def test_every_money_parameter_of_every_formula_is_marked_as_money() -> None:
    from ecocomp.validation import schema

    rules = {f"rules.{c}.amount" for c in ("I", "II", "III", "IV", "V", "worse_than_V")}
    expected = {
        "class_ladder": {*rules, "improvement.amount", "missing_amount"},
        "target_reward_penalty": {"reward.I", "reward.II", "penalty.base", "penalty.step",
                                  "penalty.cap"},
        "class_change": {"reward_per_class", "penalty_per_class"},
        "min_flow": {"penalty_per_day", "cap_per_month"},
        "pollution_index": {"outcome.at_or_below.amount", "outcome.above.amount"},
        "fund_split": {"fund"},  # contribution, allocation, portion and shares are ratios
    }
    for formula, paths in expected.items():
        sch = dict(schema(f"params.{formula}"))
        assert money_schema_paths(sch, sch) == paths, formula


@pytest.mark.parametrize(
    ("unit", "amount", "message"),
    [
        ("yuan", "0.005", "0.005 yuan is not a whole number of fen; write at most 2 decimals in "
                          "yuan (6 in 万元)"),
        ("wan", "80.0000001", "80.0000001 万元 (800000.001 yuan) is not a whole number of fen; "
                              "write at most 6 decimals in 万元 (2 in yuan)"),
        ("wan", '"80.123456789012345678901234567890123"',
         "80.123456789012345678901234567890123 万元 (801234.56789012345678901234567890123 yuan) "
         "is not a whole number of fen"),
        ("yuan", '"1.0000000000000000000000000000001"', "1.0000000000000000000000000000001 yuan "
                                                        "is not a whole number of fen"),
        ("wan", "1e20", "100000000000000000000 万元 is more than 1,000,000,000,000 yuan (1万亿), "
                        "the largest amount ecocomp handles; check the amount and the unit"),
        ("wan", "100000001", "100000001 万元 (1000000010000 yuan) is more than "
                             "1,000,000,000,000 yuan (1万亿)"),
        ("yuan", "1e999999", "1E+999999 yuan is more than 1,000,000,000,000 yuan (1万亿)"),
    ],
)
def test_money_that_is_not_whole_fen_or_too_large_is_refused(
    tmp_path: Path, unit: str, amount: str, message: str
) -> None:
    text = LISHUI.replace('unit = "wan"', f'unit = "{unit}"').replace('"80.5"', amount)
    (problem,) = problems_of(write(tmp_path, text))
    assert (problem.row, problem.field) == (21, "params.rules.III.amount")
    assert problem.message.startswith(message), problem.message


@pytest.mark.parametrize(("unit", "amount"), [
    ("yuan", "0.01"), ("yuan", '"80.50"'), ("wan", "80.000001"), ("wan", '"80.10000000"'),
    ("wan", "100000000"), ("yuan", "1e12"),
])  # fmt: skip
def test_money_in_whole_fen_up_to_one_wan_yi_loads_exactly(
    tmp_path: Path, unit: str, amount: str
) -> None:
    text = LISHUI.replace('unit = "wan"', f'unit = "{unit}"').replace('"80.5"', amount)
    a = load_agreement(write(tmp_path, text))
    written = Decimal(amount.strip('"'))
    assert a.params["rules"]["III"]["amount"] == written
    assert a.to_yuan(written) == written * (10000 if unit == "wan" else 1)


def test_every_money_parameter_of_every_preset_is_checked(tmp_path: Path) -> None:
    from ecocomp.formulas.base import get_spec
    from ecocomp.validation import marked_values, schema

    checked = 0
    for name in presets():
        agreement = preset(name)
        sch = schema(str(get_spec(agreement.formula).params_schema))
        for path, _value, _node in marked_values(sch, thaw(agreement.params), "x-money"):
            data = {k: getattr(agreement, k) for k in ("id", "name", "formula", "sections",
                                                      "start", "end", "unit", "clearing_due",
                                                      "source", "confidence")}
            data.update({("parties" if r.startswith("parties[") else r): c
                         for r, c in agreement.parties.items()})
            if "parties" in data:
                data["parties"] = [c for r, c in agreement.parties.items()
                                   if r.startswith("parties[")]
            params = thaw(agreement.params)
            target = params
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = "0.001" if agreement.unit == "yuan" else "0.0000001"
            data["params"] = params
            with pytest.raises(ValidationFailed) as info:
                agreement_from_dict(data, f"{name}.toml")
            fields = [p.field for p in info.value.problems]
            assert fields == [".".join(map(str, ("params", *path)))], (name, path, fields)
            assert "is not a whole number of fen" in info.value.problems[0].message
            checked += 1
    assert checked >= 40


# --------------------------------------------------------------------------- plain messages (D15)

JARGON = ("is not of type", "does not match", "is not valid under", "datetime.", "Decimal(",
          "should be non-empty", "is a required property", "non-unique", "was expected", "^",
          "is too short", "is not one of [")


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ("start = 2020-01-01", "start = 07:32:00", "start",
         "07:32:00 is a time; write a date such as 2021-01-01"),
        ('factors = "standard"', "factors = []", "params.factors",
         "factors must list at least one parameter"),
        ('amount = "80.5"', 'amount = "80万"', "params.rules.III.amount",
         "'80万' is not a plain number; write digits only, e.g. 80 (the unit is set by `unit`)"),
        ('factors = "standard"', 'factors = "standrd"', "params.factors",
         "'standrd' is not one of the accepted forms; expected \"standard\""),
        ('factors = "standard"', 'factors = ["tp", "tp"]', "params.factors",
         "'tp' is listed twice; list each once"),
        ('upstream = "430800"', "upstream = 430800", "upstream",
         "430800 is a number; write the 6-digit GB/T 2260 division code in quotes"),
        ('missing_month = "skip"', 'missing_month = "skipp"', "params.missing_month",
         "'skipp' is not one of the choices; expected skip, upstream_pays, downstream_pays or "
         "error"),
        ('amount = "80.5"', "amount = true", "params.rules.III.amount",
         "true is a yes/no value; write an amount such as 80"),
        ('sections = ["lishui-zjj-cd"]', "sections = []", "sections",
         "the list is empty; list the codes of the sections the formula reads"),
        ('id = "lishui-test"', 'id = "Lishui Test"', "id", "'Lishui Test' is not an ASCII slug"),
        ('name = "澧水 test"', 'name = ""', "name", "the text is empty; write the agreement's"),
    ],
)
def test_schema_problems_are_in_plain_words(
    tmp_path: Path, old: str, new: str, key: str, message: str
) -> None:
    assert old in LISHUI
    (problem,) = problems_of(write(tmp_path, LISHUI.replace(old, new, 1)))
    assert problem.field == key and problem.row is not None
    assert problem.message.startswith(message), problem.message
    assert not [j for j in JARGON if j in problem.message], problem.message


def test_k0_zero_and_weights_as_text_say_what_to_write(tmp_path: Path) -> None:
    text = INDEX.replace("k0 = 0.85", 'k0 = "0"').replace('codmn = "0.25"', 'codmn = "¼"')
    problems = problems_of(write(tmp_path, text))
    assert [(p.field, p.message) for p in problems] == [
        ("params.k0", "'0' is not a plain number above 0; write digits only, e.g. 0.85"),
        ("params.weights.codmn", "'¼' is not a plain number; write digits only, e.g. 0.25"),
    ]


def test_the_documented_template_example_runs() -> None:
    import re

    text = (Path(__file__).parent.parent / "docs" / "agreements.md").read_text(encoding="utf-8")
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S)
               if "lvshui-jx-hn-2022" in b]
    namespace: dict[str, object] = {}
    exec(compile(code, "docs/agreements.md", "exec"), namespace)
    assert namespace["round2"].id == "lvshui-jx-hn-2022"  # type: ignore[attr-defined]


def test_policy_terms_of_the_shipped_presets() -> None:
    from datetime import date

    # 新安江 round 3 ran to the end of 2022 [P]; the 湘江 province settles with the cities at
    # the year-end fiscal settlement, the 2014 outturn about 2015-12 [P S1]: due 31 December.
    assert preset("xinanjiang-round3").end == date(2022, 12, 31)
    for name in presets():
        if name.startswith("xiangjiang-2014-"):
            a = preset(name)
            assert a.clearing_due == "12-31" and a.due_date(2014) == date(2015, 12, 31), name


@pytest.mark.parametrize(("valid", "invalid", "message"), [
    (1, True, "true is a yes/no value"),  # 1 == True, and their hashes are equal
    (Decimal(80), 80.0, "80.0 is a number"),  # equal too
    ({"payer": "upstream", "amount": Decimal(80)}, [("payer", "upstream")], "is a list"),
])
def test_a_value_remembered_as_valid_never_stands_for_an_equal_value_of_another_type(
        valid: object, invalid: object, message: str) -> None:
    from ecocomp import validation

    def params(amount: object) -> dict[str, object]:
        rule = amount if isinstance(amount, dict | list) else {"payer": "upstream",
                                                               "amount": amount}
        rules = {k: rule for k in ("I", "II", "III", "IV", "V", "worse_than_V")}
        return {"factors": "standard", "missing_month": "skip", "rules": rules}

    validation._VALID.clear()
    for _ in range(2):  # the second time from what the first remembered
        assert validation.schema_problems("params.class_ladder", params(valid)) == []
        problems = validation.schema_problems("params.class_ladder", params(invalid))
        assert problems and message in problems[0].message, problems
    assert len(validation._VALID) == 1


#: JSON-like data as formulas and files give it: the frozen form is what obligations hold
_JSON_LIKE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=3), inner, max_size=3)),
    max_leaves=12)


@given(_JSON_LIKE)
@example({"b": [1, {"水": None}], "a": (True, "x")})
def test_frozen_data_is_written_as_its_thawed_copy_is(value: object) -> None:
    frozen = freeze(value)
    for options in ({}, {"sort_keys": True}, {"ensure_ascii": False, "separators": (",", ":")}):
        assert (json.dumps(frozen, default=unfrozen, **options)  # type: ignore[arg-type]
                == json.dumps(thaw(frozen), **options))  # type: ignore[arg-type]


def test_unfrozen_refuses_what_json_refuses() -> None:
    with pytest.raises(TypeError, match="Object of type Decimal is not JSON serializable"):
        json.dumps({"a": Decimal("1")}, default=unfrozen)


def test_a_frozen_dicts_views_and_lookups_are_its_datas() -> None:
    data = {"b": 1, "a": [2]}
    frozen = FrozenDict(data)
    assert list(frozen.items()) == list(data.items())
    assert list(frozen.keys()) == ["b", "a"] and list(frozen.values()) == [1, [2]]
    assert frozen.get("a") == [2] and frozen.get("c", 3) == 3 and frozen.get("c") is None
    assert "b" in frozen and "c" not in frozen
    assert frozen == data and FrozenDict(data) == frozen
    data["c"] = 3  # the constructor copied: the frozen one is unchanged
    assert "c" not in frozen
    adopted = FrozenDict.adopt({"x": 1})
    assert adopted == {"x": 1} and hash(adopted) == hash(FrozenDict({"x": 1}))
