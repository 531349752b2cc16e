"""Study analysis on a cohort: the claims audit (:mod:`bvall.analysis.claims`) and, later, the
study tables (baseline, response, adverse events, transfusions, survival)."""
