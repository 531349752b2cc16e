"""`bvall design ...` as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path


def test_simon_json_lists_every_design(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("design", "simon", "--p0", "0.2", "--p1", "0.4", "--alpha", "0.05",
                "--power", "0.8", "--nmax", "55", "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(d["type"], d["r1"], d["n1"], d["r"], d["n"]) for d in rows] == [
        ("minimax", 4, 18, 10, 33),
        ("admissible", 3, 14, 11, 38),
        ("optimal", 3, 13, 12, 43),
    ]
    assert {"en0", "pet0", "attained_alpha", "attained_power"} <= set(rows[0])


def test_simon_table_and_save_then_evaluate(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "simon.json"
    r = run_cli("design", "simon", "--p0", "0.2", "--p1", "0.4", "--nmax", "55", "--save", str(f))
    assert r.exit_code == 0, r.stderr
    assert "3/13" in r.stdout
    assert "12/43" in r.stdout
    r = run_cli("design", "evaluate", str(f), "--counts", "13:3:-")
    assert r.exit_code == 0, r.stderr
    assert "stop_futility" in r.stdout


def test_bad_input_exit_code_and_message(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("design", "simon", "--p0", "0.4", "--p1", "0.2")
    assert r.exit_code == 1
    assert "p1=0.2 must be greater than p0=0.4" in r.stderr


def test_bop2_binary_json(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "b.json"
    r = run_cli("design", "bop2", "--null", "0.2", "--alt", "0.4", "--looks", "10,20,30,40",
                "--alpha", "0.1", "--scenario", "mid:0.3", "--format", "json", "--save", str(f))  # fmt: skip
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["type"] == "bop2"
    assert [row["patients"] for row in doc["boundaries"]] == [10, 20, 30, 40]
    labels = [oc["scenario"]["label"] for oc in doc["operating_characteristics"]]
    assert labels == ["null", "alternative", "mid"]
    assert json.loads(f.read_text())["parameters"]["lambda"] == doc["parameters"]["lambda"]


def test_monitor_table_with_informed_prior(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("design", "monitor", "--limit", "0.2", "--n", "20", "--prior", "informed",
                "--prior-weight", "0.5")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert "ESS 7.5" in r.stdout
    assert "stop if toxicities" in r.stdout


def test_simon_analysis(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("design", "simon-analysis", "--r1", "3", "--n1", "13", "--r", "12", "--n", "43",
                "--p0", "0.2", "--stage1", "5", "--total", "14", "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    a = json.loads(r.stdout)
    assert a["promising"] is True
    assert a["estimate_method"].startswith("UMVUE")


def test_a_saved_design_names_the_outcomes_it_monitors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # issue 12, item 5: the design file names the endpoints.toml outcomes monitoring reads
    import json

    f = tmp_path / "tox.json"
    r = run_cli("design", "monitor", "--limit", "0.2", "--n", "40", "--toxicity-window-day",
                "28", "--save", str(f))  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads(f.read_text(encoding="utf-8"))["monitoring"] == {
        "efficacy_endpoint": "cr_mrd_negative",
        "toxicity_endpoint": "crs_icans_grade3plus",
        "toxicity_window_day": 28,
    }
    r = run_cli("design", "monitor", "--limit", "0.2", "--n", "40", "--efficacy-endpoint",
                "cr_mrd_negativ", "--save", str(f))  # fmt: skip
    assert r.exit_code == 1
    assert "'cr_mrd_negativ' is not an efficacy outcome" in r.stderr
