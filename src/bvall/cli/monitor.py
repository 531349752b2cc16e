"""`bvall monitor`: evaluate a trial design against the study database (live monitoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bvall.cli._output import OutputFormat, console, emit_json, print_table
from bvall.cli.db import DatabaseOpt, _require_initialised, _setup


def monitor(
    design_file: Annotated[
        Path | None,
        typer.Argument(
            help="A design file (bvall design ... --save); registered on first use. "
            "Default: every active plan registered with the study."
        ),
    ] = None,
    database: DatabaseOpt = None,
    output: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Evaluate the monitoring plan(s) on the study database: continue or stop, per look.

    A boundary crossing not seen before is recorded in the audit trail (once per crossing).
    """
    _setup(database)
    _require_initialised()
    from bvall.errors import InputError
    from bvall.store.models import MonitoringPlan
    from bvall.store.monitoring import monitor_plan, read_design_document, register_plan

    if design_file is not None:
        doc = read_design_document(design_file)
        plan = next((p for p in MonitoringPlan.objects.all() if p.document == doc), None)
        plans = [plan or register_plan(doc, name=doc.get("title") or design_file.stem)]
    else:
        plans = list(MonitoringPlan.objects.filter(active=True))
        if not plans:
            raise InputError(
                "No monitoring plan is registered; give a design file (bvall design bop2 ... "
                "--save FILE, then bvall monitor FILE) or upload one on the monitoring page."
            )
    results = [monitor_plan(p) for p in plans]
    if output is OutputFormat.json:
        emit_json(
            [{**ev.to_dict(), "new_audit_events": [e.pk for e in new]} for ev, new in results]
        )
        return
    for ev, new in results:
        d = ev.decision
        style = (
            "bold red"
            if d.action != "continue" and not d.action.startswith("final_eff")
            else "bold"
        )
        console.print(
            f"[bold]{ev.plan_name}[/] ({ev.design_type}): [{style}]{d.action}[/] — {d.message}"
        )
        for a in d.alerts:
            console.print(f"[bold red]alert:[/] {a}")
        console.print(
            f"enrolled {d.enrolled}, evaluable {d.evaluable} (the first patients in enrolment "
            f"order with every endpoint the design needs), pending {len(ev.pending)}"
        )
        for pid, reason in ev.pending:
            console.print(f"  pending {pid}: {reason}", highlight=False)
        rows = [
            {
                "look": lk.look,
                "patients": lk.patients,
                "responses": lk.decision.responses,
                "toxicities": lk.decision.toxicities,
                **{k: v for k, v in lk.boundary.items() if k != "patients"},
                **{k: round(v, 4) for k, v in lk.decision.posterior.items()},
                "cutoff": None if lk.decision.cutoff is None else round(lk.decision.cutoff, 4),
                "decision": lk.decision.action if lk.crossed else "continue",
            }
            for lk in ev.looks
        ]
        if rows:
            print_table(rows, title="Looks reached")
        else:
            console.print("No look reached yet.")
        for k, v in ev.mapping.items():
            console.print(f"[dim]{k}: {v}[/]")
        for e in new:
            console.print(f"[bold red]recorded[/] audit event #{e.pk}: look {e.look} {e.action}")
