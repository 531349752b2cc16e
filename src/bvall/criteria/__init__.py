"""The clinical criteria engine: grades, CRS/ICANS episodes, TLS, response, risk, eligibility and
endpoints, derived from a cohort's observations by rules kept as data.

Rules live in versioned TOML files in ``bvall/criteria/data/`` (CTCAE v5.0, ASTCT 2019,
Cairo-Bishop 2004 / Howard 2011, NCCN ALL, the seed paper's eligibility and endpoints), checked on
load. Small generic evaluators turn them into Ibis expressions that run on a whole cohort in an
in-process DuckDB. Every derived row carries ``rule_id``, ``rule_version``, ``inputs`` (JSON text of
the values used) and ``explanation`` (a sentence a clinician can read). Named settings
(:class:`CriteriaSettings`) record every choice where sources disagree.

>>> from bvall.cohort import load_cohort
>>> table = derive(load_cohort("example"), "crs")          # doctest: +SKIP
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import pyarrow as pa

from bvall.cohort.model import Cohort
from bvall.criteria.columns import ENDPOINT_COLUMNS
from bvall.criteria.derivations import (
    derive_crs,
    derive_eligibility,
    derive_endpoints,
    derive_grades,
    derive_icans,
    derive_response,
    derive_risk,
    derive_tls,
    derive_worst_grades,
)
from bvall.criteria.plans import QUERIES, derive_planned, load_plans
from bvall.criteria.settings import CriteriaSettings
from bvall.errors import UnknownNameError, suggest

#: The derivations by name, each ``(cohort, settings) -> pa.Table``.
DERIVATIONS: dict[str, Callable[[Cohort, CriteriaSettings | None], pa.Table]] = {
    "grades": derive_grades,
    "worst_grades": derive_worst_grades,
    "crs": derive_crs,
    "icans": derive_icans,
    "tls": derive_tls,
    "response": derive_response,
    "risk": derive_risk,
    "endpoints": derive_endpoints,
    "eligibility": derive_eligibility,
}


def derive(
    cohort: Cohort, what: str, *, settings: CriteriaSettings | None = None, engine: str = "duckdb"
) -> pa.Table:
    """Derive ``what`` (grades, worst_grades, crs, icans, tls, response, risk, endpoints,
    eligibility) for every patient of ``cohort``; a PyArrow table with ``rule_id``,
    ``rule_version``, ``inputs`` and ``explanation`` on every row.

    Runs the derivation's plan (:mod:`bvall.criteria.plans`): built from the rules once per
    settings, then loaded from memory or the plan cache folder; :func:`load_plans` loads them
    ahead of the first call. ``engine="spark"`` runs the same plan compiled for Spark SQL in the
    active Spark session (else a local one): :mod:`bvall.criteria.spark`.
    """
    if what not in QUERIES:
        raise UnknownNameError(
            f"Cannot derive {what!r}{suggest(what, list(QUERIES))} "
            f"Choose one of: {', '.join(QUERIES)}."
        )
    settings = settings or CriteriaSettings()
    # A cohort is immutable, so a derivation of the same cohort object with the same settings is
    # the same table: keep the last few.
    key = (id(cohort), what, settings, engine)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is cohort:
        _MEMO.move_to_end(key)
        return hit[1]
    table = derive_planned(cohort, what, settings, engine)
    _MEMO[key] = (cohort, table)
    while len(_MEMO) > 32:
        _MEMO.popitem(last=False)
    return table


_MEMO: OrderedDict[tuple[int, str, CriteriaSettings, str], tuple[Cohort, pa.Table]] = OrderedDict()


__all__ = [
    "DERIVATIONS",
    "ENDPOINT_COLUMNS",
    "CriteriaSettings",
    "derive",
    "derive_crs",
    "derive_eligibility",
    "derive_endpoints",
    "derive_grades",
    "derive_icans",
    "derive_response",
    "derive_risk",
    "derive_tls",
    "derive_worst_grades",
    "load_plans",
]
