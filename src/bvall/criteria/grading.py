"""CTCAE v5.0 lab grades as one Ibis expression over a whole cohort (or a registry).

Values come prepared by :func:`bvall.criteria.labs.prepare_labs` (canonical units, baseline).
:func:`grade_lab_values` grades every value against every CTCAE term of its test (``data/ctcae_v5_labs.toml``), reading the criteria rows into
one ``CASE`` per grade: the evaluator is generic, the rules are data.

Missing is missing: a value whose grade depends on a missing LLN/ULN, baseline, albumin or unit
conversion is *not gradable* and says why; it is never grade 0. When some criteria of a term can
be evaluated and others cannot, the value gets the grade the evaluable criteria make certain
(``grade``) and the highest grade still possible (``grade_max``): fibrinogen 0.99 g/L with LLN
2.0 g/L and no baseline is grade 3 (< 0.5 x LLN), and grade 4 ("75 % decrease from baseline")
cannot be excluded. Only when no grade >= 1 is certain while one is possible is the value not
gradable. ``grade_max`` follows three-valued logic over the criteria rows, so it can be higher
than a clinician would say (it does not reason that a baseline above the ULN bounds a ratio).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from bvall.cohort.units import load_lab_tests
from bvall.criteria.expressions import (
    constant_table,
    json_text,
    num_text,
    py_num,
    signif,
    signif_py,
)
from bvall.criteria.lab_criteria import Condition, Criterion, LabCriteria, LabTerm
from bvall.criteria.lab_criteria import load_lab_criteria as _load
from bvall.criteria.labs import compare, with_albumin
from bvall.criteria.settings import CriteriaSettings

_NULL_BOOL = ibis.null("boolean")
_NULL_STR = ibis.null("string")
_NULL_INT = ibis.null("int64")


@dataclass(frozen=True)
class _Row:
    """The per-row inputs a term's conditions read (columns of the staged table).

    ``r_uln``, ``r_lln``, ``r_base`` are the graded value divided by the limit and ``pchg`` the
    percent change from baseline, each rounded to ``signif_digits`` once per row: a criterion
    "x > 3 x ULN" is evaluated as ``signif(x / ULN) > 3``, which decides every value that agrees
    with 3 x ULN to 15 significant digits as equal, as admiral's ``signif(x) > signif(3 * ULN)``
    does.
    """

    x: ir.NumericValue
    qualifier: ir.StringValue | None
    lln: ir.NumericValue
    uln: ir.NumericValue
    base: ir.NumericValue
    base_uln: ir.NumericValue
    r_uln: ir.NumericValue
    r_lln: ir.NumericValue
    r_base: ir.NumericValue
    pchg: ir.NumericValue
    kflag: ir.BooleanValue
    admiral_baseline: bool


def ratios(
    t: ir.Table,
    value: ir.NumericValue,
    digits: int,
    users: dict[str, list[str]],
    key: ir.StringValue,
    otherwise: dict[str, ir.Value] | None = None,
) -> dict[str, ir.Value]:
    """Columns ``r_uln, r_lln, r_base, pchg``: ``value`` divided by the limit (or its percent
    change from baseline), rounded to ``digits``; each computed only on the rows whose ``key``
    (a test or a term id) is in ``users[basis]`` (elsewhere ``otherwise[column]``, default NULL),
    so a registry pays for no rounding it does not use."""
    null = ibis.null("float64")

    def only(column: str, basis: str, expr: ir.Value) -> ir.Value:
        keys = users.get(basis, [])
        fallback = (otherwise or {}).get(column, null)
        if not keys:
            return fallback
        return ibis.ifelse(key.isin(keys), expr, fallback)

    def ratio(limit: ir.NumericValue) -> ir.Value:
        return ibis.ifelse(limit > 0, signif(value / limit, digits), null)

    return {
        "r_uln": only("r_uln", "uln", ratio(t.uln_si)),
        "r_lln": only("r_lln", "lln", ratio(t.lln_si)),
        "r_base": only("r_base", "baseline", ratio(t.base_si)),
        "pchg": only(
            "pchg",
            "pct_change",
            ibis.ifelse(
                t.base_si > 0, signif((value - t.base_si) / t.base_si * 100.0, digits), null
            ),
        ),
    }


def _condition(c: Condition, r: _Row, factor: float, digits: int) -> ir.BooleanValue:
    if c.basis == "baseline_above_uln":
        above = r.base > r.base_uln
        if r.admiral_baseline:
            above = above.fill_null(False)
        return above if c.comparator == "is_true" else ~above
    if c.basis == "potassium_replacement":
        return r.kflag if c.comparator == "is_true" else ~r.kflag
    assert c.value is not None
    if c.basis == "absolute":
        cond = compare(
            r.x, c.comparator, ibis.literal(signif_py(c.value * factor, digits)), r.qualifier
        )
    else:
        lhs = {"uln": r.r_uln, "lln": r.r_lln, "baseline": r.r_base, "pct_change": r.pchg}[c.basis]
        cond = compare(lhs, c.comparator, ibis.literal(c.value), r.qualifier)
    if r.admiral_baseline and c.basis in ("baseline", "pct_change"):
        cond = ibis.ifelse(r.base.isnull(), False, cond)
    return cond


def _condition_text(c: Condition, r: _Row, factor: float) -> ir.StringValue:
    cmp = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}.get(c.comparator, c.comparator)
    if c.basis == "absolute":
        assert c.value is not None
        return ibis.literal(f"{cmp} {py_num(signif_py(c.value * factor, 15))}")
    if c.basis in ("uln", "lln", "baseline"):
        assert c.value is not None
        ref, name = {
            "uln": (r.uln, "ULN"),
            "lln": (r.lln, "LLN"),
            "baseline": (r.base, "baseline"),
        }[c.basis]
        if c.value == 1.0:
            return ibis.literal(f"{cmp} {name} ") + num_text(ref)
        return (
            ibis.literal(f"{cmp} {py_num(c.value)} × {name} ")
            + num_text(ref)
            + " (= "
            + num_text(ref * c.value, 6)
            + ")"
        )
    if c.basis == "pct_change":
        assert c.value is not None
        return (
            ibis.literal("change from baseline ")
            + num_text(r.base)
            + " of "
            + num_text(r.pchg, 1)
            + f" % {cmp} {py_num(c.value)} %"
        )
    if c.basis == "baseline_above_uln":
        where = "above" if c.comparator == "is_true" else "within"
        return (
            ibis.literal("baseline ") + num_text(r.base) + f" {where} ULN " + num_text(r.base_uln)
        )
    return ibis.literal(
        "potassium replacement recorded"
        if c.comparator == "is_true"
        else "no potassium replacement recorded"
    )


def _clause(crit: Criterion, r: _Row, factor: float, digits: int) -> ir.BooleanValue:
    cond = _condition(crit.conditions[0], r, factor, digits)
    for g in crit.conditions[1:]:
        cond = cond & _condition(g, r, factor, digits)
    return cond


def _clause_text(crit: Criterion, r: _Row, factor: float, value_text: ir.StringValue) -> ir.Value:
    text = value_text + " " + _condition_text(crit.conditions[0], r, factor)
    for g in crit.conditions[1:]:
        text = text + " and " + _condition_text(g, r, factor)
    return text


def _clauses(term: LabTerm, settings: CriteriaSettings) -> dict[int, list[tuple[Criterion, float]]]:
    """The clauses in force, by grade, with the factor converting absolute thresholds."""
    by_grade: dict[int, list[tuple[Criterion, float]]] = {}
    for crit in term.in_force(settings):
        # Absolute thresholds are written in a unit the test accepts; convert them once.
        f = _factor(term.test, crit.threshold.unit) if crit.threshold.basis == "absolute" else 1.0
        by_grade.setdefault(crit.grade, []).append((crit, f))
    return by_grade


def _factor(test: str, unit: str | None) -> float:
    if unit is None:
        return 1.0
    return load_lab_tests()[test].factor(unit)


def grade_lab_values(
    labs: ir.Table,
    settings: CriteriaSettings | None = None,
    *,
    criteria: LabCriteria | None = None,
    terms: Sequence[str] | None = None,
    medications: ir.Table | None = None,
    censored: bool = True,
    explain: bool = True,
) -> ir.Table:
    """Grade every lab value against every CTCAE term of its test; one row per value and term.

    ``labs`` is the output of :func:`prepare_labs`. ``terms`` restricts the terms (default all).
    ``medications`` (``patient_id, drug, start_day, end_day``) is read only when
    ``hypokalaemia_lln_to_3 = "intervention_recorded"``. ``censored=False`` promises that no
    value carries a qualifier (``<``, ``>``), which lets a registry skip the bound logic.
    ``explain=False`` leaves out the words (``reason``, ``inputs``, ``explanation``) for a
    caller that only summarises grades over a registry: the grades and rule ids are the same,
    and the query is a fraction of the size (the words are most of the SQL).

    Adds ``term_id, term, direction, graded_si, grade`` (the certain grade; NULL = not
    gradable), ``grade_max`` (the highest grade still possible: equal to ``grade`` when every
    criterion could be evaluated), ``reason``, ``rule_id, rule_version, inputs, explanation``.
    """
    settings = settings or CriteriaSettings()
    criteria = criteria or _load()
    wanted = [criteria.term(t) for t in (terms or list(criteria.terms))]
    d = settings.signif_digits
    term_map = constant_table(
        {
            "m_test": [t.test for t in wanted],
            "term_id": [t.id for t in wanted],
            "term_no": list(range(len(wanted))),
        }
    )
    clauses = {term.id: _clauses(term, settings) for term in wanted}
    users: dict[str, list[str]] = {}  # basis -> ids of the terms that read it
    for term in wanted:
        for grade_clauses in clauses[term.id].values():
            for crit, _f in grade_clauses:
                for cond in crit.conditions:
                    if term.id not in users.setdefault(cond.basis, []):
                        users[cond.basis].append(term.id)
    corrected_terms = [term.id for term in wanted if term.graded_value != "measured"]
    # Ratios of measured values are computed once per lab value, before the value meets its
    # terms (a potassium value is graded for two terms; an inlined ratio would be recomputed
    # in every branch of every cascade that reads it). Corrected values get theirs below.
    by_test = {
        basis: sorted({criteria.term(i).test for i in ids if i not in corrected_terms})
        for basis, ids in users.items()
    }
    labs = labs.mutate(**ratios(labs, labs.value_si, d, by_test, labs.test))
    t = labs.join(term_map, labs.test == term_map.m_test).drop("m_test")

    if any(term.graded_value == "albumin_corrected" for term in wanted):
        t = with_albumin(t, labs, settings)
    else:
        t = t.mutate(alb_si=ibis.null("float64"))
    needs_k = settings.hypokalaemia_lln_to_3 == "intervention_recorded" and any(
        term.id == "hypokalemia" for term in wanted
    )
    if needs_k and medications is not None:
        t = _with_potassium_replacement(t, medications, criteria)
    else:
        t = t.mutate(kflag=_NULL_BOOL)

    coefficient = float(criteria.file.param("albumin_coefficient_mmol_per_g"))
    corrected = signif(t.value_si + coefficient * (settings.albumin_reference_g_l - t.alb_si), d)
    if settings.calcium_correction == "uncorrected_if_no_albumin":
        corrected = corrected.fill_null(t.value_si)
    graded = (
        ibis.ifelse(t.term_id.isin(corrected_terms), corrected, t.value_si)
        if corrected_terms
        else t.value_si
    )
    t = t.mutate(graded_si=graded)
    if corrected_terms:
        by_term = {b: [i for i in ids if i in corrected_terms] for b, ids in users.items()}
        old = {c: t[c] for c in ("r_uln", "r_lln", "r_base", "pchg")}
        t = t.mutate(**ratios(t, t.graded_si, d, by_term, t.term_id, old))

    def row(table: ir.Table) -> _Row:
        return _Row(
            x=table.graded_si,
            qualifier=table.qualifier if censored else None,
            lln=table.lln_si,
            uln=table.uln_si,
            base=table.base_si,
            base_uln=table.base_uln_si,
            r_uln=table.r_uln,
            r_lln=table.r_lln,
            r_base=table.r_base,
            pchg=table.pchg,
            kflag=table.kflag,
            admiral_baseline=settings.missing_baseline == "admiral",
        )

    # Stage 1: for each term (dispatched on an integer code, cheaper than comparing names), its
    # grades tried from the most severe down: the certain grade is the first whose criteria
    # hold, the highest possible the first whose criteria hold or cannot be evaluated.
    r = row(t)
    certain_branches = []
    possible_branches = []
    rule_branches = []
    for no, term in enumerate(wanted):
        certain: list[tuple[ir.BooleanValue, ir.Value]] = []
        possible: list[tuple[ir.BooleanValue, ir.Value]] = []
        matched: list[tuple[ir.BooleanValue, ir.Value]] = []
        for g in sorted(clauses[term.id], reverse=True):
            conds = [(crit, _clause(crit, r, f, d)) for crit, f in clauses[term.id][g]]
            any_true = conds[0][1]
            for _crit, c in conds[1:]:
                any_true = any_true | c
            certain.append((any_true.fill_null(False), ibis.literal(g, "int64")))
            possible.append((any_true.fill_null(True), ibis.literal(g, "int64")))
            matched += [(c, ibis.literal(crit.rule_id)) for crit, c in conds]
        is_term = t.term_no == no
        certain_branches.append((is_term, ibis.cases(*certain, else_=ibis.literal(0, "int64"))))
        possible_branches.append((is_term, ibis.cases(*possible, else_=ibis.literal(0, "int64"))))
        rule_branches.append((is_term, ibis.cases(*matched, else_=_NULL_STR)))
    t = t.mutate(
        _certain=ibis.cases(*certain_branches, else_=_NULL_INT),
        grade_max=ibis.cases(*possible_branches, else_=_NULL_INT),
    )
    # No grade >= 1 certain while a higher one is possible: not gradable (never grade 0).
    t = t.mutate(
        grade=ibis.ifelse((t._certain == 0) & (t.grade_max > 0), _NULL_INT, t._certain),
        _undecided=ibis.ifelse(t.grade_max > t._certain, t.grade_max, _NULL_INT),
    ).drop("_certain")
    # The first clause that holds, most severe first, is the one that gave the grade (a value
    # whose grade is decided had no unknown condition before it).
    t = t.mutate(
        rule_id=ibis.ifelse(
            t.grade > 0,
            ibis.cases(*rule_branches, else_=_NULL_STR),
            ibis.literal(f"{criteria.file.id}.") + t.term_id,
        )
    )

    if not explain:
        return t.mutate(
            term=ibis.cases(*((t.term_id == x.id, x.term) for x in wanted), else_=_NULL_STR),
            direction=ibis.cases(
                *((t.term_id == x.id, x.direction) for x in wanted), else_=_NULL_STR
            ),
            rule_version=ibis.literal(criteria.rule_version),
        ).drop("_undecided", "term_no")

    # Stage 3: words.
    t = t.mutate(
        _vtext=ibis.cases(
            *((t.term_id == x.id, _value_text(t, x)) for x in wanted), else_=_NULL_STR
        )
    )
    r = row(t)
    texts = []
    for term in wanted:
        value_text = t._vtext
        for crits in clauses[term.id].values():
            for crit, f in crits:
                texts.append((t.rule_id == crit.rule_id, _clause_text(crit, r, f, value_text)))
    matched = ibis.cases(*texts, else_=_NULL_STR) if texts else _NULL_STR
    term_name = ibis.cases(*((t.term_id == x.id, x.term) for x in wanted), else_=_NULL_STR)
    direction = ibis.cases(*((t.term_id == x.id, x.direction) for x in wanted), else_=_NULL_STR)
    label = ibis.cases(
        *((t.term_id == x.id, f"{criteria.system} {x.term}") for x in wanted), else_=_NULL_STR
    )
    value_any = t._vtext
    reason = _reason(t, wanted)
    explanation = ibis.cases(
        (t.grade.isnull(), ibis.literal("not gradable: ") + reason + ", " + label),
        (
            t.grade == 0,
            ibis.literal("grade 0: ")
            + value_any
            + _range_text(t)
            + ", no grade 1-4 criterion met, "
            + label,
        ),
        else_=ibis.literal("grade ")
        + t.grade.cast("string")
        + ": "
        + matched
        + ", "
        + label
        + ibis.ifelse(
            t._undecided.notnull(),
            ibis.literal("; at least grade ")
            + t.grade.cast("string")
            + ", up to grade "
            + t.grade_max.cast("string")
            + " possible: "
            + reason,
            ibis.literal(""),
        ),
    )
    inputs = json_text(
        {
            "value": t.value,
            "unit": t.unit,
            "qualifier": t.qualifier,
            "value_si": t.value_si,
            "unit_si": t.unit_si,
            "graded_si": t.graded_si,
            "lln_si": t.lln_si,
            "uln_si": t.uln_si,
            "baseline_si": t.base_si,
            "baseline_uln_si": t.base_uln_si,
            "baseline_day": t.base_day,
            "albumin_g_l": t.alb_si,
            "potassium_replacement": t.kflag,
        }
    )
    return t.mutate(
        term=term_name,
        direction=direction,
        reason=ibis.ifelse(t.grade.isnull(), reason, _NULL_STR),
        rule_version=ibis.literal(criteria.rule_version),
        inputs=inputs,
        explanation=explanation,
    ).drop("_undecided", "_vtext", "term_no")


def _value_text(t: ir.Table, term: LabTerm) -> ir.StringValue:
    head = ibis.literal(f"{term.label} ")
    qual = t.qualifier.fill_null("")
    shown = head + qual + num_text(t.graded_si) + f" {term.display_unit}"
    measured = ibis.literal(" (") + qual + num_text(t.value) + " " + t.unit + ")"
    if term.graded_value == "albumin_corrected":
        detail = (
            ibis.literal(" (measured ")
            + num_text(t.value_si)
            + ", albumin "
            + num_text(t.alb_si).fill_null("not recorded")
            + " g/L)"
        )
        return shown + detail
    return shown + ibis.ifelse(t.factor == 1.0, ibis.literal(""), measured)


def _range_text(t: ir.Table) -> ir.StringValue:
    low = num_text(t.lln_si).fill_null("?")
    high = num_text(t.uln_si).fill_null("?")
    return ibis.literal(" (reference ") + low + "-" + high + ")"


def _reason(t: ir.Table, wanted: Sequence[LabTerm]) -> ir.StringValue:
    """Why a value is not gradable: every missing input the value's term reads."""
    tests = load_lab_tests()
    accepted = ibis.cases(
        *(
            (t.test == code, ", ".join(tests[code].accepted_units))
            for code in sorted({x.test for x in wanted})
        ),
        else_=_NULL_STR,
    )
    converted = t.factor.notnull()
    # (input the term must read for this to matter, condition, text); None = always relevant.
    candidates: list[tuple[str | None, ir.BooleanValue, ir.StringValue]] = [
        (
            None,
            t.factor.isnull(),
            ibis.literal("unit '")
            + t.unit
            + "' is not accepted for "
            + t.test
            + " (expected "
            + accepted
            + ")",
        ),
        (
            None,
            converted & t.qualifier.notnull(),
            ibis.literal("the censored value ")
            + t.qualifier
            + num_text(t.value)
            + " does not decide the grade",
        ),
        ("LLN", converted & t.lln_si.isnull(), ibis.literal("LLN missing")),
        ("ULN", converted & t.uln_si.isnull(), ibis.literal("ULN missing")),
        (
            "baseline",
            t.base_si.isnull(),
            ibis.literal("no baseline value (none on or before the baseline day)"),
        ),
        (
            "baseline ULN",
            t.base_si.notnull() & t.base_uln_si.isnull(),
            ibis.literal("the baseline value has no ULN"),
        ),
        (
            "albumin",
            t.alb_si.isnull(),
            ibis.literal("no albumin on the same day to correct calcium"),
        ),
        (
            "potassium replacement",
            t.kflag.isnull(),
            ibis.literal("potassium replacement unknown (no concomitant medications recorded)"),
        ),
    ]
    parts: list[ir.StringValue] = []
    for need, missing, text in candidates:
        if need is not None:
            users = [x.id for x in wanted if any(need in c.requires for c in x.criteria)]
            if not users:
                continue
            missing = missing & t.term_id.isin(users)
        parts.append(ibis.ifelse(missing, text, _NULL_STR))
    joined = ibis.literal("; ").join(parts)
    return ibis.cases(
        (
            t._undecided.notnull(),
            joined + " (grade " + t._undecided.cast("string") + " cannot be decided)",
        ),
        else_=joined,
    )


def _with_potassium_replacement(t: ir.Table, meds: ir.Table, criteria: LabCriteria) -> ir.Table:
    drugs = [str(d) for d in criteria.file.param("potassium_replacement_drugs")]
    window = 1  # "within a day of the value" (see the hypokalaemia_lln_to_3 setting)
    any_meds = meds.select(m_patient=meds.patient_id).distinct()
    k = meds.filter(meds.drug.isin(drugs) & meds.start_day.notnull())
    k = k.mutate(k_end=k.end_day.fill_null(k.start_day))
    keys = (
        t.filter(t.term_id == "hypokalemia").select(p_patient=t.patient_id, p_day=t.day).distinct()
    )
    hit = (
        keys.join(
            k,
            [
                keys.p_patient == k.patient_id,
                k.start_day <= keys.p_day + window,
                k.k_end >= keys.p_day - window,
            ],
        )
        .select("p_patient", "p_day")
        .distinct()
        .mutate(k_hit=ibis.literal(True))
    )
    out = t.left_join(hit, [t.patient_id == hit.p_patient, t.day == hit.p_day]).drop(
        "p_patient", "p_day"
    )
    out = out.left_join(any_meds, out.patient_id == any_meds.m_patient)
    kflag = ibis.cases(
        (out.k_hit.notnull(), True),
        (out.m_patient.notnull(), False),
        else_=_NULL_BOOL,
    )
    return out.mutate(kflag=kflag).drop("k_hit", "m_patient")
