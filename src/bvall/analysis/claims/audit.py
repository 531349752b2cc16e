"""The claims audit: recompute every claim of a catalogue on a cohort and classify it.

Statuses (``STATUSES``):

* ``consistent``: every printed number agrees with what the patient-level data give, to the
  printed precision;
* ``inconsistent``: no reading of the data (and, for plausibility checks, no arithmetic) gives
  the printed number; the explanation names the probable cause;
* ``needs-review``: the data allow the printed number but do not confirm it (ambiguous or
  missing cells; a plausibility check that passes where nothing can be recomputed);
* ``not-recomputable``: the cohort does not hold what the claim needs; the reason is given.

After each claim is recomputed on its own, three checks across claims follow: the printed
arithmetic (n/N against the printed percentage; a median inside its range), claims about the
same ``measure`` (a paper that prints two values for one quantity; when the data cannot
decide, a value printed in fewer places than a conflicting one is marked inconsistent), and
``partition``s whose counts must add up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from bvall.analysis.claims.catalogue import Catalogue, Claim
from bvall.analysis.claims.causes import agrees, digit_slip, rounding
from bvall.analysis.claims.conditions import CohortView
from bvall.analysis.claims.counts import recompute_categories, recompute_count
from bvall.analysis.claims.findings import STATUSES, Finding, NotRecomputable
from bvall.analysis.claims.inferences import (
    percent_plausibility,
    recompute_ci,
    recompute_fisher,
    recompute_km_plausibility,
    recompute_percent_plausibility,
)
from bvall.analysis.claims.summaries import recompute_summary
from bvall.cohort import Cohort
from bvall.stats.plausibility import parse_printed

_RECOMPUTE: dict[str, Callable[[Claim, CohortView], Finding]] = {
    "count": recompute_count,
    "categories": recompute_categories,
    "summary": recompute_summary,
    "ci": recompute_ci,
    "fisher": recompute_fisher,
    "km_plausibility": recompute_km_plausibility,
    "percent_plausibility": recompute_percent_plausibility,
}


@dataclass(frozen=True)
class ClaimResult:
    """One audited claim. ``to_dict()`` gives the seven keys of the JSON output."""

    id: str
    location: str
    quote: str
    published: Mapping[str, Any]
    recomputed: Any
    status: str
    explanation: str
    measure: str | None = None
    causes: tuple[str, ...] = field(default=())

    @property
    def published_text(self) -> str:
        """The printed value in a line: ``12/13 = 92.3%``, ``52 (18–74)``, ``p = 0.226``."""
        return _value_text(self.published)

    @property
    def recomputed_text(self) -> str:
        """The recomputed value in a line (``–`` when not recomputable)."""
        r = self.recomputed
        if r is None:
            return "–"
        if "reachable" in r:
            if "candidates" in r:
                n = len(r["candidates"])
                return (
                    f"reachable ({n} product{'s' * (n != 1)})" if r["reachable"] else "unreachable"
                )
            return "reachable" if r["reachable"] else "unreachable"
        if "method" in r:
            return f"{r['method']} {r['lower']:.2f}–{r['upper']:.2f}%"
        if "p_value" in r:
            return f"p = {r['p_value']:.4f}"
        if isinstance(r.get("n"), list):
            (x0, x1), (n0, n1) = r["n"], r["N"]
            xs = f"{x0}–{x1}" if x0 != x1 else str(x0)
            ns = f"{n0}–{n1}" if n0 != n1 else str(n0)
            return f"{xs} of {ns}"
        return _value_text(r)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "location": self.location,
            "quote": self.quote,
            "published": dict(self.published),
            "recomputed": self.recomputed,
            "status": self.status,
            "explanation": self.explanation,
        }


def _num(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _value_text(p: Mapping[str, Any]) -> str:
    if {"n", "N"} <= set(p):
        text = f"{p['n']}/{p['N']}"
        if p.get("percent") is not None:
            return f"{text} = {_num(p['percent'])}%"
        return text
    if "percent" in p:
        return f"{p['percent']}%" + (f" (n = {p['n']})" if "n" in p else "")
    if "median" in p:
        text = f"{_num(p['median'])}"
        if "min" in p and "max" in p:
            text += f" ({_num(p['min'])}–{_num(p['max'])})"
        return text
    if {"min", "max"} <= set(p):
        if str(p["min"]) == str(p["max"]):
            return f"{_num(p['min'])} (every patient)"
        return f"{_num(p['min'])}–{_num(p['max'])}"
    if {"lower", "upper"} <= set(p):
        return f"{p['lower']}–{p['upper']}%"
    if "p" in p:
        return f"p = {p['p']}"
    if set(p) == {"n"}:
        return str(p["n"])
    return ", ".join(f"{k} {_num(v)}" for k, v in p.items())


def _recompute(claim: Claim, view: CohortView) -> Finding:
    if claim.not_recomputable is not None:
        finding = Finding("not-recomputable", None, f"Not recomputable: {claim.not_recomputable}")
        if claim.plausibility is not None and "percent" in claim.published:
            check = percent_plausibility(claim.published["percent"], int(claim.plausibility["n"]))
            if check.status == "inconsistent":
                finding.status = "inconsistent"
                finding.causes.append(check.summary)
            else:
                finding.notes.append(f"Plausibility: {check.summary}")
        return finding
    stat = claim.stat or ""
    try:
        return _RECOMPUTE[stat](claim, view)
    except NotRecomputable as exc:
        return Finding("not-recomputable", None, f"Not recomputable on this cohort: {exc}.")


def _arithmetic(claim: Claim, finding: Finding) -> None:
    """The printed numbers must agree with each other, whatever the data say."""
    p = claim.published
    problems = []
    if {"n", "N", "percent"} <= set(p):
        n, total = int(float(p["n"])), int(float(p["N"]))
        if total and not agrees(p["percent"], 100 * n / total):
            exact = 100 * n / total
            problem = f"arithmetic: {n}/{total} = {exact:.2f}%, printed {p['percent']}%"
            extra = rounding(p["percent"], exact) or digit_slip(p["percent"], exact)
            problems.append(problem + (f" ({extra})" if extra else ""))
    if {"median", "min", "max"} <= set(p):
        low, mid, high = (float(p[k]) for k in ("min", "median", "max"))
        if not low <= mid <= high:
            problems.append(
                f"the printed median {p['median']} lies outside its range {p['min']}–{p['max']}"
            )
    if {"lower", "upper"} <= set(p) and float(p["lower"]) > float(p["upper"]):
        problems.append("the printed lower bound exceeds the upper bound")
    if problems:
        finding.causes[:0] = problems
        finding.status = "inconsistent"
    elif {"n", "N", "percent"} <= set(p) and finding.status == "not-recomputable":
        finding.notes.append(
            f"The printed {p['n']}/{p['N']} = {p['percent']}% is arithmetically right."
        )


def _interval(value: Any) -> tuple[Fraction, Fraction]:
    low, high, _ = parse_printed(value)
    return low, high


def _compatible(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two claims' printed values can describe the same quantity."""

    def percent_of(p: Mapping[str, Any]) -> tuple[Fraction, Fraction] | None:
        if "percent" in p:
            return _interval(p["percent"])
        if "n" in p and "N" in p and float(p["N"]):
            exact = Fraction(int(float(p["n"])) * 100, int(float(p["N"])))
            return exact, exact
        return None

    if "n" in a and "n" in b and int(float(a["n"])) != int(float(b["n"])):
        return False
    pa, pb = percent_of(a), percent_of(b)
    if pa and pb and (pa[1] < pb[0] or pb[1] < pa[0]):
        return False
    for key in ("median", "min", "max", "p", "lower", "upper"):
        if key in a and key in b:
            (la, ha), (lb, hb) = _interval(a[key]), _interval(b[key])
            if ha < lb or hb < la:
                return False
    return True


def _printed(claim: Claim) -> str:
    return f"{claim.location} prints {_value_text(claim.published)}"


def _compare_measures(catalogue: Catalogue, findings: dict[str, Finding]) -> None:
    groups: dict[str, list[Claim]] = defaultdict(list)
    for claim in catalogue.claims:
        if claim.measure:
            groups[claim.measure].append(claim)
    for members in groups.values():
        if len(members) < 2:
            continue
        agree = {
            a.id: [b for b in members if _compatible(a.published, b.published)] for a in members
        }
        for claim in members:
            conflicts = [b for b in members if b not in agree[claim.id]]
            if not conflicts:
                continue
            finding = findings[claim.id]
            support = len(agree[claim.id])
            stronger = [b for b in conflicts if len(agree[b.id]) > support]
            others = "; ".join(_printed(b) for b in conflicts)
            if finding.status == "needs-review" and stronger:
                finding.status = "inconsistent"
                finding.causes.append(
                    f"table vs text disagreement: {others} (printed in more places); the data "
                    "cannot decide between them"
                )
            elif finding.status == "inconsistent":
                finding.causes.append(f"table vs text disagreement: {others}")
            else:
                finding.notes.append(f"The paper also prints a conflicting value: {others}.")


def _check_partitions(catalogue: Catalogue, findings: dict[str, Finding], view: CohortView) -> None:
    for part in catalogue.partitions:
        members = [catalogue.claim(c) for c in part.claims]
        total = len(view.patients) if part.total == "patients" else int(part.total)
        counts = [int(float(c.published["n"])) for c in members if "n" in c.published]
        if len(counts) != len(members):
            continue
        added = sum(counts)
        for claim in members:
            finding = findings[claim.id]
            if added != total:
                finding.causes.append(
                    f"{part.note or part.id}: the printed counts add up to {added}, not {total}"
                )
                if finding.status != "consistent":
                    finding.status = "inconsistent"
            elif finding.status == "not-recomputable":
                finding.notes.append(
                    f"{part.note or part.id}: the printed counts add up to {total} as they should."
                )


def _explanation(claim: Claim, finding: Finding) -> str:
    parts = [finding.summary]
    if finding.causes:
        parts.append("Probable cause: " + "; ".join(dict.fromkeys(finding.causes)) + ".")
    parts.extend(finding.notes)
    if claim.note:
        parts.append(f"[{claim.note}]")
    return " ".join(parts)


def classify_claims(catalogue: Catalogue, cohort: Cohort) -> list[ClaimResult]:
    """Recompute and classify every claim of ``catalogue`` on ``cohort``, in catalogue order."""
    view = CohortView(cohort)
    findings: dict[str, Finding] = {}
    for claim in catalogue.claims:
        finding = _recompute(claim, view)
        _arithmetic(claim, finding)
        findings[claim.id] = finding
    _compare_measures(catalogue, findings)
    _check_partitions(catalogue, findings, view)
    results = []
    for claim in catalogue.claims:
        f = findings[claim.id]
        assert f.status in STATUSES, f.status
        results.append(
            ClaimResult(
                id=claim.id,
                location=claim.location,
                quote=claim.quote,
                published=claim.published,
                recomputed=f.recomputed,
                status=f.status,
                explanation=_explanation(claim, f),
                measure=claim.measure,
                causes=tuple(dict.fromkeys(f.causes)),
            )
        )
    return results


def count_statuses(results: list[ClaimResult]) -> dict[str, int]:
    """How many claims have each status (every status listed, in :data:`STATUSES` order)."""
    return {s: sum(r.status == s for r in results) for s in STATUSES}
