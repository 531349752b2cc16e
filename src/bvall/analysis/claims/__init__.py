"""The claims audit: check a paper's published numbers against its patient-level data.

A catalogue (``data/seed_claims.toml`` for the seed paper; format in ``docs/audit.md``) lists
every numeric claim with how to recompute it; :func:`classify_claims` recomputes each on a
cohort and classifies it ``consistent``, ``inconsistent``, ``needs-review`` or
``not-recomputable``, with the recomputed value and a probable cause. The logic is general:
nothing in it knows what any claim should come to.

>>> from bvall.analysis.claims import load_catalogue, classify_claims
>>> from bvall.cohort import load_cohort
>>> results = classify_claims(load_catalogue(), load_cohort("published"))
"""

from bvall.analysis.claims.audit import ClaimResult, classify_claims, count_statuses
from bvall.analysis.claims.catalogue import (
    SEED_CATALOGUE,
    STATISTICS,
    Catalogue,
    Claim,
    Partition,
    load_catalogue,
)
from bvall.analysis.claims.findings import STATUSES

__all__ = [
    "SEED_CATALOGUE",
    "STATISTICS",
    "STATUSES",
    "Catalogue",
    "Claim",
    "ClaimResult",
    "Partition",
    "classify_claims",
    "count_statuses",
    "load_catalogue",
]
