"""`bvall plan ...` (one patient's day-by-day plan; deviations of a cohort) and `bvall regimens`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from bvall.cli._output import console, emit_json, print_table
from bvall.errors import InputError

app = typer.Typer(
    help="Plan a regimen for one patient (`bvall plan --regimen ...`), or compare a cohort's "
    "doses with the plans (`bvall plan deviations NAME|PATH`).",
)


class PlanFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"
    ics = "ics"
    html = "html"


class TableFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _pairs(values: list[str], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in values:
        if "=" not in v:
            raise InputError(f"{what} {v!r} is not NAME=VALUE (e.g. uric_days=10).")
        k, raw = v.split("=", 1)
        value: Any = raw.strip()
        try:
            value = int(value)
        except ValueError:
            with contextlib.suppress(ValueError):
                value = float(value)
        out[k.strip()] = value
    return out


def _write(text: str | bytes, out: Path | None) -> None:
    if out is None:
        if isinstance(text, bytes):
            sys.stdout.write(text.decode("utf-8"))
        else:
            sys.stdout.write(text)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    console.print(f"wrote {out}", highlight=False)


@app.callback(invoke_without_command=True)
def plan(
    ctx: typer.Context,
    regimen: Annotated[
        str | None, typer.Option(help="A bundled regimen (see `bvall regimens`) or a .toml path.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Date of D1, YYYY-MM-DD.")] = None,
    weight: Annotated[float | None, typer.Option(help="Body weight in kg.")] = None,
    height: Annotated[float | None, typer.Option(help="Height in cm.")] = None,
    cyp3a4: Annotated[
        list[str] | None,
        typer.Option(
            "--cyp3a4",
            "--inhibitor",
            help="Interacting drug (CYP3A or P-gp inhibitor), repeatable; "
            "'posaconazole' or with study days 'posaconazole:-2..10'.",
        ),
    ] = None,
    dex_days: Annotated[
        int | None, typer.Option(help="Pre-phase dexamethasone days (regimen default: 5).")
    ] = None,
    fmt: Annotated[PlanFormat, typer.Option("--format", help="Output format.")] = PlanFormat.table,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    bsa_formula: Annotated[str, typer.Option(help="mosteller or dubois.")] = "mosteller",
    bsa_decimals: Annotated[int, typer.Option(help="Round BSA once to this many decimals.")] = 2,
    site_policy: Annotated[
        str, typer.Option(help="Venetoclax inhibitor policy: label (default) or seed.")
    ] = "label",
    resume_after_days: Annotated[
        int | None, typer.Option(help="Days after the last inhibitor dose to resume (2-3).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="Regimen parameter NAME=VALUE, repeatable.")
    ] = None,
    setting: Annotated[
        list[str] | None,
        typer.Option(help="Where sources disagree, NAME=VALUE (e.g. diltiazem=cyp3a_moderate)."),
    ] = None,
    patient: Annotated[str, typer.Option(help="Patient name or ID printed on the sheet.")] = "",
) -> None:
    """The day-by-day plan: doses (with the rule behind every adjusted dose), supportive care,
    monitoring and assessments."""
    if ctx.invoked_subcommand is not None:
        return
    from bvall.regimen import (
        format_bsa,
        plan_regimen,
        render_plan_csv,
        render_plan_html,
        render_plan_ics,
        render_plan_rows,
    )

    missing = [
        name
        for name, v in (
            ("--regimen", regimen),
            ("--start", start),
            ("--weight", weight),
            ("--height", height),
        )
        if v is None
    ]
    if missing:
        raise InputError(
            f"missing {', '.join(missing)}; e.g. bvall plan --regimen bv-concurrent "
            "--start 2026-12-07 --weight 62 --height 168 (see `bvall regimens`)."
        )
    assert regimen is not None
    p = plan_regimen(
        regimen,
        start=start,
        weight_kg=weight,
        height_cm=height,
        inhibitors=cyp3a4 or [],
        dex_days=dex_days,
        bsa_formula=bsa_formula,
        bsa_decimals=bsa_decimals,
        site_policy=site_policy,
        resume_after_days=resume_after_days,
        parameters=_pairs(param or [], "--param"),
        settings={k: str(v) for k, v in _pairs(setting or [], "--setting").items()},
        patient_label=patient,
    )
    now = dt.datetime.now(dt.UTC)
    if fmt is PlanFormat.json:
        _write(json.dumps(p.to_dict(), indent=2, ensure_ascii=False) + "\n", out)
    elif fmt is PlanFormat.csv:
        _write(render_plan_csv(p), out)
    elif fmt is PlanFormat.ics:
        _write(render_plan_ics(p, stamp=now), out)
    elif fmt is PlanFormat.html:
        _write(render_plan_html(p, generated=now.astimezone()), out)
    else:
        r = p.regimen
        console.print(f"[bold]{r.title}[/] ({r.id} v{r.version})", highlight=False)
        console.print(
            f"D1 {p.start}  weight {weight:g} kg  height {height:g} cm  "
            f"BSA {format_bsa(p.bsa_m2, p.bsa_decimals) if p.bsa_m2 is not None else '-'} m² "
            f"({p.bsa_formula})  co-medication: "
            + (", ".join(c.describe() for c in p.comedications) or "none"),
            highlight=False,
        )
        for w in p.warnings:
            console.print(f"[bold yellow]! {w.message}[/]", highlight=False)
        print_table(render_plan_rows(p), title=None)
        for day, x in p.adjusted_doses:
            console.print(
                f"* D{day} {x.agent} {x.dose:g} {x.unit}: {x.rule} ({x.source})", highlight=False
            )
        for a in p.conditional:
            console.print(f"- {a.label}: {a.window_text()}", highlight=False)


def _as_of(text: str) -> dt.date | None:
    if text == "record":
        return None
    if text == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--as-of {text!r} is not a date; expected YYYY-MM-DD, 'today' or 'record'."
        ) from None


@app.command("deviations")
def deviations(
    cohort: Annotated[str, typer.Argument(help="A bundled dataset or a cohort path.")],
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
    events: Annotated[bool, typer.Option(help="List every deviation, not the summary.")] = False,
    agent: Annotated[
        list[str] | None, typer.Option(help="Agents to compare (default venetoclax, blinatumomab).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
    as_of: Annotated[
        str,
        typer.Option(
            "--as-of",
            help="Judge the doses due up to this date (YYYY-MM-DD, default today); 'record' "
            "judges each course up to its last documented dose day (an archived dataset). "
            "Planned days after it are 'planned', not missed.",
        ),
    ] = "today",
) -> None:
    """Missed, reduced, interrupted, extra and late doses against each patient's plan, with
    cumulative dose (a total) and relative dose intensity per agent over the days due."""
    from bvall.cohort import load_cohort
    from bvall.regimen import derive_deviations

    report = derive_deviations(
        load_cohort(cohort),
        agents=tuple(agent or ("venetoclax", "blinatumomab")),
        today=_as_of(as_of),
    )
    table = report.events if events else report.summary
    if fmt is TableFormat.json:
        if out is None:
            emit_json(report.to_dict())
        else:
            _write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str), out)
        return
    if fmt is TableFormat.csv:
        import io

        import pyarrow.csv as pacsv

        buf = io.BytesIO()
        pacsv.write_csv(table, buf)
        _write(buf.getvalue(), out)
        return
    rows = table.to_pylist()
    if not events:
        cols = [
            "patient_id",
            "agent",
            "recording",
            "planned_cumulative",
            "given_cumulative",
            "cumulative_unit",
            "due_through",
            "rdi",
            "missed",
            "reduced",
            "interrupted",
            "extra",
            "late",
            "not_recorded",
            "still_planned",
        ]
    else:
        cols = [
            "patient_id",
            "agent",
            "study_day",
            "category",
            "planned_dose",
            "given_dose",
            "unit",
            "detail",
        ]
    print_table(rows, columns=cols, title=f"Dose deviations: {cohort}")
    for n in report.notes:
        console.print(f"[dim]- {n}[/]", highlight=False)


def regimens(
    name: Annotated[str | None, typer.Argument(help="Show one regimen in detail.")] = None,
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
) -> None:
    """List the bundled regimen specs with their sources, or show one."""
    from bvall.regimen import load_regimen, regimen_names

    if name is None:
        rows = []
        for n in regimen_names():
            r = load_regimen(n)
            rows.append(
                {
                    "id": r.id,
                    "title": r.title,
                    "version": r.version,
                    "status": r.status,
                    "source": r.source,
                }
            )
        if fmt is TableFormat.json:
            emit_json(rows)
        else:
            print_table(rows, columns=["id", "title", "status", "source"], title="Regimens")
        return
    r = load_regimen(name)
    detail: dict[str, Any] = {
        "id": r.id,
        "title": r.title,
        "version": r.version,
        "summary": r.summary,
        "status": r.status,
        "source": r.source,
        "parameters": [
            {"name": p.name, "default": p.default, "accepted": p.accepted(), "source": p.source}
            for p in r.parameters.values()
        ],
        "doses": [
            {
                "agent": d.agent,
                "days": f"{d.first.text}..{d.last.text}",
                "cycles": None if d.cycles is None else f"{d.cycles[0]}-{d.cycles[1]}",
                "dose": d.dose if d.dose is not None else d.dose_text,
                "per": d.per,
                "source": d.source,
            }
            for d in r.doses
        ],
        "readings": [{"text": x.text, "source": x.source} for x in r.readings],
    }
    if fmt is TableFormat.json:
        emit_json(detail)
        return
    console.print(
        f"[bold]{r.title}[/] ({r.id} v{r.version})\n{r.summary}\n[dim]{r.source}[/]",
        highlight=False,
    )
    print_table(detail["parameters"], title="Parameters")
    print_table(detail["doses"], title="Doses")
    print_table(detail["readings"], title="Readings chosen where the source is silent")
