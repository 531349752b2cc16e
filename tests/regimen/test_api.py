"""The public API other parts of bvall call: names and signatures stay put."""

from __future__ import annotations

import inspect

import bvall.regimen as regimen


def test_exported_names() -> None:
    # Every exported name exists; the names other parts call are exported.
    assert set(regimen.__all__) <= set(dir(regimen))
    for name in (
        "load_regimen",
        "regimen_names",
        "plan_regimen",
        "derive_deviations",
        "classify_dose_action",
        "compute_bsa",
        "Plan",
    ):
        assert name in regimen.__all__


def test_plan_regimen_signature() -> None:
    params = inspect.signature(regimen.plan_regimen).parameters
    assert list(params)[:9] == [
        "regimen",
        "start",
        "weight_kg",
        "height_cm",
        "inhibitors",
        "dex_days",
        "bsa_formula",
        "site_policy",
        "bsa_decimals",
    ]
    assert params["bsa_formula"].default == "mosteller"
    assert params["site_policy"].default == "label"
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for n, p in params.items() if n != "regimen"
    )


def test_compute_bsa_and_classify_signatures() -> None:
    assert list(inspect.signature(regimen.compute_bsa).parameters)[:3] == [
        "weight_kg",
        "height_cm",
        "formula",
    ]
    assert list(inspect.signature(regimen.classify_dose_action).parameters)[:3] == [
        "agent",
        "event",
        "grade",
    ]
