"""Grade bands for the lab charts come from the engine's CTCAE v5.0 tables."""

from __future__ import annotations


def test_anc_and_hemoglobin_bands_are_the_ctcae_limits() -> None:
    from bvall.criteria.bands import compute_grade_bands

    # CTCAE v5.0 Neutrophil count decreased: G4 < 0.5, G3 < 1.0, G2 < 1.5 x10^9/L; G1 < LLN
    bands, missing = compute_grade_bands("anc", lln=1.8, uln=7.5, baseline=None)
    by = {b.grade: (b.low, b.high) for b in bands}
    assert by[4] == (None, 0.5)
    assert by[3] == (0.5, 1.0)
    assert by[2] == (1.0, 1.5)
    assert by[1] == (1.5, 1.8)
    assert missing == []
    # CTCAE v5.0 Anemia: G3 Hb < 80 g/L, G2 < 100 g/L, G1 < LLN
    bands, _ = compute_grade_bands("hemoglobin", lln=120.0, uln=160.0, baseline=None)
    by = {b.grade: (b.low, b.high) for b in bands}
    assert by[3] == (None, 80.0)
    assert by[2] == (80.0, 100.0)
    assert all(b.rule_id.startswith("ctcae_v5_labs.") for b in bands)


def test_a_band_relative_to_an_unrecorded_limit_is_named_not_drawn() -> None:
    from bvall.criteria.bands import compute_grade_bands

    bands, missing = compute_grade_bands("anc", lln=None, uln=None, baseline=None)
    assert {b.grade for b in bands} == {2, 3, 4}  # the absolute thresholds only
    assert any("grade 1 needs the LLN" in m for m in missing)
