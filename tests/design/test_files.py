"""Design files: round trip, validation, tamper detection."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from bvall.design import (
    CalibrationGrid,
    compute_bop2_design,
    compute_simon_designs,
    make_toxicity_monitor,
    read_design,
    write_design,
)
from bvall.design.files import FORMAT_VERSION
from bvall.errors import InputError, SpecError

LOOKS = (10, 20, 30, 40)


@pytest.fixture(scope="module")
def designs():  # type: ignore[no-untyped-def]
    simon = compute_simon_designs(0.2, 0.4, 0.05, 0.8, nmax=55)[-1]
    bop2 = compute_bop2_design(
        LOOKS, 0.45, 0.6, 0.1, 0.3, 0.2, grid=CalibrationGrid(lam_step=0.02, gamma_step=0.1)
    )
    mon = make_toxicity_monitor(0.2, 0.9, 30)
    return {"simon": simon, "bop2": bop2, "monitor": mon}


@pytest.mark.parametrize("name", ["simon", "bop2", "monitor"])
def test_round_trip(designs, name, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_design(designs[name], tmp_path / f"{name}.json", title="BV phase II")
    doc = json.loads(path.read_text())
    assert doc["format"] == "bvall-design"
    assert doc["format_version"] == FORMAT_VERSION
    back = read_design(path)
    if name == "simon":
        # the admissibility weights describe the search, not the design, and are not stored
        assert back == replace(designs[name], q_low=None, q_high=None)
    elif name == "bop2":
        assert back.boundaries == designs[name].boundaries  # type: ignore[union-attr]
        assert back.power == pytest.approx(designs[name].power)  # type: ignore[union-attr]
    else:
        assert back.boundaries == designs[name].boundaries  # type: ignore[union-attr]


def test_edited_boundary_table_is_rejected(designs, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_design(designs["bop2"], tmp_path / "b.json")
    doc = json.loads(path.read_text())
    doc["boundaries"][0]["stop_if_toxicities_at_least"] += 2
    path.write_text(json.dumps(doc))
    with pytest.raises(SpecError, match="stored boundary table differs"):
        read_design(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="other"), "format='other'; expected 'bvall-design'"),
        (lambda d: d.update(format_version=99), "format_version=99 is not supported"),
        (lambda d: d.update(type="fleming"), "type='fleming'; expected one of"),
        (lambda d: d["parameters"].pop("limit"), "missing 'limit'"),
        (
            lambda d: d["parameters"].update(threshold=1.5),
            r"threshold \(posterior probability\)=1.5",
        ),
        (lambda d: d["parameters"].update(prior={"a": -1, "b": 1}), "needs a > 0 and b > 0"),
    ],
)
def test_invalid_files(designs, tmp_path: Path, edit, message) -> None:  # type: ignore[no-untyped-def]
    path = write_design(designs["monitor"], tmp_path / "m.json")
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message):
        read_design(path)


def test_not_json_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(SpecError, match="not valid JSON"):
        read_design(bad)
    with pytest.raises(InputError, match="cannot read design file"):
        read_design(tmp_path / "missing.json")
