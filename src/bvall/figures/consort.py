"""CONSORT-style flow of patients: enrolled -> arm -> induction -> response -> consolidation /
HSCT -> follow-up, with counts from the cohort's own tables.

Counts (:func:`compute_consort_counts`): patients (``patients``), arm (``patients.arm``),
induction received (a ``treatment_courses`` row of type induction), response to induction and
MRD at days 14-21 (derived endpoints ``best_response`` and ``mrd_negative_d14_21``, derived from
marrow assessments where raw data exist, reported otherwise), salvage (a salvage course),
consolidation and HSCT (a course or a follow-up event), relapse and death (derived endpoints),
alive at last contact, lost to follow-up or withdrawn (``follow_up_events``). A stage that a
patient's records do not cover is "not recorded", never 0: consolidation, HSCT and follow-up
are counted only over patients with follow-up records.

Boxes are sized from their measured text (matplotlib's own text extent), so text never runs
out of a box. Artist ids: ``box:<key>`` (the patch) and ``box-text:<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from bvall.analysis.model import StudyFigure
from bvall.cohort.model import Cohort
from bvall.figures.style import (
    ARM_LABELS,
    DOUBLE_COLUMN_MM,
    MM_PER_INCH,
    SMALL_FONT_SIZE,
    arm_colour,
    arm_label,
    journal_style,
    new_figure,
)

CR_CODES = ("CR", "CRi")


@dataclass(frozen=True)
class ArmCounts:
    """Counts of one arm; ``None`` where the cohort does not record the stage."""

    arm: str
    allocated: int
    induction: int
    response_assessed: int
    cr_after_induction: int
    no_response: int
    mrd_assessed_d14_21: int
    mrd_negative_d14_21: int
    salvage: int
    cr_after_salvage: int | None
    followup_recorded: int
    consolidation: int | None
    hsct: int | None
    relapse: int | None
    died: int | None
    alive: int | None
    lost: int | None


@dataclass(frozen=True)
class ConsortCounts:
    enrolled: int
    arms: tuple[ArmCounts, ...]

    def arm(self, arm: str) -> ArmCounts:
        for a in self.arms:
            if a.arm == arm:
                return a
        raise KeyError(f"no arm {arm!r}; arms: {', '.join(a.arm for a in self.arms)}")


def compute_consort_counts(cohort: Cohort, endpoints: pa.Table) -> ConsortCounts:
    """Disposition counts per arm from the cohort tables and its derived endpoints."""
    patients = cohort.table("patients").to_pylist()
    courses = cohort.table("treatment_courses").to_pylist()
    events = cohort.table("follow_up_events").to_pylist()
    ends = {str(e["patient_id"]): e for e in endpoints.to_pylist()}

    def course_types(pid: str) -> set[str]:
        return {str(c["course_type"]) for c in courses if c["patient_id"] == pid}

    def event_kinds(pid: str) -> set[str]:
        return {str(e["event"]) for e in events if e["patient_id"] == pid}

    present = {str(p["arm"]) for p in patients if p["arm"] is not None}
    arms = [a for a in ARM_LABELS if a in present] + sorted(present - set(ARM_LABELS))
    out = []
    for arm in arms:
        ids = [str(p["patient_id"]) for p in patients if p["arm"] == arm]
        e: dict[str, dict[str, Any]] = {i: ends.get(i, {}) for i in ids}
        best = {i: e[i].get("best_response") for i in ids}
        followed = [i for i in ids if event_kinds(i)]
        salvaged = [i for i in ids if "salvage" in course_types(i)]
        salvage_cr: int | None = None
        if salvaged and all(e[i].get("cr_day") is not None or i in followed for i in salvaged):
            salvage_cr = sum(1 for i in salvaged if e[i].get("cr_day") is not None)

        def among_followed(test: Any) -> int | None:
            return sum(1 for i in followed if test(i)) if followed else None

        out.append(
            ArmCounts(
                arm=arm,
                allocated=len(ids),
                induction=sum(1 for i in ids if "induction" in course_types(i)),
                response_assessed=sum(1 for i in ids if best[i] is not None),
                cr_after_induction=sum(1 for i in ids if best[i] in CR_CODES),
                no_response=sum(1 for i in ids if best[i] is not None and best[i] not in CR_CODES),
                mrd_assessed_d14_21=sum(
                    1 for i in ids if e[i].get("mrd_negative_d14_21") is not None
                ),
                mrd_negative_d14_21=sum(1 for i in ids if e[i].get("mrd_negative_d14_21") is True),
                salvage=len(salvaged),
                cr_after_salvage=salvage_cr,
                followup_recorded=len(followed),
                consolidation=among_followed(
                    lambda i: "consolidation" in course_types(i)
                    or "consolidation_start" in event_kinds(i)
                ),
                hsct=among_followed(
                    lambda i: "hsct" in course_types(i) or "hsct" in event_kinds(i)
                ),
                relapse=among_followed(lambda i: e[i].get("relapse") is True),
                died=among_followed(lambda i: e[i].get("death") is True),
                alive=among_followed(
                    lambda i: e[i].get("death") is not True
                    and not ({"lost_to_follow_up", "withdrawal"} & event_kinds(i))
                ),
                lost=among_followed(lambda i: bool({"lost_to_follow_up", "withdrawal"}
                                                   & event_kinds(i))),
            )
        )
    return ConsortCounts(len(patients), tuple(out))


def _box_texts(counts: ConsortCounts) -> list[tuple[int, int | None, str, str]]:
    """(row, arm column or None for a centred box, key, text)."""
    boxes: list[tuple[int, int | None, str, str]] = [
        (0, None, "enrolled", f"Patients enrolled and treated\n(pre-phase dexamethasone)\n"
                              f"n = {counts.enrolled}"),
    ]
    for col, a in enumerate(counts.arms):
        boxes.append((1, col, f"allocated:{a.arm}", f"{arm_label(a.arm)}\nn = {a.allocated}"))
        boxes.append((2, col, f"induction:{a.arm}", f"Received BV induction\nn = {a.induction}"))
        lines = [
            f"Marrow response assessed n = {a.response_assessed}",
            f"  CR/CRi after induction n = {a.cr_after_induction}",
            f"  No response n = {a.no_response}",
            f"MRD-negative at D14–21 n = {a.mrd_negative_d14_21}"
            f" of {a.mrd_assessed_d14_21} assessed",
        ]
        if a.salvage:
            after = ("response not recorded" if a.cr_after_salvage is None
                     else f"then CR n = {a.cr_after_salvage}")
            lines.append(f"Salvage chemotherapy n = {a.salvage}, {after}")
        boxes.append((3, col, f"response:{a.arm}", "\n".join(lines)))
        if a.followup_recorded:
            boxes.append((4, col, f"consolidation:{a.arm}",
                          f"Consolidation n = {a.consolidation}\nAllogeneic HSCT n = {a.hsct}"))
            boxes.append((5, col, f"followup:{a.arm}", "\n".join([
                f"Follow-up recorded n = {a.followup_recorded}",
                f"  Relapse n = {a.relapse}",
                f"  Died n = {a.died}",
                f"  Alive at last contact n = {a.alive}",
                f"  Lost to follow-up / withdrawn n = {a.lost}",
            ])))
        else:
            boxes.append((4, col, f"consolidation:{a.arm}",
                          "Consolidation, HSCT and follow-up\nnot recorded per patient"))
    return boxes


def render_consort(counts: ConsortCounts, *, width_mm: float = DOUBLE_COLUMN_MM) -> Figure:
    """The flow diagram; every box is sized from its measured text plus padding."""
    pad_mm, gap_mm, margin_mm = 2.2, 5.0, 1.5
    boxes = _box_texts(counts)
    n_cols = max(1, len(counts.arms))
    col_w = (width_mm - 2 * margin_mm) / n_cols
    with journal_style():
        fig = new_figure(width_mm, 100.0)
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        size: dict[str, tuple[float, float]] = {}
        for _, _, key, text in boxes:
            t = fig.text(0, 0, text, fontsize=SMALL_FONT_SIZE, linespacing=1.3)
            bb = t.get_window_extent(renderer)
            t.remove()
            size[key] = (bb.width / fig.dpi * MM_PER_INCH, bb.height / fig.dpi * MM_PER_INCH)
        rows = sorted({r for r, _, _, _ in boxes})
        row_h = {r: max(size[k][1] for rr, _, k, _ in boxes if rr == r) + 2 * pad_mm
                 for r in rows}
        height_mm = sum(row_h.values()) + gap_mm * (len(rows) - 1) + 2 * margin_mm
        fig.set_size_inches(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width_mm)
        ax.set_ylim(0, height_mm)
        ax.axis("off")
        top: dict[int, float] = {}
        y = height_mm - margin_mm
        for r in rows:
            top[r] = y
            y -= row_h[r] + gap_mm
        centre: dict[str, tuple[float, float, float, float]] = {}
        for r, col, key, text in boxes:
            w = size[key][0] + 2 * pad_mm
            h = size[key][1] + 2 * pad_mm
            cx = width_mm / 2 if col is None else margin_mm + col_w * (col + 0.5)
            cy = top[r] - row_h[r] / 2
            arm = key.split(":", 1)[1] if ":" in key else None
            edge = arm_colour(arm) if arm is not None and key.startswith("allocated") else "black"
            patch = FancyBboxPatch((cx - w / 2, cy - h / 2), w, h,
                                   boxstyle="square,pad=0", facecolor="white", edgecolor=edge,
                                   linewidth=0.9 if edge != "black" else 0.6)
            patch.set_gid(f"box:{key}")
            ax.add_patch(patch)
            multi = "\n" in text and not key.startswith(("enrolled", "allocated", "induction"))
            ax.text(cx - w / 2 + pad_mm if multi else cx, cy, text, ha="left" if multi else "center",
                    va="center", fontsize=SMALL_FONT_SIZE, linespacing=1.3,
                    fontweight="bold" if key.startswith("allocated") else "normal",
                    ).set_gid(f"box-text:{key}")
            centre[key] = (cx, cy, w, h)

        def arrow(a: str, b: str) -> None:
            ax1, ay1, _, ah1 = centre[a]
            bx, by, _, bh = centre[b]
            ax.add_patch(FancyArrowPatch((ax1, ay1 - ah1 / 2), (bx, by + bh / 2),
                                         arrowstyle="-|>", mutation_scale=7, linewidth=0.6,
                                         color="black", shrinkA=0, shrinkB=0))

        for a in counts.arms:
            arrow("enrolled", f"allocated:{a.arm}")
            chain = ["allocated", "induction", "response", "consolidation", "followup"]
            keys = [f"{c}:{a.arm}" for c in chain if f"{c}:{a.arm}" in centre]
            for k1, k2 in zip(keys, keys[1:], strict=False):
                arrow(k1, k2)
    return fig


def build_consort_figure(cohort: Cohort, endpoints: pa.Table) -> StudyFigure:
    """``figure-consort``: always drawable (a cohort has patients); gaps are stated in boxes."""
    counts = compute_consort_counts(cohort, endpoints)
    fig = render_consort(counts)
    missing = [a for a in counts.arms if not a.followup_recorded]
    parts = [
        f"Flow of the {counts.enrolled} patients of cohort '{cohort.metadata.name}' through "
        "the study, by induction arm. Counts come from the patient, treatment-course, marrow "
        "and follow-up records: response to induction and MRD negativity at days 14–21 as "
        "derived by the criteria engine from the marrow assessments (reported response where "
        "no raw marrow data exist); consolidation and HSCT from treatment courses or follow-up "
        "events; relapse and death from the derived endpoints.",
    ]
    if missing:
        parts.append(
            "Consolidation, HSCT and follow-up are not recorded per patient in this cohort "
            f"({', '.join(arm_label(a.arm) for a in missing)}), so they are not counted."
        )
    if cohort.metadata.synthetic:
        parts.append(f"SYNTHETIC example cohort '{cohort.metadata.name}' (not real patients).")
    return StudyFigure("figure-consort", "Patient flow", " ".join(parts), fig)

