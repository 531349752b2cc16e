"""`bvall report example` end to end, timed per stage, each stage's share of the whole.

    uv run python benchmarks/bench_report.py [--cohort example] [--out /tmp/bench-report]

Stages: load the cohort, derive the criteria (grades, episodes, response, endpoints), build the
study tables, draw the figures, render the HTML, the PDF and the DOCX, write the report folder
(CSV and figure files, atomic move). Imports are done before the clock starts, so that each
stage is its own work; the first-use cost of WeasyPrint's fonts stays in the PDF stage.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import weasyprint  # noqa: F401  imported before timing

from bvall.analysis.tables import build_analysis_from, collect_study_data
from bvall.cohort import load_cohort
from bvall.criteria import CriteriaSettings
from bvall.figures import build_figures
from bvall.report import (
    render_report_files,
    render_report_html,
    render_report_pdf,
    render_tables_docx,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", default="example")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp()) / "report"
    when = datetime.now(UTC)
    times: list[tuple[str, float]] = []

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        result = fn()
        times.append((name, time.perf_counter() - t0))
        return result

    cohort = timed("load", lambda: load_cohort(args.cohort))
    data = timed("criteria derive", lambda: collect_study_data(cohort, CriteriaSettings()))
    analysis = timed("analysis (tables)", lambda: build_analysis_from(data))
    figures, omitted = timed("figures", lambda: build_figures(cohort, settings=None))
    html = timed("HTML", lambda: render_report_html(analysis, figures, omitted, generated_at=when))
    pdf = timed("PDF", lambda: render_report_pdf(html))
    docx = timed("DOCX", lambda: render_tables_docx(analysis, generated_at=when))
    timed(
        "write folder (CSV, figure files)",
        lambda: render_report_files(
            analysis, figures, omitted, out, generated_at=when, formats=("csv", "figures")
        ),
    )
    total = sum(t for _, t in times)
    print(
        f"bvall report {args.cohort}: {len(cohort)} patients, {len(analysis.tables)} tables, "
        f"{len(figures)} figures ({len(omitted)} omitted); PDF {len(pdf) / 1e6:.2f} MB, "
        f"HTML {len(html) / 1e6:.2f} MB, DOCX {len(docx) / 1e3:.0f} kB"
    )
    print(f"{'stage':<36}{'seconds':>9}{'share':>8}")
    for name, t in times:
        print(f"{name:<36}{t:>9.2f}{t / total:>8.1%}")
    print(f"{'total':<36}{total:>9.2f}{1:>8.0%}")


if __name__ == "__main__":
    main()
