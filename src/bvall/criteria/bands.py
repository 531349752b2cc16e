"""CTCAE v5.0 grade bands of a lab test: the value ranges each grade covers, for charts.

The bands are read from the same rule tables the engine grades with
(``data/ctcae_v5_labs.toml``, CTCAE v5.0, NCI 2017, "Investigations" and "Metabolism and
nutrition disorders"), in force under the given :class:`~bvall.criteria.CriteriaSettings`, so a
chart's shading and a derived grade can never disagree. A threshold relative to the LLN, the ULN
or the baseline needs that limit; when it is not recorded the band is not drawn and the reason is
returned instead (no limit is assumed).
"""

from __future__ import annotations

from dataclasses import dataclass

from bvall.criteria.settings import CriteriaSettings


@dataclass(frozen=True)
class GradeBand:
    """One CTCAE grade band of a lab test, in the test's canonical unit: values in
    [``low``, ``high``) (``None`` = open) are grade ``grade``."""

    test: str
    grade: int
    low: float | None
    high: float | None
    rule_id: str
    published: str


def compute_grade_bands(
    test: str,
    lln: float | None,
    uln: float | None,
    baseline: float | None,
    settings: CriteriaSettings | None = None,
) -> tuple[list[GradeBand], list[str]]:
    """The CTCAE v5.0 bands of ``test`` from the criteria tables, for these limits (SI, the
    test's canonical unit), and what could not be drawn (a limit that is not recorded)."""
    from bvall.cohort import load_lab_tests
    from bvall.criteria.lab_criteria import load_lab_criteria

    tests = load_lab_tests()
    settings = settings or CriteriaSettings()
    bands: list[GradeBand] = []
    missing: list[str] = []
    bases = {"lln": lln, "uln": uln, "baseline": baseline}
    for term in load_lab_criteria().terms_for_test(test):
        limits: list[tuple[int, float, str, str]] = []
        for c in term.in_force(settings):
            th = c.threshold
            if th.value is None or th.is_flag:
                continue
            if th.basis == "absolute":
                limit = th.value * tests[test].factor(th.unit) if th.unit else th.value
            elif th.basis in bases:
                ref = bases[th.basis]
                if ref is None:
                    missing.append(f"{term.term} grade {c.grade} needs the {th.basis.upper()}")
                    continue
                limit = th.value * ref
            else:
                continue
            limits.append((c.grade, limit, c.rule_id, c.published))
        # one band per grade: from its threshold to the next grade's (direction L: below)
        best: dict[int, tuple[float, str, str]] = {}
        for grade, limit, rid, pub in limits:
            if grade not in best:
                best[grade] = (limit, rid, pub)
        grades = sorted(best)
        for i, g in enumerate(grades):
            limit, rid, pub = best[g]
            nxt = best[grades[i + 1]][0] if i + 1 < len(grades) else None
            if term.direction == "L":
                bands.append(GradeBand(test, g, nxt, limit, rid, pub))
            else:
                bands.append(GradeBand(test, g, limit, nxt, rid, pub))
    return bands, missing
