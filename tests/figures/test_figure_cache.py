"""Figures built from their declared inputs (``FIGURE_GROUPS``) and kept by those inputs
(``FigureCache``): the same figures as from the whole cohort, drawn again only when an input
they read changed."""

from __future__ import annotations

import io
from typing import Any

import matplotlib
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from bvall.cohort import load_cohort
from bvall.cohort.model import Cohort
from bvall.criteria import derive
from bvall.figures import FIGURE_GROUPS, FigureCache, FigureGroup, build_figures
from bvall.figures.style import RC


def _svg(figure: Any, fid: str) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": fid}):
        figure.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()


def _drawn(built: tuple[list[Any], list[str]]) -> tuple[list[tuple[str, str, str]], list[str]]:
    figures, reasons = built
    return [(f.id, f.caption, _svg(f.figure, f.id)) for f in figures], reasons


def _changed(cohort: Cohort, table: str, column: str, delta: Any, row: int = 0) -> Cohort:
    """``cohort`` with the value of ``table.column`` in ``row`` changed by ``delta``."""
    t = cohort[table]
    values = t[column].to_pylist()
    values[row] = values[row] + delta
    i = t.schema.get_field_index(column)
    new = t.set_column(i, t.schema.field(i), pa.array(values, type=t.schema.field(i).type))
    return Cohort(
        {n: (new if n == table else cohort[n]) for n in cohort.table_names}, cohort.metadata
    )


@pytest.mark.parametrize("name", ["example", "published"])
def test_declared_inputs_draw_the_figures_of_the_whole_cohort(name: str) -> None:
    """Each group given only its declared tables and endpoint columns draws, byte for byte, what
    it draws given the whole cohort and every endpoint column: nothing it reads is left out
    (an undeclared column read with ``.get`` would silently be None and change the figure)."""
    cohort = load_cohort(name)
    endpoints = derive(cohort, "endpoints")
    declared = _drawn(build_figures(cohort))
    whole: tuple[list[Any], list[str]] = ([], [])
    for group in FIGURE_GROUPS:
        figures, reasons = group.build(cohort, endpoints, "log-log")
        whole[0].extend(figures)
        whole[1].extend(reasons)
    order = [f[0] for f in declared[0]]
    assert sorted(_drawn(whole)[0], key=lambda f: order.index(f[0])) == declared[0]
    assert sorted(whole[1]) == sorted(declared[1])


def test_a_figure_reading_what_it_did_not_declare_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_figures gives a group only its declared tables and endpoint columns: reading
    another is an error, never a figure cached on the wrong inputs."""
    import bvall.figures as figures

    def reads_labs(c: Cohort, e: pa.Table, conf: str) -> tuple[list[Any], list[str]]:
        c.table("labs")
        return [], []

    def reads_death(c: Cohort, e: pa.Table, conf: str) -> tuple[list[Any], list[str]]:
        e["death"]
        return [], []

    cohort = load_cohort("example")
    monkeypatch.setattr(
        figures, "FIGURE_GROUPS", (FigureGroup("sneaky", ("patients",), (), reads_labs),)
    )
    with pytest.raises(RuntimeError, match="'labs', not among its declared inputs"):
        build_figures(cohort)
    monkeypatch.setattr(
        figures, "FIGURE_GROUPS", (FigureGroup("sneaky", (), ("patient_id",), reads_death),)
    )
    with pytest.raises(KeyError, match="death"):
        build_figures(cohort)


def test_cache_draws_only_the_groups_whose_inputs_changed() -> None:
    base = load_cohort("example")
    cache = FigureCache()
    first = build_figures(base, cache=cache)
    assert sorted(cache.drawn) == sorted(g.name for g in FIGURE_GROUPS)

    # a lab value: no figure reads labs (the endpoints it changes are not the figures' columns)
    cache.drawn.clear()
    labs = base["labs"]
    values = labs["value"].to_pylist()
    row = next(
        i
        for i, (t, v, d) in enumerate(
            zip(labs["test"].to_pylist(), values, labs["study_day"].to_pylist(), strict=True)
        )
        if t == "anc" and v is not None and v >= 1 and d is not None and d >= 1
    )
    values[row] = 0.1  # one more day of ANC < 0.5: the endpoints change
    j = labs.schema.get_field_index("value")
    new_labs = labs.set_column(j, labs.schema.field(j), pa.array(values, labs.schema.field(j).type))
    lab = Cohort({n: new_labs if n == "labs" else base[n] for n in base.table_names}, base.metadata)
    assert not derive(lab, "endpoints").equals(derive(base, "endpoints"))
    again = build_figures(lab, cache=cache)
    assert list(cache.drawn) == []
    assert [f.figure for f in again[0]] == [f.figure for f in first[0]]

    # a relapse a day earlier: relapse-free survival, the swimmer lanes and the CONSORT
    # counts may change; the planned schedule (treatment courses only) does not
    cache.drawn.clear()
    relapse = base["follow_up_events"]["event"].to_pylist().index("relapse")
    follow = _changed(base, "follow_up_events", "study_day", -1, relapse)
    assert not derive(follow, "endpoints")["rfs_days"].equals(derive(base, "endpoints")["rfs_days"])
    after = build_figures(follow, cache=cache)
    assert "timeline" not in cache.drawn
    assert {"survival", "swimmer"} <= set(cache.drawn)
    assert _drawn(after) == _drawn(build_figures(follow))  # cached parts as fresh ones

    # a course's regimen: the timeline is drawn again
    cache.drawn.clear()
    courses = base["treatment_courses"]
    i = courses.schema.get_field_index("regimen")
    regimen = pc.if_else(
        pc.equal(courses["patient_id"], "P01"), pa.scalar(None, pa.string()), courses["regimen"]
    )
    no_regimen = Cohort(
        {
            n: (
                courses.set_column(i, courses.schema.field(i), regimen)
                if n == "treatment_courses"
                else base[n]
            )
            for n in base.table_names
        },
        base.metadata,
    )
    build_figures(no_regimen, cache=cache)
    assert "timeline" in cache.drawn


def test_cache_keeps_the_interval_transform_apart() -> None:
    base = load_cohort("example")
    cache = FigureCache()
    build_figures(base, cache=cache)
    cache.drawn.clear()
    plain = build_figures(base, cache=cache, km_conf_type="plain")
    assert list(cache.drawn) == ["survival"]
    assert _drawn(plain) == _drawn(build_figures(base, km_conf_type="plain"))
