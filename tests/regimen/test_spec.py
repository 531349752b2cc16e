"""Regimen spec files: every bundled spec loads and carries sources; a broken spec is rejected
with the file, the element and the fix."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bvall.errors import SpecError, UnknownNameError
from bvall.regimen import load_regimen, regimen_names
from bvall.regimen.spec import parse_day_expr

BUNDLED = Path(__file__).parents[2] / "src" / "bvall" / "regimen" / "data" / "regimens"


def test_bundled_regimens() -> None:
    assert regimen_names() == [
        "blinatumomab-rr",
        "bv-concurrent",
        "bv-sequential",
        "venetoclax-azacitidine-aml",
    ]


@pytest.mark.parametrize(
    "name", ["blinatumomab-rr", "bv-concurrent", "bv-sequential", "venetoclax-azacitidine-aml"]
)
def test_every_element_has_a_source(name: str) -> None:
    raw = tomllib.loads((BUNDLED / f"{name}.toml").read_text(encoding="utf-8"))
    elements = [raw["regimen"], *raw.get("parameters", {}).values()]
    for key in ("agent", "dose", "monitoring", "assessment", "note"):
        elements += raw.get(key, [])
    elements += raw["regimen"].get("readings", [])
    elements += raw.get("cycles", {}).get("lengths", [])
    assert elements
    for e in elements:
        assert isinstance(e.get("source"), str)
        assert len(e["source"]) > 10, e
    r = load_regimen(name)
    assert r.id == name


def _write(tmp_path: Path, text: str, name: str = "my-regimen") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
[regimen]
id = "my-regimen"
title = "Test"
version = "1"
summary = "x"
source = "a citation, section 1"

[[agent]]
id = "venetoclax"
name = "Venetoclax"
role = "protocol"
route = "PO"
unit = "mg"
frequency = "once daily"
max_daily_dose = 400
source = "a citation, section 2"

[[dose]]
agent = "venetoclax"
from = "D1"
to = "D7"
dose = 100
source = "a citation, section 3"
"""


def test_a_spec_file_by_path(tmp_path: Path) -> None:
    r = load_regimen(str(_write(tmp_path, MINIMAL)))
    assert r.id == "my-regimen"
    assert r.doses[0].dose == 100


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('dose = 100\nsource = "a citation, section 3"', 'dose = 100\nsource = ""'),
            r"my-regimen.toml: \[\[dose\]\] #1 \(venetoclax\): 'source' must be a non-empty citation",
        ),
        (
            ("dose = 100\n", "dosee = 100\n"),
            r"\[\[dose\]\] #1 \(venetoclax\): unknown key 'dosee'; did you mean 'dose'.*Allowed keys: agent",
        ),
        (
            ("dose = 100\n", "dose = 500\n"),
            r"\[\[dose\]\] #1 \(venetoclax\): dose 500 is above the agent's max_daily_dose 400; fix one",
        ),
        (
            ('agent = "venetoclax"\nfrom', 'agent = "venetoclx"\nfrom'),
            r"\[\[dose\]\] #1 \(venetoclx\): agent 'venetoclx' is not declared; did you mean 'venetoclax'",
        ),
        (
            ('to = "D7"', 'to = "D7 +"'),
            r"\[\[dose\]\] #1 \(venetoclax\): 'to': 'D7 \+' ends with an operator",
        ),
        (
            ('to = "D7"', 'to = "D7 - dex_days"'),
            r"uses 'dex_days', which is not a whole-number parameter.*\[parameters.dex_days\]",
        ),
        (('to = "D7"', 'to = "end(marrow)"'), r"refers to 'marrow'.*Known: venetoclax"),
        (
            ('route = "PO"', 'route = "oral"'),
            r"\[\[agent\]\] #1 \(venetoclax\): route 'oral' is not known; expected one of 'PO'",
        ),
        (
            ('unit = "mg"', 'unit = "g"'),
            r"unit 'g' is not one venetoclax is dosed in; expected one of mg",
        ),
        (
            ('id = "venetoclax"', 'id = "venetoclaxx"'),
            r"agent 'venetoclaxx' is not in the cohort agent vocabulary; did you mean 'venetoclax'",
        ),
        (
            ('id = "my-regimen"', 'id = "other"'),
            r"\[regimen\]: id 'other' differs from the file name; rename the file to 'other.toml'",
        ),
        (('title = "Test"\n', ""), r"\[regimen\]: missing 'title'; add it"),
    ],
)
def test_spec_errors_name_file_element_and_fix(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in MINIMAL
    path = _write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(SpecError, match=message):
        load_regimen(str(path))


def test_ramp_steps_must_not_skip(tmp_path: Path) -> None:
    text = MINIMAL.replace("dose = 100\n", "dose = 100\nramp_step = 2\n")
    with pytest.raises(SpecError, match=r"ramp steps \[2\] skip a number"):
        load_regimen(str(_write(tmp_path, text)))


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"my-regimen\.toml: not valid TOML"):
        load_regimen(str(_write(tmp_path, "[regimen\nid=")))


def test_unknown_regimen_names_the_accepted_ones() -> None:
    with pytest.raises(
        UnknownNameError,
        match=r"did you mean 'bv-concurrent'\? Accepted: blinatumomab-rr, bv-concurrent",
    ):
        load_regimen("bv-concurent")
    with pytest.raises(UnknownNameError, match="does not exist"):
        load_regimen("/nonexistent/x.toml")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("D1", 1),
        ("D0", 0),
        ("D-3", -3),
        ("D1 - dex_days", -4),
        ("D14 + 7", 21),
        ("start(x) - 2", 8),
    ],
)
def test_day_expressions(text: str, value: int) -> None:
    expr = parse_day_expr(text)
    assert expr.evaluate({"dex_days": 5}, lambda kind, ref: 10) == value


@pytest.mark.parametrize("text", ["", "D1 D2", "5", "-D1", "D1 + D2", "D1 * 2"])
def test_bad_day_expressions(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|must name exactly one day"):
        parse_day_expr(text)
