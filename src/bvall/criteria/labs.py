"""Lab values ready for grading: canonical units, baselines, same-day albumin, and the
three-valued comparison every criterion uses.

:func:`prepare_labs` converts every value (and its reference limits) to its test's canonical
unit by joining :func:`bvall.cohort.unit_factor_table` inside the query, and attaches the
baseline: the last value on or before ``settings.baseline_last_day``. :func:`compare` is ``x op t``
in three-valued logic: NULL when an input is missing or a censored value (``<0.1``) cannot
decide.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from bvall.cohort.units import unit_factor_table
from bvall.criteria.expressions import (
    BASELINE_TIMEPOINTS,
    clock,
    constant_table,
    first_rows,
    signif,
)
from bvall.criteria.settings import CriteriaSettings

_NULL_BOOL = ibis.null("boolean")

# (comparator, qualifier) -> what a censored bound proves: ("T", op) the condition holds when
# ``x op t``; ("F", op) it fails when ``x op t``. The true value v relates to the reported bound x
# by the qualifier ('<': v < x, '<=': v <= x, '>': v > x, '>=': v >= x).
CENSORED: dict[tuple[str, str], tuple[str, str]] = {
    ("<", "<"): ("T", "<="),
    ("<", "<="): ("T", "<"),
    ("<", ">"): ("F", ">="),
    ("<", ">="): ("F", ">="),
    ("<=", "<"): ("T", "<="),
    ("<=", "<="): ("T", "<="),
    ("<=", ">"): ("F", ">="),
    ("<=", ">="): ("F", ">"),
    (">", ">"): ("T", ">="),
    (">", ">="): ("T", ">"),
    (">", "<"): ("F", "<="),
    (">", "<="): ("F", "<="),
    (">=", ">"): ("T", ">="),
    (">=", ">="): ("T", ">="),
    (">=", "<"): ("F", "<="),
    (">=", "<="): ("F", "<"),
}


def _op(a: ir.Value, op: str, b: ir.Value) -> ir.BooleanValue:
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def compare(
    x: ir.NumericValue, op: str, t: ir.NumericValue, qualifier: ir.StringValue | None
) -> ir.BooleanValue:
    """Three-valued ``x op t``: NULL when an input is missing or a censored ``x`` cannot decide."""
    if qualifier is None:
        return _op(x, op, t)
    branches: list[tuple[ir.BooleanValue, ir.BooleanValue]] = [(qualifier.isnull(), _op(x, op, t))]
    for q in ("<", "<=", ">", ">="):
        verdict, bound_op = CENSORED[(op, q)]
        branches.append(((qualifier == q) & _op(x, bound_op, t), ibis.literal(verdict == "T")))
    return ibis.cases(*branches, else_=_NULL_BOOL)


def prepare_labs(labs: ir.Table, settings: CriteriaSettings) -> ir.Table:
    """Labs in canonical units with their baseline.

    ``labs`` needs ``patient_id, test, value, unit, ref_low, ref_high, day``; ``qualifier``,
    ``minute`` and ``timepoint`` are used when present. Adds ``factor, unit_si, value_si,
    lln_si, uln_si`` (``factor`` is NULL for a unit the test does not accept) and
    ``base_si, base_uln_si, base_day, base_timepoint`` (NULL when there is no baseline).
    """
    d = settings.signif_digits
    for name, kind in (("qualifier", "string"), ("minute", "int64"), ("timepoint", "string")):
        if name not in labs.columns:
            labs = labs.mutate(**{name: ibis.null(kind)})
    factors = constant_table(unit_factor_table())
    joined = labs.left_join(factors, [labs.test == factors.test, labs.unit == factors.unit]).drop(
        "test_right", "unit_right"
    )
    t = joined.rename(unit_si="canonical_unit").mutate(
        value_si=signif(joined.value * joined.factor, d),
        lln_si=signif(joined.ref_low * joined.factor, d),
        uln_si=signif(joined.ref_high * joined.factor, d),
    )
    tp_rank = ibis.cases(
        *(
            (t.timepoint == tp, float(i - len(BASELINE_TIMEPOINTS)))
            for i, tp in enumerate(BASELINE_TIMEPOINTS)
        ),
        else_=ibis.null("float64"),
    )
    # Dated candidates sort by time; undated ones: diagnosis < pretreatment < dated < baseline_d1.
    key = ibis.cases(
        (t.day.notnull(), clock(t.day, t.minute).cast("float64")),
        (t.timepoint == "baseline_d1", ibis.literal(1e12)),
        else_=tp_rank * 1e12,
    )
    candidates = t.filter(
        t.factor.notnull()
        & t.qualifier.isnull()
        & (
            (t.day <= settings.baseline_last_day)
            | (t.day.isnull() & t.timepoint.isin(list(BASELINE_TIMEPOINTS)))
        )
    ).mutate(_key=key)
    # One hash aggregate over the pre-D1 rows (instead of a window). The fields travel in one
    # struct because SQL arg_max skips rows whose argument is NULL: the baseline's ULN, day or
    # timepoint must come from the same row as its value.
    row = ibis.struct(
        {
            "v": candidates.value_si,
            "uln": candidates.uln_si,
            "day": candidates.day,
            "tp": candidates.timepoint,
        }
    )
    picked = candidates.group_by(b_patient=candidates.patient_id, b_test=candidates.test).aggregate(
        _b=row.argmax(candidates._key)
    )
    base = picked.select(
        "b_patient",
        "b_test",
        base_si=picked._b["v"],
        base_uln_si=picked._b["uln"],
        base_day=picked._b["day"],
        base_timepoint=picked._b["tp"],
    )
    out = t.left_join(base, [t.patient_id == base.b_patient, t.test == base.b_test])
    return out.drop("b_patient", "b_test")


def with_albumin(t: ir.Table, labs: ir.Table, settings: CriteriaSettings) -> ir.Table:
    """``t`` with ``alb_si``: the patient's albumin (g/L) on the same study day (last of the day;
    of two values at one time, the lower, so the choice never depends on the order of rows)."""
    alb = labs.filter(
        (labs.test == "albumin")
        & labs.value_si.notnull()
        & labs.qualifier.isnull()
        & labs.day.notnull()
    )
    alb = first_rows(
        alb, [alb.patient_id, alb.day], [ibis.desc(alb.minute.fill_null(0)), alb.value_si]
    )
    alb = alb.select(a_patient=alb.patient_id, a_day=alb.day, alb_si=alb.value_si)
    out = t.left_join(alb, [t.patient_id == alb.a_patient, t.day == alb.a_day])
    return out.drop("a_patient", "a_day")
