"""CTCAE v5.0 lab grades as one Ibis expression over a whole cohort (or a registry).

Values come prepared by :func:`bvall.criteria.labs.prepare_labs` (canonical units, baseline).
:func:`grade_lab_values` grades every value against every CTCAE term of its test
(``data/ctcae_v5_labs.toml``). The criteria rows in force become constant tables that the values
join, and one generic query evaluates them: the evaluator is generic, the rules are data, and the
SQL is the same size whatever the number of rows.

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

import ibis
import ibis.expr.types as ir
import pyarrow as pa

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
from bvall.criteria.labs import CENSORED, with_albumin
from bvall.criteria.settings import CriteriaSettings

_NULL_BOOL = ibis.null("boolean")
_NULL_STR = ibis.null("string")
_NULL_INT = ibis.null("int64")


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


# --- the criteria in force as rows -------------------------------------------------------------
#
# A term's clauses and their conditions become rows of two constant tables (one row per term,
# one per condition of a clause in force) that the values join; the query that evaluates them is
# the same whatever the number of rows, so its SQL does not grow with the criteria file.

#: Basis codes of the condition rows (the order is only a code).
_BASIS_CODES = {
    "absolute": 0,
    "uln": 1,
    "lln": 2,
    "baseline": 3,
    "pct_change": 4,
    "baseline_above_uln": 5,
    "potassium_replacement": 6,
}
_OP_CODES = {"<": 0, "<=": 1, ">": 2, ">=": 3}
_QUALIFIER_COLUMNS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
#: Inputs named in ``requires`` -> the term-table flag saying the term reads it (for reasons).
_NEEDS = {
    "LLN": "k_lln",
    "ULN": "k_uln",
    "baseline": "k_base",
    "baseline ULN": "k_base_uln",
    "albumin": "k_alb",
    "potassium replacement": "k_kflag",
}
#: Term-table columns read only by the words that do not depend on the grade.
_TERM_WORDS = ("k_head", "k_unit", "k_corrected", "k_accepted", *_NEEDS.values())
#: The ways :func:`grade_lab_values` can evaluate the criteria.
FORMS = ("rows", "compiled")
# Text kinds of a condition's words: 0 a constant, 1 "<pre><limit>", 2 "<pre><limit> (= <limit
# x multiple>)", 3 a percent change from baseline, 4 the baseline against its ULN.
_TEXT_CONSTANT, _TEXT_LIMIT, _TEXT_MULTIPLE, _TEXT_PCT, _TEXT_ABOVE = range(5)


def _term_table(wanted: Sequence[LabTerm], criteria: LabCriteria) -> ir.Table:
    """One row per term: its test (the join key), code, names and the inputs it reads."""
    tests = load_lab_tests()
    columns: dict[str, list[object]] = {
        "m_test": [t.test for t in wanted],
        "term_id": [t.id for t in wanted],
        "term_no": list(range(len(wanted))),
        "k_term": [t.term for t in wanted],
        "k_direction": [t.direction for t in wanted],
        "k_label": [f"{criteria.system} {t.term}" for t in wanted],
        "k_head": [f"{t.label} " for t in wanted],
        "k_unit": [f" {t.display_unit}" for t in wanted],
        "k_corrected": [t.graded_value == "albumin_corrected" for t in wanted],
        "k_accepted": [", ".join(tests[t.test].accepted_units) for t in wanted],
    }
    for need, column in _NEEDS.items():
        # Every row of the term, in force or not: the reason names what the term can read.
        columns[column] = [any(need in c.requires for c in t.criteria) for t in wanted]
    return constant_table(columns)


def _condition_table(
    wanted: Sequence[LabTerm], clauses: dict[str, dict[int, list[tuple[Criterion, float]]]], d: int
) -> ir.Table:
    """One row per condition of every clause in force.

    ``c_clause`` orders the clauses of a term most severe grade first, then as in the file (the
    first clause that holds gives the rule); ``c_thr`` is the threshold compared (an absolute
    one converted to the canonical unit and rounded to ``d`` digits, as the value is);
    ``c_bop_*``/``c_ver_*`` say what a censored value with each qualifier proves
    (:data:`bvall.criteria.labs.CENSORED`); ``c_kind``, ``c_pre``, ``c_post`` build its words.
    """
    rows: list[dict[str, object]] = []
    clause_no = 0
    for term_no, term in enumerate(wanted):
        for g in sorted(clauses[term.id], reverse=True):
            for crit, factor in clauses[term.id][g]:
                for cond_no, c in enumerate(crit.conditions):
                    rows.append(
                        _condition_row(c, factor, d)
                        | {
                            "c_term_no": term_no,
                            "c_clause": clause_no,
                            "c_grade": g,
                            "c_rule": crit.rule_id,
                            "c_cond": cond_no,
                        }
                    )
                clause_no += 1
    schema = pa.schema(
        [
            ("c_term_no", pa.int64()),
            ("c_clause", pa.int64()),
            ("c_grade", pa.int64()),
            ("c_rule", pa.string()),
            ("c_cond", pa.int64()),
            ("c_basis", pa.int64()),
            ("c_op", pa.int64()),
            ("c_true", pa.bool_()),
            ("c_thr", pa.float64()),
            ("c_mult", pa.float64()),
            *((f"c_bop_{q}", pa.int64()) for q in _QUALIFIER_COLUMNS.values()),
            *((f"c_ver_{q}", pa.bool_()) for q in _QUALIFIER_COLUMNS.values()),
            ("c_kind", pa.int64()),
            ("c_pre", pa.string()),
            ("c_post", pa.string()),
        ]
    )
    return constant_table(pa.Table.from_pylist(rows, schema=schema))


def _condition_row(c: Condition, factor: float, d: int) -> dict[str, object]:
    row: dict[str, object] = {
        "c_basis": _BASIS_CODES[c.basis],
        "c_op": None,
        "c_true": None,
        "c_thr": None,
        "c_mult": None,
        "c_kind": _TEXT_CONSTANT,
        "c_pre": "",
        "c_post": "",
    }
    for name in _QUALIFIER_COLUMNS.values():
        row[f"c_bop_{name}"] = None
        row[f"c_ver_{name}"] = None
    if c.is_flag:
        row["c_true"] = c.comparator == "is_true"
        if c.basis == "baseline_above_uln":
            where = "above" if c.comparator == "is_true" else "within"
            row |= {"c_kind": _TEXT_ABOVE, "c_pre": f" {where} ULN "}
        else:
            row["c_pre"] = (
                "potassium replacement recorded"
                if c.comparator == "is_true"
                else "no potassium replacement recorded"
            )
        return row
    assert c.value is not None
    row["c_op"] = _OP_CODES[c.comparator]
    for q, name in _QUALIFIER_COLUMNS.items():
        verdict, bound_op = CENSORED[(c.comparator, q)]
        row[f"c_bop_{name}"] = _OP_CODES[bound_op]
        row[f"c_ver_{name}"] = verdict == "T"
    cmp = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}[c.comparator]
    if c.basis == "absolute":
        row["c_thr"] = signif_py(c.value * factor, d)
        row["c_pre"] = f"{cmp} {py_num(signif_py(c.value * factor, 15))}"
        return row
    row["c_thr"] = c.value
    if c.basis == "pct_change":
        row |= {"c_kind": _TEXT_PCT, "c_post": f" % {cmp} {py_num(c.value)} %"}
        return row
    name = {"uln": "ULN", "lln": "LLN", "baseline": "baseline"}[c.basis]
    if c.value == 1.0:
        row |= {"c_kind": _TEXT_LIMIT, "c_pre": f"{cmp} {name} "}
    else:
        row |= {
            "c_kind": _TEXT_MULTIPLE,
            "c_pre": f"{cmp} {py_num(c.value)} × {name} ",
            "c_mult": c.value,
        }
    return row


def _op(a: ir.Value, op: ir.IntegerValue, b: ir.Value) -> ir.BooleanValue:
    """``a op b`` for an operator code (NULL code: NULL)."""
    return ibis.cases(
        (op == 0, a < b),
        (op == 1, a <= b),
        (op == 2, a > b),
        (op == 3, a >= b),
        else_=_NULL_BOOL,
    )


def _evaluate(
    t: ir.Table,
    conditions: ir.Table,
    width: int,
    settings: CriteriaSettings,
    censored: bool,
    explain: bool,
) -> ir.Table:
    """Per row ``_row`` of ``t``: ``a_certain`` (the highest grade whose clauses hold),
    ``a_possible`` (the highest that holds or is unknown), ``a_rule`` and ``a_text`` (the first
    clause that holds, most severe first, and the words of its conditions)."""
    admiral = settings.missing_baseline == "admiral"
    # Only the columns the conditions read (a projection of its own, so that the numbered rows
    # are one common table expression for this join and the one that brings the verdicts back).
    needed = ["_row", "term_no", "graded_si", "r_uln", "r_lln", "r_base", "pchg", "base_si"]
    needed += ["base_uln_si", "kflag", "qualifier", "uln_si", "lln_si"]
    n = t.select(*needed)
    j = n.join(conditions, n.term_no == conditions.c_term_no)
    c = j.c_basis
    # Materialised once in the join's projection: the comparisons below read them several times.
    fields: dict[str, ir.Value] = {
        "e_row": j._row,
        "e_clause": j.c_clause,
        "e_grade": j.c_grade,
        "e_rule": j.c_rule,
        "e_cond": j.c_cond,
        "e_basis": c,
        "e_op": j.c_op,
        "e_true": j.c_true,
        "e_thr": j.c_thr,
        "e_base": j.base_si,
        "e_lhs": ibis.cases(
            (c == 0, j.graded_si),
            (c == 1, j.r_uln),
            (c == 2, j.r_lln),
            (c == 3, j.r_base),
            (c == 4, j.pchg),
            else_=ibis.null("float64"),
        ),
        "e_flag": ibis.cases(
            (
                c == 5,
                (j.base_si > j.base_uln_si).fill_null(False)
                if admiral
                else j.base_si > j.base_uln_si,
            ),
            (c == 6, j.kflag),
            else_=_NULL_BOOL,
        ),
    }
    if censored:
        q = j.qualifier
        fields["e_qualifier"] = q
        for prefix, kind in (("c_bop_", "int64"), ("c_ver_", "boolean")):
            fields[f"e_{prefix[2:5]}"] = ibis.cases(
                *((q == op, j[prefix + name]) for op, name in _QUALIFIER_COLUMNS.items()),
                else_=ibis.null(kind),
            )
    if explain:
        fields |= {
            "e_kind": j.c_kind,
            "e_pre": j.c_pre,
            "e_post": j.c_post,
            "e_mult": j.c_mult,
            "e_pchg": j.pchg,
            "e_base_uln": j.base_uln_si,
            "e_ref": ibis.cases(
                (c == 1, j.uln_si),
                (c == 2, j.lln_si),
                (c == 3, j.base_si),
                else_=ibis.null("float64"),
            ),
        }
    e = j.select(**fields)
    numeric = _op(e.e_lhs, e.e_op, e.e_thr)
    if censored:
        # labs.compare in three-valued logic: a censored value decides only where its bound does.
        numeric = ibis.cases(
            (e.e_qualifier.isnull(), numeric),
            (_op(e.e_lhs, e.e_bop, e.e_thr), e.e_ver),
            else_=_NULL_BOOL,
        )
    if admiral:
        numeric = ibis.ifelse(e.e_basis.isin([3, 4]) & e.e_base.isnull(), False, numeric)
    holds = ibis.ifelse(e.e_basis >= 5, e.e_flag == e.e_true, numeric)
    # Truth as a code ordered false < unknown < true: AND is the minimum, OR the maximum.
    code = (holds.cast("int64") * 2).fill_null(1)
    agg: dict[str, ir.Value]
    if explain:
        text = ibis.cases(
            (e.e_kind == _TEXT_LIMIT, e.e_pre + num_text(e.e_ref)),
            (
                e.e_kind == _TEXT_MULTIPLE,
                e.e_pre + num_text(e.e_ref) + " (= " + num_text(e.e_ref * e.e_mult, 6) + ")",
            ),
            (
                e.e_kind == _TEXT_PCT,
                ibis.literal("change from baseline ")
                + num_text(e.e_base)
                + " of "
                + num_text(e.e_pchg, 1)
                + e.e_post,
            ),
            (
                e.e_kind == _TEXT_ABOVE,
                ibis.literal("baseline ") + num_text(e.e_base) + e.e_pre + num_text(e.e_base_uln),
            ),
            else_=e.e_pre,
        )
        # A clause's words are needed only when it holds, that is when all its conditions do.
        e = e.mutate(_code=code)
        e = e.mutate(_text=ibis.ifelse(e._code == 2, text, _NULL_STR))
        # The words of the clause's conditions in their order, joined by "and" (one unordered
        # aggregate per position: ordered aggregates cost a sort per group); NULL when the words
        # of one of its conditions are.
        count = e.e_cond.count()
        words = e._text.max(where=e.e_cond == 0)
        for k in range(1, width):
            words = words + ibis.ifelse(
                count > k, " and " + e._text.max(where=e.e_cond == k), ibis.literal("")
            )
        agg = {
            "_code": e._code.min(),
            "_text": ibis.ifelse(e._text.count() == count, words, _NULL_STR),
        }
    else:
        e = e.mutate(_code=code)
        agg = {"_code": e._code.min()}
    by_clause = e.group_by(["e_row", "e_clause", "e_grade", "e_rule"]).aggregate(**agg)
    holds_clause = by_clause._code == 2
    # The first clause that holds: the smallest (clause, rule, words), an unordered aggregate.
    first = {"clause": by_clause.e_clause, "rule": by_clause.e_rule}
    if explain:
        first["text"] = by_clause._text
    per_row = by_clause.group_by(a_row=by_clause.e_row).aggregate(
        a_certain=by_clause.e_grade.max(where=holds_clause),
        a_possible=by_clause.e_grade.max(where=by_clause._code >= 1),
        a_match=ibis.struct(first).min(where=holds_clause),
    )
    fields = {"a_rule": per_row.a_match["rule"]}
    if explain:
        fields["a_text"] = per_row.a_match["text"]
    per_row = per_row.mutate(**fields).drop("a_match")
    return per_row


def readers(
    wanted: Sequence[LabTerm], clauses: dict[str, dict[int, list[tuple[Criterion, float]]]]
) -> dict[str, list[str]]:
    """Basis -> ids of the terms whose clauses in force read it (in term order)."""
    users: dict[str, list[str]] = {}
    for term in wanted:
        for grade_clauses in clauses[term.id].values():
            for crit, _f in grade_clauses:
                for cond in crit.conditions:
                    if term.id not in users.setdefault(cond.basis, []):
                        users[cond.basis].append(term.id)
    return users


def graded_values(
    labs: ir.Table,
    term_map: ir.Table,
    wanted: Sequence[LabTerm],
    users: dict[str, list[str]],
    criteria: LabCriteria,
    settings: CriteriaSettings,
    medications: ir.Table | None,
) -> ir.Table:
    """Every prepared lab value joined to each term of its test (``term_map``: ``m_test``,
    ``term_id`` and the term's columns), with what the criteria read: the ratios to the limits
    and the percent change (``users``: basis -> ids of the terms that read it), the same-day
    albumin, potassium replacement and the value graded (``graded_si``: albumin-corrected for
    the terms that grade a corrected value). Shared by the rows form and the compiled form."""
    d = settings.signif_digits
    corrected_terms = [term.id for term in wanted if term.graded_value != "measured"]
    # Ratios of measured values are computed once per lab value, before the value meets its
    # terms (a potassium value is graded for two terms). Corrected values get theirs below.
    by_test = {
        basis: sorted({criteria.term(i).test for i in ids if i not in corrected_terms})
        for basis, ids in users.items()
    }
    prepared = labs
    labs = labs.mutate(**ratios(labs, labs.value_si, d, by_test, labs.test))
    t = labs.join(term_map, labs.test == term_map.m_test).drop("m_test")

    if any(term.graded_value == "albumin_corrected" for term in wanted):
        t = with_albumin(t, prepared, settings)
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
    return t


def grade_lab_values(
    labs: ir.Table,
    settings: CriteriaSettings | None = None,
    *,
    criteria: LabCriteria | None = None,
    terms: Sequence[str] | None = None,
    medications: ir.Table | None = None,
    censored: bool = True,
    explain: bool = True,
    form: str | None = None,
) -> ir.Table:
    """Grade every lab value against every CTCAE term of its test; one row per value and term.

    ``labs`` is the output of :func:`prepare_labs`. ``terms`` restricts the terms (default all).
    ``medications`` (``patient_id, drug, start_day, end_day``) is read only when
    ``hypokalaemia_lln_to_3 = "intervention_recorded"``. ``censored=False`` promises that no
    value carries a qualifier (``<``, ``>``), which lets a registry skip the bound logic.
    ``explain=False`` leaves out the words (``reason``, ``inputs``, ``explanation``) for a
    caller that only summarises grades over a registry: the grades and rule ids are the same.

    Adds ``term_id, term, direction, graded_si, grade`` (the certain grade; NULL = not
    gradable), ``grade_max`` (the highest grade still possible: equal to ``grade`` when every
    criterion could be evaluated), ``reason``, ``rule_id, rule_version, inputs, explanation``.

    The criteria in force are rows of constant tables (:func:`_term_table`,
    :func:`_condition_table`) that the values join: each condition is evaluated by one generic
    expression, a clause holds when all its conditions do and a grade when one of its clauses
    does (three-valued), so the query is the same size for any number of criteria rows.

    ``form`` chooses how the criteria are evaluated: ``"rows"`` (as above), or ``"compiled"``
    (:mod:`bvall.criteria.grading_cases`: the same criteria rows written as CASE expressions,
    evaluated once per value, with the same grades, rule ids and words). The default is the rows
    form with the words and the compiled form without them (a registry).
    """
    settings = settings or CriteriaSettings()
    criteria = criteria or _load()
    form = form or ("rows" if explain else "compiled")
    if form not in FORMS:
        raise ValueError(f"No lab grading form {form!r}; choose one of: {', '.join(FORMS)}.")
    if form == "compiled":
        # The criteria compiled into CASE expressions, evaluated once per value (the rows form
        # multiplies the values by their conditions; see grading_cases).
        from bvall.criteria.grading_cases import grade_lab_values_compiled

        return grade_lab_values_compiled(
            labs,
            settings,
            criteria,
            terms=terms,
            medications=medications,
            censored=censored,
            explain=explain,
        )
    wanted = [criteria.term(t) for t in (terms or list(criteria.terms))]
    d = settings.signif_digits
    term_map = _term_table(wanted, criteria)
    clauses = {term.id: _clauses(term, settings) for term in wanted}
    users = readers(wanted, clauses)
    t = graded_values(labs, term_map, wanted, users, criteria, settings, medications)
    # With the words, those that do not depend on the grade are written once here (the
    # projection that numbers the rows is not merged into the next, so they are not repeated).
    t = with_value_words(t) if explain else t.drop(*_TERM_WORDS)
    # Each value-term row is numbered so that its verdicts, computed over its conditions, come
    # back to it. The numbered table is read twice; DuckDB computes a common table expression
    # once, but Spark computes it again for each reader, so the numbering must not depend on the
    # order rows arrive in: ordered by every column, only rows equal in every input (whose
    # verdicts are equal too) can swap numbers. (Spark plans use the compiled form: this window
    # has no partitions, so Spark runs it as one task.)
    t = t.mutate(_row=ibis.row_number().over(order_by=[t[c] for c in t.columns]))

    # The most conditions a clause has (the words are put together position by position).
    width = max(
        (
            len(c.conditions)
            for by_grade in clauses.values()
            for cs in by_grade.values()
            for c, _ in cs
        ),
        default=1,
    )
    conditions = _condition_table(wanted, clauses, d)
    verdicts = _evaluate(t, conditions, width, settings, censored, explain)
    t = t.left_join(verdicts, t._row == verdicts.a_row).drop("a_row", "_row")
    return graded_with_words(t, criteria, explain)


def with_value_words(t: ir.Table) -> ir.Table:
    """``t`` (values joined to the term table, :func:`graded_values`) with the words that do
    not depend on the grade (``_vtext``, ``_missing``, ``_range``), less the term-table columns
    only they read. Shared by the rows form and the compiled form."""
    t = t.mutate(_vtext=_value_text(t), _missing=_missing_inputs(t), _range=_range_text(t))
    return t.drop(*_TERM_WORDS)


def graded_with_words(t: ir.Table, criteria: LabCriteria, explain: bool) -> ir.Table:
    """The result of :func:`grade_lab_values` from the verdicts of each value and term:
    ``a_certain`` (the highest grade whose clauses hold), ``a_possible`` (the highest that holds
    or is unknown), ``a_rule`` and ``a_text`` (the first clause that holds, most severe first,
    and the words of its conditions; ``a_text`` only with ``explain``). Shared by the rows form
    and the compiled form, so both give the same grades, rule ids and words."""
    certain = t.a_certain.fill_null(0)
    t = t.mutate(grade_max=t.a_possible.fill_null(0))
    # No grade >= 1 certain while a higher one is possible: not gradable (never grade 0).
    t = t.mutate(
        grade=ibis.ifelse((certain == 0) & (t.grade_max > 0), _NULL_INT, certain),
        _undecided=ibis.ifelse(t.grade_max > certain, t.grade_max, _NULL_INT),
    )
    # The first clause that holds, most severe first, is the one that gave the grade (a value
    # whose grade is decided had no unknown condition before it).
    t = t.mutate(
        rule_id=ibis.ifelse(t.grade > 0, t.a_rule, ibis.literal(f"{criteria.file.id}.") + t.term_id)
    )
    private = [c for c in t.columns if c.startswith("k_")] + ["a_certain", "a_possible", "a_rule"]

    if not explain:
        return t.mutate(
            term=t.k_term,
            direction=t.k_direction,
            rule_version=ibis.literal(criteria.rule_version),
        ).drop("_undecided", "term_no", *private)

    # Words.
    matched = t._vtext + " " + t.a_text
    label = t.k_label
    value_any = t._vtext
    reason = ibis.cases(
        (
            t._undecided.notnull(),
            t._missing + " (grade " + t._undecided.cast("string") + " cannot be decided)",
        ),
        else_=t._missing,
    )
    explanation = ibis.cases(
        (t.grade.isnull(), ibis.literal("not gradable: ") + reason + ", " + label),
        (
            t.grade == 0,
            ibis.literal("grade 0: ")
            + value_any
            + t._range
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
        term=t.k_term,
        direction=t.k_direction,
        reason=ibis.ifelse(t.grade.isnull(), reason, _NULL_STR),
        rule_version=ibis.literal(criteria.rule_version),
        inputs=inputs,
        explanation=explanation,
    ).drop("_undecided", "_vtext", "_missing", "_range", "term_no", "a_text", *private)


def _value_text(t: ir.Table) -> ir.StringValue:
    qual = t.qualifier.fill_null("")
    shown = t.k_head + qual + num_text(t.graded_si) + t.k_unit
    measured = ibis.literal(" (") + qual + num_text(t.value) + " " + t.unit + ")"
    detail = (
        ibis.literal(" (measured ")
        + num_text(t.value_si)
        + ", albumin "
        + num_text(t.alb_si).fill_null("not recorded")
        + " g/L)"
    )
    return shown + ibis.ifelse(
        t.k_corrected, detail, ibis.ifelse(t.factor == 1.0, ibis.literal(""), measured)
    )


def _range_text(t: ir.Table) -> ir.StringValue:
    low = num_text(t.lln_si).fill_null("?")
    high = num_text(t.uln_si).fill_null("?")
    return ibis.literal(" (reference ") + low + "-" + high + ")"


def _missing_inputs(t: ir.Table) -> ir.StringValue:
    """Why a value may not be gradable: every missing input the value's term reads."""
    converted = t.factor.notnull()
    # (term-table flag saying the term reads the input, condition, text); None = always.
    candidates: list[tuple[str | None, ir.BooleanValue, ir.StringValue]] = [
        (
            None,
            t.factor.isnull(),
            ibis.literal("unit '")
            + t.unit
            + "' is not accepted for "
            + t.test
            + " (expected "
            + t.k_accepted
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
        ("k_lln", converted & t.lln_si.isnull(), ibis.literal("LLN missing")),
        ("k_uln", converted & t.uln_si.isnull(), ibis.literal("ULN missing")),
        (
            "k_base",
            t.base_si.isnull(),
            ibis.literal("no baseline value (none on or before the baseline day)"),
        ),
        (
            "k_base_uln",
            t.base_si.notnull() & t.base_uln_si.isnull(),
            ibis.literal("the baseline value has no ULN"),
        ),
        (
            "k_alb",
            t.alb_si.isnull(),
            ibis.literal("no albumin on the same day to correct calcium"),
        ),
        (
            "k_kflag",
            t.kflag.isnull(),
            ibis.literal("potassium replacement unknown (no concomitant medications recorded)"),
        ),
    ]
    parts: list[ir.StringValue] = []
    for need, missing, text in candidates:
        if need is not None:
            missing = missing & t[need]
        parts.append(ibis.ifelse(missing, text, _NULL_STR))
    return ibis.literal("; ").join(parts)


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
