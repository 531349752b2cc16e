"""The public API of bvall.stats is curated: adding or removing a name is a decision."""

from __future__ import annotations

import bvall.stats

EXPECTED = {
    "ALTERNATIVES",
    "BINOMIAL_METHODS",
    "CIF_CONF_TYPES",
    "CONF_TYPES",
    "METHOD_LABELS",
    "R_UNIROOT_TOL",
    "BinomialCI",
    "CategoryCount",
    "CumulativeIncidence",
    "FisherResult",
    "FollowUp",
    "Frequencies",
    "IncidenceLandmark",
    "KMCandidate",
    "KMReachability",
    "KaplanMeier",
    "Landmark",
    "NumericSummary",
    "PercentReachability",
    "Quantile",
    "check_binomial_method",
    "compute_binomial_ci",
    "compute_binomial_cis",
    "compute_cumulative_incidence",
    "compute_fisher_exact",
    "compute_fraction_candidates",
    "compute_frequencies",
    "compute_kaplan_meier",
    "compute_km_reachability",
    "compute_median_followup",
    "compute_percent_reachability",
    "compute_summary",
    "compute_survival_ci",
    "parse_printed",
}


def test_exported_members() -> None:
    assert set(bvall.stats.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(bvall.stats, name) is not None
