"""Priors: published counts re-derived from the bundled cohort; ESS and weights."""

from __future__ import annotations

import pytest

from bvall.design import (
    informed_beta_prior,
    informed_dirichlet_prior,
    load_published_counts,
    vague_beta_prior,
    vague_dirichlet_prior,
)
from bvall.design.priors import load_published_joint_cells
from bvall.errors import InputError, UnknownNameError


def _cohort_counts(published):  # type: ignore[no-untyped-def]
    marrow = published["marrow_assessments"].to_pylist()
    cr = {
        m["patient_id"]
        for m in marrow
        if m["timepoint"] == "pre_consolidation"
        and m["response_reported"] == "CR"
        and m["mrd_status"] == "negative"
    }
    aes = published["adverse_events"].to_pylist()
    tox = {
        a["patient_id"]
        for a in aes
        if a["term"] in ("Cytokine release syndrome", "ICANS") and (a["grade"] or 0) >= 3
    }
    return cr, tox, {p["patient_id"] for p in published["patients"].to_pylist()}


def test_published_counts_match_the_cohort_tables(published) -> None:  # type: ignore[no-untyped-def]
    cr, tox, everyone = _cohort_counts(published)
    counts = load_published_counts()
    assert (
        (counts["cr_mrd_negative"].events, counts["cr_mrd_negative"].patients)
        == (
            len(cr),
            len(everyone),
        )
        == (12, 13)
    )
    assert (
        (counts["crs_icans_grade3plus"].events, counts["crs_icans_grade3plus"].patients)
        == (
            len(tox),
            len(everyone),
        )
        == (1, 13)
    )
    cells, source = load_published_joint_cells()
    assert cells == [
        len(cr & tox),
        len(cr - tox),
        len(tox - cr),
        len(everyone - cr - tox),
    ]
    assert "Table 2" in source


def test_informed_prior_and_discounting() -> None:
    full = informed_beta_prior("cr_mrd_negative")
    assert (full.a, full.b, full.ess) == (12.5, 1.5, 14.0)
    half = informed_beta_prior("cr_mrd_negative", weight=0.5)
    assert (half.a, half.b, half.ess) == (6.5, 1.0, 7.5)
    assert "ESS 7.5" in half.label
    tox = informed_beta_prior("crs_icans_grade3plus", 1.0)
    assert tox.mean == pytest.approx(1.5 / 14)


def test_dirichlet_margins() -> None:
    d = informed_dirichlet_prior(1.0)
    assert d.cells == (1.25, 11.25, 0.25, 1.25)
    assert d.ess == 14.0
    assert (d.efficacy.a, d.efficacy.b) == (12.5, 1.5)  # same as the Beta power prior
    assert (d.toxicity.a, d.toxicity.b) == (1.5, 12.5)
    v = vague_dirichlet_prior((0.15, 0.30, 0.15, 0.40))
    assert v.efficacy.a == pytest.approx(0.45)
    assert v.toxicity.a == pytest.approx(0.30)
    assert v.ess == pytest.approx(1.0)


def test_vague_prior() -> None:
    p = vague_beta_prior(0.2)
    assert (p.a, p.b, p.ess, p.mean) == pytest.approx((0.2, 0.8, 1.0, 0.2))


@pytest.mark.parametrize("w", [0.0, -0.5, 1.5])
def test_bad_weight(w: float) -> None:
    with pytest.raises(InputError, match=r"prior weight=.* must be in \(0, 1\]"):
        informed_beta_prior("cr_mrd_negative", w)


def test_unknown_endpoint_suggests() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'cr_mrd_negative'"):
        informed_beta_prior("cr_mrd_negativ")
