"""CTCAE v5.0 lab grades compiled into CASE expressions: the registry path of
:func:`bvall.criteria.grading.grade_lab_values` (``explain=False``), and with the words the path
of Spark plans (``form="compiled"``).

The rows form of :mod:`bvall.criteria.grading` joins every value to the conditions of its
terms: its SQL is small whatever the number of criteria rows, which is what a patient or a
cohort needs (planning the statement is most of the time), but the join multiplies the rows
(about ten conditions per value), which a registry of 10^8 values pays for (5.8 times the
hand-written SQL and 7 GB at 10^4 patients). Here the same criteria rows, read from the same
rule file by the same :func:`~bvall.criteria.grading._clauses`, become one ``CASE`` per term
and grade, evaluated once per value: a large statement planned once, then the data. Both
forms give the same ``grade``, ``grade_max`` and ``rule_id`` (``tests/criteria/
test_lab_grades.py`` compares them on fuzzed cohorts). With ``explain`` the words of the clause
that gave the grade are one more ``CASE`` per term, each clause's words built from the same
condition rows (:func:`~bvall.criteria.grading._condition_row`) and the same columns as in the
rows form, and the rest of the words by the same functions: the same ``reason``, ``inputs`` and
``explanation``. Spark runs this form (:mod:`bvall.criteria.spark`): the rows form's join,
and the numbering of every row that brings its verdicts back, cost it far more than DuckDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from bvall.criteria.expressions import constant_table, num_text, signif_py
from bvall.criteria.grading import (
    _TEXT_ABOVE,
    _TEXT_LIMIT,
    _TEXT_MULTIPLE,
    _TEXT_PCT,
    _clauses,
    _condition_row,
    _term_table,
    graded_values,
    graded_with_words,
    readers,
    with_value_words,
)
from bvall.criteria.lab_criteria import Condition, Criterion, LabCriteria, LabTerm
from bvall.criteria.labs import compare
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


def _clause(crit: Criterion, r: _Row, factor: float, digits: int) -> ir.BooleanValue:
    cond = _condition(crit.conditions[0], r, factor, digits)
    for g in crit.conditions[1:]:
        cond = cond & _condition(g, r, factor, digits)
    return cond


def _condition_words(c: Condition, t: ir.Table, factor: float, digits: int) -> ir.StringValue:
    """The words of a condition that holds, as the rows form writes them from its condition row
    (``c_kind``, ``c_pre``, ``c_post``, ``c_mult``) and the value's columns."""
    row = _condition_row(c, factor, digits)
    kind, pre, post = row["c_kind"], str(row["c_pre"]), str(row["c_post"])
    ref = {"uln": t.uln_si, "lln": t.lln_si, "baseline": t.base_si}.get(c.basis)
    if kind == _TEXT_LIMIT:
        assert ref is not None
        return ibis.literal(pre) + num_text(ref)
    if kind == _TEXT_MULTIPLE:
        assert ref is not None
        mult = ibis.literal(float(row["c_mult"]), "float64")  # type: ignore[arg-type]
        return ibis.literal(pre) + num_text(ref) + " (= " + num_text(ref * mult, 6) + ")"
    if kind == _TEXT_PCT:
        return (
            ibis.literal("change from baseline ")
            + num_text(t.base_si)
            + " of "
            + num_text(t.pchg, 1)
            + post
        )
    if kind == _TEXT_ABOVE:
        return ibis.literal("baseline ") + num_text(t.base_si) + pre + num_text(t.base_uln_si)
    return ibis.literal(pre)


def _clause_words(crit: Criterion, t: ir.Table, factor: float, digits: int) -> ir.StringValue:
    """The words of a clause that holds: its conditions' words in order, joined by "and" (NULL
    when one of them is)."""
    words = _condition_words(crit.conditions[0], t, factor, digits)
    for c in crit.conditions[1:]:
        words = words + " and " + _condition_words(c, t, factor, digits)
    return words


def _row(table: ir.Table, settings: CriteriaSettings, censored: bool) -> _Row:
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


def grade_lab_values_compiled(
    labs: ir.Table,
    settings: CriteriaSettings,
    criteria: LabCriteria,
    *,
    terms: Sequence[str] | None = None,
    medications: ir.Table | None = None,
    censored: bool = True,
    explain: bool = False,
) -> ir.Table:
    """:func:`~bvall.criteria.grading.grade_lab_values` in the compiled form: ``term_id,
    term, direction, graded_si, grade, grade_max, rule_id, rule_version`` per value and term,
    the criteria compiled into one ``CASE`` per term and grade; with ``explain``, every column
    of the rows form, words included, computed as it computes them."""
    wanted = [criteria.term(t) for t in (terms or list(criteria.terms))]
    d = settings.signif_digits
    clauses = {term.id: _clauses(term, settings) for term in wanted}
    users = readers(wanted, clauses)
    if explain:
        term_map = _term_table(wanted, criteria)
        t = graded_values(labs, term_map, wanted, users, criteria, settings, medications)
        return _explained(with_value_words(t), wanted, clauses, criteria, settings, censored)
    term_map = constant_table(
        {
            "m_test": [t.test for t in wanted],
            "term_id": [t.id for t in wanted],
            "term_no": list(range(len(wanted))),
        }
    )
    t = graded_values(labs, term_map, wanted, users, criteria, settings, medications)

    # Stage 1: for each term (dispatched on an integer code, cheaper than comparing names), its
    # grades tried from the most severe down: the certain grade is the first whose criteria
    # hold, the highest possible the first whose criteria hold or cannot be evaluated.
    r = _row(t, settings, censored)
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

    return t.mutate(
        term=ibis.cases(*((t.term_id == x.id, x.term) for x in wanted), else_=_NULL_STR),
        direction=ibis.cases(*((t.term_id == x.id, x.direction) for x in wanted), else_=_NULL_STR),
        rule_version=ibis.literal(criteria.rule_version),
    ).drop("_undecided", "term_no")


def _explained(
    t: ir.Table,
    wanted: Sequence[LabTerm],
    clauses: dict[str, dict[int, list[tuple[Criterion, float]]]],
    criteria: LabCriteria,
    settings: CriteriaSettings,
    censored: bool,
) -> ir.Table:
    """The verdicts of the rows form (``a_certain``, ``a_possible``, ``a_rule``, ``a_text``) as
    one ``CASE`` per term, then the grades and words as the rows form makes them from its
    verdicts (:func:`~bvall.criteria.grading.graded_with_words`)."""
    d = settings.signif_digits
    r = _row(t, settings, censored)
    certain_branches = []
    possible_branches = []
    rule_branches = []
    text_branches = []
    for no, term in enumerate(wanted):
        certain: list[tuple[ir.BooleanValue, ir.Value]] = []
        possible: list[tuple[ir.BooleanValue, ir.Value]] = []
        rules: list[tuple[ir.BooleanValue, ir.Value]] = []
        texts: list[tuple[ir.BooleanValue, ir.Value]] = []
        # Grades from the most severe, clauses in file order: the rows form's clause order, whose
        # first clause that holds gives the rule and the words.
        for g in sorted(clauses[term.id], reverse=True):
            conds = [(crit, f, _clause(crit, r, f, d)) for crit, f in clauses[term.id][g]]
            any_true = conds[0][2]
            for _crit, _f, c in conds[1:]:
                any_true = any_true | c
            certain.append((any_true.fill_null(False), ibis.literal(g, "int64")))
            possible.append((any_true.fill_null(True), ibis.literal(g, "int64")))
            rules += [(c, ibis.literal(crit.rule_id)) for crit, _f, c in conds]
            texts += [(c, _clause_words(crit, t, f, d)) for crit, f, c in conds]
        is_term = t.term_no == no
        # No clause that holds (or none that may): NULL, as the rows form's aggregates give.
        certain_branches.append((is_term, ibis.cases(*certain, else_=_NULL_INT)))
        possible_branches.append((is_term, ibis.cases(*possible, else_=_NULL_INT)))
        rule_branches.append((is_term, ibis.cases(*rules, else_=_NULL_STR)))
        text_branches.append((is_term, ibis.cases(*texts, else_=_NULL_STR)))
    t = t.mutate(
        a_certain=ibis.cases(*certain_branches, else_=_NULL_INT),
        a_possible=ibis.cases(*possible_branches, else_=_NULL_INT),
        a_rule=ibis.cases(*rule_branches, else_=_NULL_STR),
        a_text=ibis.cases(*text_branches, else_=_NULL_STR),
    )
    return graded_with_words(t, criteria, explain=True)
