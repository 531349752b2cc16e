"""Statistics for a cohort analysis, checked against R (``tests/reference/stats/``).

* :mod:`~bvall.stats.describe`: median (range), IQR, n (%) with denominators and missing counts.
* :mod:`~bvall.stats.binomial`: eight binomial confidence intervals, the method always named.
* :mod:`~bvall.stats.exact`: Fisher's exact test (2 × 2 as R, with the conditional MLE odds
  ratio; r × c exact).
* :mod:`~bvall.stats.survival`: Kaplan–Meier with Greenwood variance and R's intervals,
  landmarks, median and quantiles, median follow-up (reverse Kaplan–Meier).
* :mod:`~bvall.stats.competing`: cumulative incidence with competing risks (as ``cmprsk``).
* :mod:`~bvall.stats.plausibility`: can a printed percentage or Kaplan–Meier value arise from
  n patients?

Everything here is a pure function of its arguments; results are frozen dataclasses with a
``to_dict()`` for JSON.
"""

from typing import TYPE_CHECKING

from bvall._exports import export_lazily

if TYPE_CHECKING:
    from bvall.stats.binomial import (
        BinomialCI,
        check_binomial_method,
        compute_binomial_ci,
        compute_binomial_cis,
    )
    from bvall.stats.binomial_names import BINOMIAL_METHODS, METHOD_LABELS
    from bvall.stats.competing import (
        CIF_CONF_TYPES,
        CumulativeIncidence,
        IncidenceLandmark,
        compute_cumulative_incidence,
    )
    from bvall.stats.describe import (
        CategoryCount,
        Frequencies,
        NumericSummary,
        compute_frequencies,
        compute_summary,
    )
    from bvall.stats.exact import ALTERNATIVES, R_UNIROOT_TOL, FisherResult, compute_fisher_exact
    from bvall.stats.plausibility import (
        KMCandidate,
        KMReachability,
        PercentReachability,
        compute_fraction_candidates,
        compute_km_reachability,
        compute_percent_reachability,
        parse_printed,
    )
    from bvall.stats.survival import (
        CONF_TYPES,
        FollowUp,
        KaplanMeier,
        Landmark,
        Quantile,
        compute_kaplan_meier,
        compute_median_followup,
        compute_survival_ci,
    )

# Each submodule is imported when one of its names is first used (bvall._exports).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "bvall.stats.binomial_names": ("BINOMIAL_METHODS", "METHOD_LABELS"),
    "bvall.stats.binomial": (
        "BinomialCI",
        "check_binomial_method",
        "compute_binomial_ci",
        "compute_binomial_cis",
    ),
    "bvall.stats.competing": (
        "CIF_CONF_TYPES",
        "CumulativeIncidence",
        "IncidenceLandmark",
        "compute_cumulative_incidence",
    ),
    "bvall.stats.describe": (
        "CategoryCount",
        "Frequencies",
        "NumericSummary",
        "compute_frequencies",
        "compute_summary",
    ),
    "bvall.stats.exact": (
        "ALTERNATIVES",
        "R_UNIROOT_TOL",
        "FisherResult",
        "compute_fisher_exact",
    ),
    "bvall.stats.plausibility": (
        "KMCandidate",
        "KMReachability",
        "PercentReachability",
        "compute_fraction_candidates",
        "compute_km_reachability",
        "compute_percent_reachability",
        "parse_printed",
    ),
    "bvall.stats.survival": (
        "CONF_TYPES",
        "FollowUp",
        "KaplanMeier",
        "Landmark",
        "Quantile",
        "compute_kaplan_meier",
        "compute_median_followup",
        "compute_survival_ci",
    ),
}
__getattr__, __dir__ = export_lazily(__name__, _EXPORTS)

__all__ = [
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
]
