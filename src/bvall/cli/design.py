"""`bvall design ...`: Simon two-stage, BOP2 and toxicity-monitoring designs; design files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bvall.cli._output import OutputFormat, console, emit_json, print_table
from bvall.errors import InputError

if TYPE_CHECKING:
    from bvall.design import BetaPrior, DirichletPrior, OperatingCharacteristics, Scenario

# Each command imports the part of bvall.design it uses when it runs: `design simon` needs the
# binomial search only, not the BOP2 calibration and its SciPy modules.

app = typer.Typer(
    help="Design phase II trials (Simon, BOP2, toxicity monitoring) and check data against them.",
    no_args_is_help=True,
)

Fmt = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
Save = Annotated[Path | None, typer.Option("--save", help="Write the design file (JSON) here.")]
PriorOpt = Annotated[
    str,
    typer.Option(
        "--prior",
        help="'vague' (mean at the null rate, ESS 1) or 'informed' (published cohort, "
        "power prior; see --prior-weight).",
    ),
]
EfficacyOpt = Annotated[
    str,
    typer.Option(
        "--efficacy-endpoint",
        help="Outcome live monitoring counts as a response (criteria/data/endpoints.toml "
        "[[outcome]]; written to --save).",
    ),
]
ToxicityOpt = Annotated[
    str,
    typer.Option(
        "--toxicity-endpoint",
        help="Outcome live monitoring counts as a toxicity (endpoints.toml [[outcome]]).",
    ),
]
WindowOpt = Annotated[
    int | None,
    typer.Option(
        "--toxicity-window-day",
        help="Last study day of the toxicity assessment window (default: end of induction).",
    ),
]


def _monitoring(efficacy: str, toxicity: str, window: int | None) -> dict[str, Any]:
    """The design file's ``monitoring`` object, its outcome names checked."""
    from bvall.criteria.outcomes import outcome_definition

    outcome_definition(efficacy, "efficacy")
    outcome_definition(toxicity, "toxicity")
    if window is not None and window < 1:
        raise InputError(f"--toxicity-window-day={window}; expected a study day ≥ 1.")
    out: dict[str, Any] = {"efficacy_endpoint": efficacy, "toxicity_endpoint": toxicity}
    if window is not None:
        out["toxicity_window_day"] = window
    return out


WeightOpt = Annotated[
    float,
    typer.Option("--prior-weight", help="Weight w in (0, 1] of each published patient."),
]


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise InputError(f"{name}={text!r} is not a comma-separated list of numbers.") from exc


def _looks(looks: str | None, n: int | None, every: int | None, first: int | None) -> list[int]:
    if looks:
        try:
            return [int(v) for v in looks.split(",") if v.strip()]
        except ValueError as exc:
            raise InputError(f"--looks={looks!r} is not a list of whole numbers.") from exc
    if n is None:
        raise InputError("give --looks (e.g. 10,20,30,40) or --n with --every.")
    step = every or n
    start = first or step
    out = list(range(start, n + 1, step))
    return out if out and out[-1] == n else [*out, n]


def _check_prior(prior: str) -> str:
    if prior not in ("vague", "informed"):
        raise InputError(f"--prior={prior!r}; expected 'vague' or 'informed'.")
    return prior


def _oc_rows(
    ocs: list[OperatingCharacteristics] | tuple[OperatingCharacteristics, ...],
) -> list[dict[str, Any]]:
    rows = []
    for oc in ocs:
        row: dict[str, Any] = {
            "scenario": oc.scenario.label,
            "p_E": oc.scenario.p_efficacy,
            "p_T": oc.scenario.p_toxicity,
            "P(go)": round(oc.passed, 4),
            "early stop": round(oc.early_stop, 4),
            "stop futility": round(oc.stop_futility + oc.stop_both, 4),
            "stop toxicity": round(oc.stop_toxicity + oc.stop_both, 4),
            "E[N]": round(oc.expected_n, 2),
            "method": oc.method
            if oc.method == "exact"
            else f"simulation n={oc.n_trials} seed={oc.seed}",
        }
        rows.append(row)
    return rows


@app.command("simon")
def simon(
    p0: Annotated[float, typer.Option("--p0", help="Uninteresting response rate (H0).")],
    p1: Annotated[float, typer.Option("--p1", help="Target response rate (H1).")],
    alpha: Annotated[float, typer.Option("--alpha", help="One-sided type I error.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Power at p1 (1 - beta).")] = 0.8,
    nmax: Annotated[int, typer.Option("--nmax", help="Largest total sample size searched.")] = 100,
    output: Fmt = OutputFormat.table,
    save: Save = None,
    save_type: Annotated[
        str, typer.Option("--save-type", help="Which design --save writes: optimal or minimax.")
    ] = "optimal",
    efficacy_endpoint: EfficacyOpt = "cr_mrd_negative",
    toxicity_endpoint: ToxicityOpt = "crs_icans_grade3plus",
    toxicity_window_day: WindowOpt = None,
) -> None:
    """Simon two-stage designs: minimax, admissible and optimal (exact binomial search)."""
    from bvall.design import compute_simon_designs

    designs = compute_simon_designs(p0, p1, alpha, power, nmax)
    if save is not None:
        from bvall.design import write_design

        chosen = [d for d in designs if d.kind == save_type]
        if not chosen:
            raise InputError(f"--save-type={save_type!r}; expected 'optimal' or 'minimax'.")
        write_design(
            chosen[0],
            save,
            monitoring=_monitoring(efficacy_endpoint, toxicity_endpoint, toxicity_window_day),
        )
    if output is OutputFormat.json:
        emit_json([d.to_dict() for d in designs])
        return
    print_table(
        [
            {
                "type": d.kind,
                "stage 1: stop if <= r1/n1": f"{d.r1}/{d.n1}",
                "final: promising if > r/n": f"{d.r}/{d.n}",
                "EN(p0)": round(d.en0, 2),
                "PET(p0)": round(d.pet0, 3),
                "EN(p1)": round(d.en1, 2),
                "alpha": round(d.attained_alpha, 4),
                "power": round(d.attained_power, 4),
                "q range": None if d.q_low is None else f"{d.q_low:.3f}-{d.q_high:.3f}",
            }
            for d in designs
        ],
        title=f"Simon two-stage designs: p0={p0:g}, p1={p1:g}, alpha={alpha:g}, power={power:g}",
        caption="Exact binomial search (Simon 1989); admissible designs per Jung et al. 2004.",
    )
    if designs[-1].n > nmax - 10:
        console.print(
            f"[yellow]note:[/] optimal n={designs[-1].n} is close to --nmax={nmax}; "
            "increase --nmax to be sure it is optimal."
        )
    if save is not None:
        console.print(f"Saved the {save_type} design to {save}")


@app.command("simon-analysis")
def simon_analysis(
    r1: Annotated[int, typer.Option("--r1")],
    n1: Annotated[int, typer.Option("--n1")],
    r: Annotated[int, typer.Option("--r")],
    n: Annotated[int, typer.Option("--n")],
    p0: Annotated[float, typer.Option("--p0")],
    stage1: Annotated[int, typer.Option("--stage1", help="Responses among the first n1.")],
    total: Annotated[
        int | None, typer.Option("--total", help="Responses among all n (if stage 2 ran).")
    ] = None,
    level: Annotated[float, typer.Option("--level", help="Two-sided confidence level.")] = 0.95,
    output: Fmt = OutputFormat.table,
) -> None:
    """Final analysis of a Simon trial: p-value, UMVUE and exact CI (methods named)."""
    from bvall.design import compute_simon_analysis

    a = compute_simon_analysis(r1, n1, r, n, p0, stage1, total, level)
    if output is OutputFormat.json:
        emit_json(a.to_dict())
        return
    print_table(
        [
            {
                "quantity": "responses / patients",
                "value": f"{a.responses}/{a.patients}",
                "method": f"stage {a.stage}",
            },
            {
                "quantity": "p-value (H0: p <= p0)",
                "value": f"{a.p_value:.4g}",
                "method": a.p_value_method,
            },
            {"quantity": "estimate", "value": f"{a.estimate:.4f}", "method": a.estimate_method},
            {
                "quantity": f"{a.conf_level:.0%} CI",
                "value": f"{a.ci_low:.4f} to {a.ci_high:.4f}",
                "method": a.ci_method,
            },
            {
                "quantity": "naive",
                "value": f"{a.naive_estimate:.4f} ({a.naive_ci_low:.4f} to {a.naive_ci_high:.4f})",
                "method": a.naive_method,
            },
            {
                "quantity": "decision",
                "value": "promising" if a.promising else "not promising",
                "method": f"responses > r={r}",
            },
        ],
        title="Simon two-stage final analysis",
    )


def _scenarios(specs: list[str], joint: bool) -> list[Scenario]:
    from bvall.design import Scenario

    out = []
    for spec in specs:
        label, _, values = spec.rpartition(":")
        v = _floats(values, "--scenario")
        if (joint and len(v) not in (2, 3)) or (not joint and len(v) != 1):
            raise InputError(
                f"--scenario={spec!r}: expected 'label:pE' (binary) or 'label:pE,pT[,pBoth]' "
                "(efficacy + toxicity)."
            )
        out.append(
            Scenario(label or spec, v[0], v[1] if joint else None, v[2] if len(v) == 3 else None)
        )
    return out


@app.command("bop2")
def bop2(
    null: Annotated[float, typer.Option("--null", help="Null response rate phi_E.")],
    alt: Annotated[float, typer.Option("--alt", help="Alternative response rate.")],
    looks: Annotated[
        str | None, typer.Option("--looks", help="Patients at each look, e.g. 10,20,30,40.")
    ] = None,
    n: Annotated[
        int | None, typer.Option("--n", help="Maximum sample size N (with --every).")
    ] = None,
    every: Annotated[int | None, typer.Option("--every", help="Patients between looks.")] = None,
    first: Annotated[
        int | None, typer.Option("--first", help="Patients at the first look.")
    ] = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Type I error.")] = 0.1,
    tox_null: Annotated[
        float | None,
        typer.Option("--tox-null", help="Unacceptable toxicity rate phi_T (joint design)."),
    ] = None,
    tox_alt: Annotated[
        float | None, typer.Option("--tox-alt", help="Acceptable toxicity rate under H1.")
    ] = None,
    null_both: Annotated[
        float | None,
        typer.Option(
            "--null-both", help="P(response and toxicity) under H0 (default: independence)."
        ),
    ] = None,
    alt_both: Annotated[
        float | None, typer.Option("--alt-both", help="P(response and toxicity) under H1.")
    ] = None,
    type1_control: Annotated[
        str, typer.Option("--type1-control", help="'futile_and_toxic' (BOP2 2017) or 'each_null'.")
    ] = "futile_and_toxic",
    prior: PriorOpt = "vague",
    prior_weight: WeightOpt = 1.0,
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="Extra scenario 'label:pE[,pT[,pBoth]]'; repeatable."),
    ] = None,
    simulate: Annotated[
        int | None, typer.Option("--simulate", help="Also simulate this many trials per scenario.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --simulate.")] = 20250101,
    output: Fmt = OutputFormat.table,
    save: Save = None,
    efficacy_endpoint: EfficacyOpt = "cr_mrd_negative",
    toxicity_endpoint: ToxicityOpt = "crs_icans_grade3plus",
    toxicity_window_day: WindowOpt = None,
) -> None:
    """BOP2 design (Zhou, Lee & Yuan 2017): calibrated boundaries and operating characteristics."""
    from bvall.design import (
        compute_bop2_characteristics,
        compute_bop2_design,
        design_to_document,
        informed_beta_prior,
        informed_dirichlet_prior,
        simulate_characteristics,
        write_design,
    )

    lk = _looks(looks, n, every, first)
    joint = tox_null is not None or tox_alt is not None
    pe: BetaPrior | None = None
    pj: DirichletPrior | None = None
    if _check_prior(prior) == "informed":
        if joint:
            pj = informed_dirichlet_prior(prior_weight)
        else:
            pe = informed_beta_prior("cr_mrd_negative", prior_weight)
    d = compute_bop2_design(
        lk,
        null,
        alt,
        alpha,
        tox_null,
        tox_alt,
        null_both,
        alt_both,
        prior_efficacy=pe,
        prior_joint=pj,
        type1_control=type1_control,  # type: ignore[arg-type]
    )
    ocs = list(d.characteristics) + compute_bop2_characteristics(
        d, _scenarios(scenario or [], joint)
    )
    sims = (
        [simulate_characteristics(d.boundaries, oc.scenario, simulate, seed) for oc in ocs]
        if simulate
        else []
    )
    if save is not None:
        write_design(
            d,
            save,
            monitoring=_monitoring(efficacy_endpoint, toxicity_endpoint, toxicity_window_day),
        )
    if output is OutputFormat.json:
        doc = design_to_document(d)
        doc["operating_characteristics"] = [oc.to_dict() for oc in ocs + sims]
        emit_json(doc)
        return
    console.print(
        f"[bold]BOP2 {d.endpoint.replace('_', ' + ')} design[/], N={d.n_max}, "
        f"lambda={d.lam:g}, gamma={d.gamma:g}  (C(n) = 1 - lambda (n/N)^gamma; "
        f"{d.equivalent_grid_points} grid points give the same table)"
    )
    console.print(f"Prior: {d.prior_joint.label if d.prior_joint else d.prior_efficacy.label}")
    print_table(d.boundary_rows(), title="Stopping boundaries (evaluable patients at each look)")
    print_table(
        _oc_rows(ocs + sims),
        title=f"Operating characteristics (type I error {d.attained_alpha:.4f} "
        f"calibrated at {d.type1_control if d.endpoint != 'binary' else 'the null'}; "
        f"power {d.power:.4f})",
    )
    if save is not None:
        console.print(f"Saved to {save}")


@app.command("monitor")
def monitor(
    limit: Annotated[float, typer.Option("--limit", help="Highest acceptable toxicity rate.")],
    n: Annotated[int, typer.Option("--n", help="Maximum number of patients monitored.")],
    threshold: Annotated[
        float, typer.Option("--threshold", help="Stop if Pr(p_T > limit | data) exceeds this.")
    ] = 0.9,
    first: Annotated[int, typer.Option("--first", help="First patient count monitored.")] = 1,
    every: Annotated[
        int, typer.Option("--every", help="Patients between checks (1: continuous).")
    ] = 1,
    rates: Annotated[
        str | None,
        typer.Option(
            "--rates",
            help="True toxicity rates for the operating characteristics, e.g. 0.1,0.2,0.3.",
        ),
    ] = None,
    prior: PriorOpt = "vague",
    prior_weight: WeightOpt = 1.0,
    output: Fmt = OutputFormat.table,
    save: Save = None,
    efficacy_endpoint: EfficacyOpt = "cr_mrd_negative",
    toxicity_endpoint: ToxicityOpt = "crs_icans_grade3plus",
    toxicity_window_day: WindowOpt = None,
) -> None:
    """Continuous toxicity monitoring (Beta-binomial, Thall-Simon-Estey style): boundary table."""
    from bvall.design import (
        design_to_document,
        informed_beta_prior,
        make_toxicity_monitor,
        write_design,
    )

    p = (
        informed_beta_prior("crs_icans_grade3plus", prior_weight)
        if _check_prior(prior) == "informed"
        else None
    )
    m = make_toxicity_monitor(
        limit, threshold, n, p, first, every, _floats(rates, "--rates") if rates else None
    )
    if save is not None:
        write_design(
            m,
            save,
            monitoring=_monitoring(efficacy_endpoint, toxicity_endpoint, toxicity_window_day),
        )
    if output is OutputFormat.json:
        emit_json(design_to_document(m))
        return
    console.print(
        f"[bold]Toxicity monitoring[/]: stop if Pr(p_T > {limit:g} | data) > {threshold:g}"
    )
    console.print(f"Prior: {m.prior.label}")
    print_table(
        [
            {
                "patients": r["patients"],
                "stop if toxicities >=": r["stop_if_toxicities_at_least"],
                "Pr at boundary": None
                if r["posterior_at_boundary"] is None
                else round(r["posterior_at_boundary"], 4),
            }
            for r in m.boundary_rows()
        ],
        title="Boundary table ('–': no count can stop the trial yet)",
    )
    print_table(
        _oc_rows(m.characteristics),
        title="Operating characteristics (exact)",
        caption="P(go) here = probability of completing without a toxicity stop.",
    )
    if save is not None:
        console.print(f"Saved to {save}")


@app.command("evaluate")
def evaluate(
    design_file: Annotated[Path, typer.Argument(help="A design file written with --save.")],
    counts: Annotated[
        list[str],
        typer.Option(
            "--counts",
            help="Cumulative 'patients:responses:toxicities' (use - for an endpoint the design does not use); repeatable, in enrolment order.",
        ),
    ],
    output: Fmt = OutputFormat.table,
) -> None:
    """Evaluate a saved design against cumulative counts: continue or stop, and why."""
    from bvall.design import CountSnapshot, classify_trial, read_design

    design = read_design(design_file)
    snaps = []
    for c in counts:
        parts = c.split(":")
        if len(parts) != 3:
            raise InputError(
                f"--counts={c!r}; expected 'patients:responses:toxicities', e.g. 10:3:1."
            )
        try:
            vals = [None if v.strip() in ("-", "") else int(v) for v in parts]
        except ValueError as exc:
            raise InputError(f"--counts={c!r} has a value that is not a whole number.") from exc
        if vals[0] is None:
            raise InputError(f"--counts={c!r}: the number of patients is required.")
        snaps.append(CountSnapshot(vals[0], vals[1], vals[2]))
    dec = classify_trial(design, snaps)
    if output is OutputFormat.json:
        emit_json(dec.to_dict())
        return
    console.print(f"[bold]{dec.action}[/]: {dec.message}")
    for a in dec.alerts:
        console.print(f"[bold red]alert:[/] {a}")
    rows = [{"quantity": k, "value": v} for k, v in {**dec.boundary, **dec.posterior}.items()]
    if dec.cutoff is not None:
        rows.append({"quantity": "cutoff", "value": dec.cutoff})
    if rows:
        print_table(rows)
