"""`bvall stats ci|fisher|km|followup` as a user meets them; numbers against the R references."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bvall.stats import BINOMIAL_METHODS
from tests.stats.r_reference import num, rows


def test_ci_all_methods_json_match_r(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("stats", "ci", "11", "12", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert [o["method"] for o in out] == list(BINOMIAL_METHODS)
    ref = {
        r["method"]: r
        for r in rows("binomial.csv")
        if (r["x"], r["n"], r["level"]) == ("11", "12", "0.95")
    }
    for o in out:
        assert o["lower"] == pytest.approx(float(ref[o["method"]]["lower"]), abs=1e-9)
        assert o["upper"] == pytest.approx(float(ref[o["method"]]["upper"]), abs=1e-9)


def test_ci_one_method_and_level(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "stats", "ci", "0", "20", "--method", "jeffreys", "--level", "0.9", "--format", "json"
    )
    (only,) = json.loads(result.stdout)
    ref = next(
        r
        for r in rows("binomial.csv")
        if (r["x"], r["n"], r["level"], r["method"]) == ("0", "20", "0.9", "jeffreys")
    )
    assert only["method"] == "jeffreys"
    assert (only["lower"], only["upper"]) == pytest.approx((0.0, float(ref["upper"])), abs=1e-9)


def test_ci_table_names_the_method(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("stats", "ci", "12", "13", "--method", "agresti-coull")
    assert "Agresti–Coull" in result.stdout
    assert "64.6%" in result.stdout  # 0.6458 (CLINICAL.md 8.1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["5", "3"], "x = 5 is larger than n = 3"),
        (["-1", "10"], "X '-1' is negative"),
        (["1", "ten"], "N 'ten' is not a number"),
        (["1.5", "10"], "X '1.5' is not a whole number"),
        (["1", "10", "--method", "wilsn"], "'wilsn' is not known; did you mean 'wilson'"),
        (["1", "10", "--level", "95"], "level = 95.0 must be between 0 and 1"),
    ],
)
def test_ci_bad_input(run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("stats", "ci", *args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_fisher_json_matches_r(run_cli) -> None:  # type: ignore[no-untyped-def]
    ref = next(
        r
        for r in rows("fisher_2x2.csv")
        if (r["a"], r["b"], r["c"], r["d"], r["alternative"], r["level"])
        == ("5", "3", "1", "4", "greater", "0.95")
    )
    result = run_cli(
        "stats", "fisher", "5", "3", "1", "4", "--alternative", "greater", "--format", "json"
    )
    out = json.loads(result.stdout)
    assert {"p_value", "odds_ratio", "conf_int"} <= set(out)
    assert out["p_value"] == pytest.approx(float(ref["p_value"]), rel=1e-9)
    assert out["odds_ratio"] == pytest.approx(float(ref["odds_ratio"]), rel=1e-9)
    assert out["conf_int"][0] == pytest.approx(float(ref["conf_low"]), rel=1e-9)
    assert out["conf_int"][1] == "Infinity"


def test_fisher_rxc_table(run_cli) -> None:  # type: ignore[no-untyped-def]
    ref = next(r for r in rows("fisher_rxc.csv") if r["table"] == "3,2,1;1,2,4")
    result = run_cli("stats", "fisher", "--table", "3,2,1;1,2,4", "--format", "json")
    out = json.loads(result.stdout)
    assert out["p_value"] == pytest.approx(float(ref["p_value"]), rel=1e-9)
    assert out["odds_ratio"] is None
    assert out["conf_int"] is None
    table = run_cli("stats", "fisher", "--table", "3,2,1;1,2,4")
    assert "0.324" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1", "2", "3"], "Expected four cells A B C D (got 3: '1 2 3')"),
        (["1", "-2", "3", "4"], "Cell '-2' is negative"),
        (["1", "2", "3", "4", "--table", "1,2;3,4"], "not both"),
        (["--table", "1,2;;3,4"], "--table '1,2;;3,4' has an empty row"),
        (["--table", "1,2,3;4,5"], "is not a table"),
        (["--table", "1,2,3;4,5,6", "--alternative", "less"], "exists only for 2 × 2 tables"),
        (
            ["1", "2", "3", "4", "--alternative", "two.sided"],
            "Alternative 'two.sided' is not known",
        ),
    ],
)
def test_fisher_bad_input(run_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("stats", "fisher", *args)
    assert result.exit_code == 1
    assert message in result.stderr


@pytest.fixture
def lung_csv(tmp_path: Path) -> Path:
    path = tmp_path / "lung.csv"
    lines = ["days,died"] + [
        f"{r['time']},{r['status']}" for r in rows("km_data.csv") if r["dataset"] == "lung"
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_km_json_matches_r(run_cli, lung_csv: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli(
        "stats",
        "km",
        str(lung_csv),
        "--time",
        "days",
        "--event",
        "died",
        "--at",
        "180,365",
        "--conf-type",
        "log-log",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    ref = {
        float(r["time"]): r
        for r in rows("km_landmark.csv")
        if (r["dataset"], r["conf_type"], r["level"]) == ("lung", "log-log", "0.95")
    }
    for point in out["at"]:
        r = ref[point["time"]]
        assert set(point) == {"time", "survival", "lower", "upper", "n_risk"}
        assert point["n_risk"] == int(r["n_risk"])
        for key, col in (("survival", "surv"), ("lower", "lower"), ("upper", "upper")):
            assert point[key] == pytest.approx(num(r[col]), rel=1e-10)
    q = next(
        r
        for r in rows("km_quantile.csv")
        if (r["dataset"], r["conf_type"], r["level"], r["prob"])
        == ("lung", "log-log", "0.95", "0.5")
    )
    assert out["median"] == {
        "estimate": num(q["quantile"]),
        "lower": num(q["lower"]),
        "upper": num(q["upper"]),
    }


def test_km_table_and_not_reached(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "few.csv"
    path.write_text("t,e\n1,1\n2,0\n3,false\n4,TRUE\n", encoding="utf-8")
    result = run_cli("stats", "km", str(path), "--time", "t", "--event", "e", "--at", "2")
    assert result.exit_code == 0, result.stderr
    assert "4 subjects, 2 events" in result.stdout
    assert "75.0%" in result.stdout
    json_out = json.loads(
        run_cli("stats", "km", str(path), "--time", "t", "--event", "e", "--format", "json").stdout
    )
    assert json_out["median"]["estimate"] == 4.0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("t,e\n1,1\n", ["--time", "days"], "Column 'days' is not in data.csv; columns: t, e"),
        ("t,e\n1,1\nx,0\n", [], "data.csv, line 3, column 't': 'x' is not a number"),
        ("t,e\n1,1\n2,2\n", [], "line 3, column 'e': '2' is not an event indicator"),
        ("t,e\n1,1\n,0\n", [], "line 3, column 't': '' is not a number"),
        ("t,e\n1,1\n-2,0\n", [], "Time -2.0 (subject 2) is missing, infinite or negative"),
        ("t,e\n1,1\n", ["--at", "1,x"], "--at value 'x' is not a number"),
        ("t,e\n1,1\n", ["--conf-type", "arcsin"], "'arcsin' is not known"),
    ],
)
def test_km_bad_input(run_cli, tmp_path: Path, content: str, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    base = {"--time": "t", "--event": "e"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    flat = [v for kv in base.items() for v in kv]
    result = run_cli("stats", "km", str(path), *flat)
    assert result.exit_code == 1
    assert message in result.stderr


def test_followup_json_matches_r(run_cli, lung_csv: Path) -> None:  # type: ignore[no-untyped-def]
    # tests/reference/stats/survival.R: survfit(Surv(time, 1 - status) ~ 1), median(), range()
    result = run_cli(
        "stats", "followup", str(lung_csv), "--time", "days", "--event", "died", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    ref = next(r for r in rows("km_followup.csv") if r["dataset"] == "lung")
    assert out["median"] == pytest.approx(
        {"estimate": num(ref["median"]), "lower": num(ref["lower"]), "upper": num(ref["upper"])},
        rel=1e-10,
    )
    assert out["crude"] == {
        "median": num(ref["observed_median"]),
        "minimum": num(ref["minimum"]),
        "maximum": num(ref["maximum"]),
    }
    assert out["n"] == 228
    assert "reverse Kaplan–Meier" in out["method"]


def test_followup_table_says_not_reached(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "few.csv"
    path.write_text("\ufeffdays,died\n1,1\n5,0\n7,0\n9,1\n", encoding="utf-8")
    result = run_cli("stats", "followup", str(path), "--time", "days", "--event", "died")
    assert result.exit_code == 0, result.stderr
    # R 4.2.2: quantile(survfit(Surv(days, 1 - died) ~ 1), 0.5) gives 7, lower 5, upper NA
    assert "median follow-up 7 (95% CI 5 – not reached" in result.stdout
    assert "crude median of the observed times 6 (range 1 – 9)" in result.stdout


def test_followup_bad_input(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "fu.csv"
    path.write_text("days,died\n1,1\n5,maybe\n", encoding="utf-8")
    result = run_cli("stats", "followup", str(path), "--time", "days", "--event", "died")
    assert result.exit_code == 1
    assert "fu.csv, line 3, column 'died': 'maybe' is not an event indicator" in result.stderr
    result = run_cli("stats", "followup", str(path), "--time", "t", "--event", "died")
    assert "Column 't' is not in fu.csv; columns: days, died" in result.stderr


def test_km_missing_file(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("stats", "km", str(tmp_path / "none.csv"), "--time", "t", "--event", "e")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
