"""`bvall stats ...`: quick calculators (binomial CI, Fisher's exact test, Kaplan–Meier)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from bvall.cli._output import OutputFormat, console, emit_json, print_table
from bvall.errors import InputError
from bvall.stats import ALTERNATIVES, BINOMIAL_METHODS, CONF_TYPES

# Each command imports its computation when it runs: `stats fisher` and `stats km` need NumPy
# only, `stats ci` scipy.special too.

app = typer.Typer(
    help="Quick calculators: binomial confidence intervals, Fisher's exact test, Kaplan–Meier, "
    "median follow-up.",
    no_args_is_help=True,
)

# Negative numbers must reach our own checks (a clear message quoting them), not be taken for
# unknown options by the parser.
_ARGS = {"ignore_unknown_options": True}

FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="Output format.")]
LevelOpt = Annotated[float, typer.Option("--level", help="Confidence level, e.g. 0.95.")]


def _count(name: str, text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{name} {text!r} is not a number; expected a whole count >= 0.") from None
    if value != int(value) or math.isinf(value):
        raise InputError(f"{name} {text!r} is not a whole number; expected a count >= 0.")
    if value < 0:
        raise InputError(f"{name} {text!r} is negative; expected a count >= 0.")
    return int(value)


def _pct(v: float) -> str:
    return "NA" if math.isnan(v) else f"{100 * v:.1f}%"


@app.command("ci", context_settings=_ARGS)
def ci(
    x: Annotated[str, typer.Argument(help="Successes (e.g. patients responding).")],
    n: Annotated[str, typer.Argument(help="Trials (e.g. patients assessed).")],
    method: Annotated[
        str, typer.Option("--method", help=f"One of {', '.join(BINOMIAL_METHODS)}, or all.")
    ] = "all",
    level: LevelOpt = 0.95,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Confidence interval for the proportion X/N by one method or all of them."""
    from bvall.stats import check_binomial_method, compute_binomial_cis

    xi, ni = _count("X", x), _count("N", n)
    methods = list(BINOMIAL_METHODS) if method == "all" else [check_binomial_method(method)]
    results = compute_binomial_cis(xi, ni, methods, level)
    if output is OutputFormat.json:
        emit_json([r.to_dict() for r in results])
        return
    print_table(
        [
            {
                "method": r.method,
                "name": r.label,
                "estimate": _pct(r.estimate),
                "lower": _pct(r.lower),
                "upper": _pct(r.upper),
            }
            for r in results
        ],
        title=f"{xi}/{ni} with {100 * level:g}% confidence intervals",
    )


def _parse_table(text: str) -> list[list[int]]:
    rows = [r.strip() for r in text.split(";")]
    if not all(rows):
        raise InputError(f"--table {text!r} has an empty row; expected e.g. '3,2,1;1,2,4'.")
    return [[_count("Cell", c.strip()) for c in r.split(",")] for r in rows]


@app.command("fisher", context_settings=_ARGS)
def fisher(
    cells: Annotated[
        list[str] | None, typer.Argument(help="A B C D: the 2 × 2 table [[A, B], [C, D]].")
    ] = None,
    table: Annotated[
        str | None,
        typer.Option("--table", help="An r × c table, rows separated by ';': '3,2,1;1,2,4'."),
    ] = None,
    alternative: Annotated[
        str, typer.Option("--alternative", help=f"One of {', '.join(ALTERNATIVES)}.")
    ] = "two-sided",
    level: LevelOpt = 0.95,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Fisher's exact test (R conventions): p-value, conditional MLE odds ratio and its CI."""
    from bvall.stats import compute_fisher_exact

    if table is not None and cells:
        raise InputError("Give either four cells A B C D or --table, not both.")
    if table is not None:
        counts = _parse_table(table)
    elif cells and len(cells) == 4:
        a, b, c, d = (_count("Cell", v) for v in cells)
        counts = [[a, b], [c, d]]
    else:
        raise InputError(
            f"Expected four cells A B C D (got {len(cells or [])}: {' '.join(cells or [])!r}) "
            "or --table 'r1c1,r1c2;r2c1,r2c2'."
        )
    res = compute_fisher_exact(counts, alternative, level)
    if output is OutputFormat.json:
        emit_json(res.to_dict())
        return
    rows: list[dict[str, Any]] = [
        {"quantity": "table", "value": " / ".join(",".join(map(str, r)) for r in res.table)},
        {"quantity": f"p-value ({res.alternative})", "value": f"{res.p_value:.4g}"},
    ]
    if res.odds_ratio is not None and res.conf_int is not None:
        lo, hi = res.conf_int
        rows.append({"quantity": "odds ratio (conditional MLE)", "value": f"{res.odds_ratio:.4g}"})
        rows.append({"quantity": f"{100 * level:g}% CI", "value": f"{lo:.4g} – {hi:.4g}"})
    print_table(rows, title=res.method)


def _read_times_csv(path: Path, time_col: str, event_col: str) -> tuple[list[float], list[int]]:
    """Times and 1/0 event flags from a CSV file; each bad cell named by line and column."""
    # The standard library's csv reader: pandas would add about a second to the command's start.
    if not path.is_file():
        raise InputError(f"File {str(path)!r} does not exist or is not a file.")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = reader.fieldnames or []
        for col in (time_col, event_col):
            if col not in columns:
                raise InputError(
                    f"Column {col!r} is not in {path.name}; columns: {', '.join(columns)}."
                )
        records = list(reader)
    times: list[float] = []
    events: list[int] = []
    flags = {"1": 1, "0": 0, "true": 1, "false": 0}
    for i, record in enumerate(records, start=2):
        t, e = record[time_col] or "", record[event_col] or ""
        try:
            times.append(float(t))
        except ValueError:
            raise InputError(
                f"{path.name}, line {i}, column {time_col!r}: {t!r} is not a number."
            ) from None
        flag = flags.get(e.strip().lower().removesuffix(".0"))
        if flag is None:
            raise InputError(
                f"{path.name}, line {i}, column {event_col!r}: {e!r} is not an event indicator; "
                "expected 1/0 or true/false."
            )
        events.append(flag)
    return times, events


def _show(v: float) -> str:
    return "not reached" if math.isnan(v) else f"{v:g}"


@app.command("km")
def km(
    file: Annotated[Path, typer.Argument(help="CSV file, one row per subject.")],
    time: Annotated[
        str, typer.Option("--time", help="Column with the time to event or censoring.")
    ],
    event: Annotated[str, typer.Option("--event", help="Column with 1 = event, 0 = censored.")],
    at: Annotated[
        str | None, typer.Option("--at", help="Landmark times, comma-separated: 180,365.")
    ] = None,
    conf_type: Annotated[
        str, typer.Option("--conf-type", help=f"One of {', '.join(CONF_TYPES)} (R's default log).")
    ] = "log",
    level: LevelOpt = 0.95,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Kaplan–Meier estimate (as R survfit): landmarks, numbers at risk and the median."""
    from bvall.stats import compute_kaplan_meier

    times, events = _read_times_csv(file, time, event)
    landmarks: list[float] = []
    for part in (at or "").split(","):
        if part.strip():
            try:
                landmarks.append(float(part))
            except ValueError:
                raise InputError(f"--at value {part.strip()!r} is not a number.") from None
    fit = compute_kaplan_meier(times, events, conf_type, level)
    median = fit.median()
    points = [{k: v for k, v in lm.to_dict().items() if k != "std_err"} for lm in fit.at(landmarks)]
    if output is OutputFormat.json:
        emit_json(
            {
                "n": fit.n,
                "events": fit.events,
                "conf_type": conf_type,
                "level": level,
                "at": points,
                "median": {
                    "estimate": median.estimate,
                    "lower": median.lower,
                    "upper": median.upper,
                },
            }
        )
        return
    console.print(
        f"{fit.n} subjects, {fit.events} events; {100 * level:g}% CI ({conf_type} transform, "
        "Greenwood variance)"
    )
    if points:
        print_table(
            [
                {
                    "time": p["time"],
                    "survival": _pct(p["survival"]),
                    "lower": _pct(p["lower"]),
                    "upper": _pct(p["upper"]),
                    "at risk": p["n_risk"],
                }
                for p in points
            ]
        )
    console.print(
        f"median {_show(median.estimate)} ({100 * level:g}% CI {_show(median.lower)} – "
        f"{_show(median.upper)})"
    )


@app.command("followup")
def followup(
    file: Annotated[Path, typer.Argument(help="CSV file, one row per subject.")],
    time: Annotated[
        str, typer.Option("--time", help="Column with the time to event or last contact.")
    ],
    event: Annotated[
        str, typer.Option("--event", help="Column with 1 = event (e.g. death), 0 = censored.")
    ],
    conf_type: Annotated[
        str, typer.Option("--conf-type", help=f"One of {', '.join(CONF_TYPES)} (R's default log).")
    ] = "log",
    level: LevelOpt = 0.95,
    output: FormatOpt = OutputFormat.table,
) -> None:
    """Median follow-up by reverse Kaplan–Meier (as R), and the crude median and range.

    The reverse Kaplan–Meier median is R's ``survfit(Surv(time, 1 - event) ~ 1)`` median with
    its confidence limits (censoring as the event; Schemper & Smith 1996).
    """
    from bvall.stats import compute_median_followup

    times, events = _read_times_csv(file, time, event)
    fu = compute_median_followup(times, events, conf_type, level)
    if output is OutputFormat.json:
        emit_json(
            {
                "n": fu.n,
                "conf_type": conf_type,
                "level": level,
                "median": {"estimate": fu.median, "lower": fu.lower, "upper": fu.upper},
                "crude": {
                    "median": fu.observed_median,
                    "minimum": fu.minimum,
                    "maximum": fu.maximum,
                },
                "method": fu.method,
            }
        )
        return
    console.print(f"{fu.n} subjects; {fu.method}")
    console.print(
        f"median follow-up {_show(fu.median)} ({100 * level:g}% CI {_show(fu.lower)} – "
        f"{_show(fu.upper)}, {conf_type} transform)"
    )
    console.print(
        f"crude median of the observed times {fu.observed_median:g} "
        f"(range {fu.minimum:g} – {fu.maximum:g})"
    )
