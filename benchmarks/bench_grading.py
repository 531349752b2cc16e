"""Benchmark: CTCAE lab grading plus per-patient summaries on a synthetic registry.

    uv run python benchmarks/bench_grading.py                       # 10^4, 10^5, 10^6 patients
    uv run python benchmarks/bench_grading.py --sizes 10000         # quick run (about a minute)
    uv run python benchmarks/bench_grading.py --engine spark --sizes 10000 100000   # on Spark

For each size (N patients x 60 days x 10 lab tests, written once as Parquet by
``benchmarks/registry.py``) three implementations do the same work from the same files:

* **bvall** - ``bvall.criteria``: ``prepare_labs`` (unit conversion through the unit table joined
  in the query, baseline), ``grade_lab_values`` (the CTCAE v5.0 rules read from
  ``ctcae_v5_labs.toml``), then ``worst_lab_grades`` (worst grade per patient and term, D1-D35)
  and ``days_below`` (days with ANC < 0.5 and platelets < 20 x 10^9/L), as Ibis on DuckDB.
* **sql** - one hand-written DuckDB SQL script with the same thresholds, the same 15-digit
  rounding and the same not-gradable rules.
* **pandas** - a plain vectorized pandas/NumPy implementation of the same.

Each run is a fresh process (so its peak resident memory is its own) with DuckDB on 2 threads;
the engines take turns and each keeps its best of ``--repeat`` runs (up to 10^5 patients; 10^6
is run once). The outputs are compared (they must be identical) and the ratios printed. Timings
include reading the Parquet files and, for bvall, building the Ibis expressions from the rule
files and compiling them to SQL; they exclude importing the libraries.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from registry import registry_labs, registry_patients, write_registry

WINDOW = (1, 35)
TERMS = (
    "neutrophil_count_decreased",
    "platelet_count_decreased",
    "anemia",
    "white_blood_cell_decreased",
    "lymphocyte_count_decreased",
    "alanine_aminotransferase_increased",
    "aspartate_aminotransferase_increased",
    "blood_bilirubin_increased",
    "creatinine_increased",
    "hyperkalemia",
    "hypokalemia",
)
#: The pandas implementation holds every row as NumPy columns (about 100 bytes a row with its
#: intermediates): 10^6 patients (6 x 10^8 rows, ~60 GB) do not fit in 24 GB.
PANDAS_MAX_ROWS = 60_000_000  # 10^5 patients
#: Sizes up to this many rows are run ``--repeat`` times per engine; larger ones once.
REPEAT_MAX_ROWS = 60_000_000


def _duckdb_config(threads: int, memory: str, tmp: Path) -> str:
    return (
        f"SET threads={threads}; SET memory_limit='{memory}'; "
        f"SET temp_directory='{tmp}'; SET preserve_insertion_order=false;"
    )


# --- bvall ------------------------------------------------------------------------------------


def run_bvall(folder: Path, threads: int, memory: str) -> tuple[Any, Any]:
    import ibis

    from bvall.criteria.grading import grade_lab_values
    from bvall.criteria.labs import prepare_labs
    from bvall.criteria.settings import CriteriaSettings
    from bvall.criteria.summaries import days_below, worst_lab_grades

    con = ibis.duckdb.connect()
    con.raw_sql(_duckdb_config(threads, memory, folder.parent / "tmp"))
    settings = CriteriaSettings()
    labs = con.read_parquet(str(folder / "*.parquet"))
    prepared = prepare_labs(labs, settings)
    graded = grade_lab_values(prepared, settings, terms=TERMS, censored=False, explain=False)
    worst = worst_lab_grades(graded.select("patient_id", "term_id", "day", "grade"), WINDOW)
    days = days_below(prepared, WINDOW, {"anc": 0.5, "platelets": 20.0}, settings, censored=False)
    return con.to_pyarrow(worst), con.to_pyarrow(
        days.select("patient_id", "test", "below", "measured")
    )


# --- hand-written SQL -----------------------------------------------------------------------

SQL_GRADES = """
CREATE OR REPLACE TEMP MACRO s15(x) AS
    round(x * pow(10, 14 - floor(log10(CASE WHEN x = 0 THEN 1 ELSE abs(x) END))))
    / pow(10, 14 - floor(log10(CASE WHEN x = 0 THEN 1 ELSE abs(x) END)));
CREATE OR REPLACE TEMP MACRO ratio(x, l) AS CASE WHEN l > 0 THEN s15(x / l) END;
CREATE OR REPLACE TEMP MACRO lowg(v, r, t4, t3, t2) AS
    CASE WHEN v IS NULL THEN NULL WHEN v < t4 THEN 4 WHEN v < t3 THEN 3 WHEN v < t2 THEN 2
         WHEN r IS NULL THEN NULL WHEN r < 1 THEN 1 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO highg(v, r, t4, t3, t2) AS
    CASE WHEN v IS NULL THEN NULL WHEN v > t4 THEN 4 WHEN v > t3 THEN 3 WHEN v > t2 THEN 2
         WHEN r IS NULL THEN NULL WHEN r > 1 THEN 1 ELSE 0 END;
CREATE OR REPLACE TEMP MACRO lv(ru, rb, ab, u, b, incl) AS
    (ru > u AND NOT ab) OR ((CASE WHEN incl THEN rb >= b ELSE rb > b END) AND ab);
CREATE OR REPLACE TEMP MACRO liver(ru, rb, ab, u4, u3, u2, u1, b4, b3, b2, b1, b1_incl) AS
    CASE WHEN lv(ru, rb, ab, u4, b4, false) THEN 4
         WHEN lv(ru, rb, ab, u4, b4, false) IS NULL THEN NULL
         WHEN lv(ru, rb, ab, u3, b3, false) THEN 3
         WHEN lv(ru, rb, ab, u3, b3, false) IS NULL THEN NULL
         WHEN lv(ru, rb, ab, u2, b2, false) THEN 2
         WHEN lv(ru, rb, ab, u2, b2, false) IS NULL THEN NULL
         WHEN lv(ru, rb, ab, u1, b1, b1_incl) THEN 1
         WHEN lv(ru, rb, ab, u1, b1, b1_incl) IS NULL THEN NULL
         ELSE 0 END;
CREATE OR REPLACE TEMP TABLE grades_out AS
WITH conv AS (
    SELECT l.patient_id, l.test, l.day, f.factor,
           s15(l.value * f.factor) AS v,
           s15(l.ref_low * f.factor) AS lln,
           s15(l.ref_high * f.factor) AS uln
    FROM read_parquet('{files}') l
    LEFT JOIN factors f ON l.test = f.test AND l.unit = f.unit),
base AS (
    SELECT patient_id, test, arg_max_null({{'v': v, 'uln': uln}}, day) AS b
    FROM conv WHERE day <= 0 AND factor IS NOT NULL GROUP BY ALL),
rows AS (
    SELECT c.patient_id, c.test, c.day, c.v, c.lln, c.uln,
           base.b.v AS bv, base.b.uln AS bu,
           ratio(c.v, c.lln) AS rl, ratio(c.v, c.uln) AS ru, ratio(c.v, base.b.v) AS rb,
           base.b.v > base.b.uln AS abnormal
    FROM conv c LEFT JOIN base ON c.patient_id = base.patient_id AND c.test = base.test
    WHERE c.day BETWEEN {start} AND {end}),
graded AS (
    SELECT patient_id, 'neutrophil_count_decreased' AS term_id, lowg(v, rl, 0.5, 1.0, 1.5) AS grade
        FROM rows WHERE test = 'anc'
    UNION ALL SELECT patient_id, 'platelet_count_decreased', lowg(v, rl, 25, 50, 75)
        FROM rows WHERE test = 'platelets'
    UNION ALL SELECT patient_id, 'anemia',
        CASE WHEN v IS NULL THEN NULL WHEN v < 80 THEN 3 WHEN v < 100 THEN 2
             WHEN rl IS NULL THEN NULL WHEN rl < 1 THEN 1 ELSE 0 END
        FROM rows WHERE test = 'hemoglobin'
    UNION ALL SELECT patient_id, 'white_blood_cell_decreased', lowg(v, rl, 1.0, 2.0, 3.0)
        FROM rows WHERE test = 'wbc'
    UNION ALL SELECT patient_id, 'lymphocyte_count_decreased', lowg(v, rl, 0.2, 0.5, 0.8)
        FROM rows WHERE test = 'alc'
    UNION ALL SELECT patient_id, 'alanine_aminotransferase_increased',
        liver(ru, rb, abnormal, 20, 5, 3, 1, 20, 5, 3, 1.5, true) FROM rows WHERE test = 'alt'
    UNION ALL SELECT patient_id, 'aspartate_aminotransferase_increased',
        liver(ru, rb, abnormal, 20, 5, 3, 1, 20, 5, 3, 1.5, true) FROM rows WHERE test = 'ast'
    UNION ALL SELECT patient_id, 'blood_bilirubin_increased',
        liver(ru, rb, abnormal, 10, 3, 1.5, 1, 10, 3, 1.5, 1.0, false)
        FROM rows WHERE test = 'bilirubin'
    UNION ALL SELECT patient_id, 'creatinine_increased',
        -- the certain grade; not gradable when none >= 1 is certain while one is possible
        CASE WHEN (CASE WHEN ru > 6 THEN 4 WHEN ru > 3 OR rb > 3 THEN 3
                        WHEN ru > 1.5 OR rb > 1.5 THEN 2 WHEN ru > 1 THEN 1 ELSE 0 END) = 0
                  AND (CASE WHEN coalesce(ru > 6, true) THEN 4
                            WHEN coalesce(ru > 3 OR rb > 3, true) THEN 3
                            WHEN coalesce(ru > 1.5 OR rb > 1.5, true) THEN 2
                            WHEN coalesce(ru > 1, true) THEN 1 ELSE 0 END) > 0 THEN NULL
             ELSE (CASE WHEN ru > 6 THEN 4 WHEN ru > 3 OR rb > 3 THEN 3
                        WHEN ru > 1.5 OR rb > 1.5 THEN 2 WHEN ru > 1 THEN 1 ELSE 0 END) END
        FROM rows WHERE test = 'creatinine'
    UNION ALL SELECT patient_id, 'hyperkalemia', highg(v, ru, 7.0, 6.0, 5.5)
        FROM rows WHERE test = 'potassium'
    UNION ALL SELECT patient_id, 'hypokalemia',
        CASE WHEN v IS NULL THEN NULL WHEN v < 2.5 THEN 4 WHEN v < 3.0 THEN 3
             WHEN rl IS NULL THEN NULL WHEN rl < 1 THEN 2 ELSE 0 END
        FROM rows WHERE test = 'potassium')
SELECT patient_id, term_id, max(grade) AS worst_grade, count(*) AS "values",
       count(*) FILTER (WHERE grade IS NULL) AS not_gradable
FROM graded GROUP BY ALL;
"""

SQL_DAYS = """
CREATE OR REPLACE TEMP TABLE days_out AS
SELECT l.patient_id, l.test,
       count(DISTINCT l.day) FILTER (WHERE s15(l.value * f.factor)
            < CASE l.test WHEN 'anc' THEN 0.5 ELSE 20.0 END) AS below,
       count(DISTINCT l.day) AS measured
FROM read_parquet('{files}') l JOIN factors f ON l.test = f.test AND l.unit = f.unit
WHERE l.test IN ('anc', 'platelets') AND l.day BETWEEN {start} AND {end}
GROUP BY ALL;
"""


def run_sql(folder: Path, threads: int, memory: str) -> tuple[Any, Any]:
    import duckdb

    from bvall.cohort.units import unit_factor_table

    con = duckdb.connect()
    con.execute(_duckdb_config(threads, memory, folder.parent / "tmp"))
    con.register("factors_arrow", unit_factor_table())
    con.execute("CREATE TEMP TABLE factors AS SELECT * FROM factors_arrow")
    files = str(folder / "*.parquet")
    start, end = WINDOW
    con.execute(SQL_GRADES.format(files=files, start=start, end=end))
    con.execute(SQL_DAYS.format(files=files, start=start, end=end))
    return con.sql("SELECT * FROM grades_out").to_arrow_table(), con.sql(
        "SELECT * FROM days_out"
    ).to_arrow_table()


# --- pandas -------------------------------------------------------------------------------------


def run_pandas(folder: Path, threads: int, memory: str) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from bvall.cohort.units import unit_factor_table

    def s15(x: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            e = np.floor(np.log10(np.where(x == 0, 1.0, np.abs(x))))
            scale = 10.0 ** (14 - e)
            return np.round(x * scale) / scale

    def ratio(x: Any, limit: Any) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(limit > 0, s15(x / limit), np.nan)

    # Columns as NumPy arrays (dictionary codes for the strings): a DataFrame of 10^8 Python
    # strings would not fit in memory.
    t = pq.read_table(
        folder, columns=["patient_id", "test", "value", "unit", "ref_low", "ref_high", "day"]
    ).unify_dictionaries()

    def codes(table: Any, col: str) -> tuple[Any, list[str]]:
        chunks = table[col].chunks
        idx = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunks])
        return idx.astype(np.int64), chunks[0].dictionary.to_pylist()

    pid, pid_names = codes(t, "patient_id")
    test, test_names = codes(t, "test")
    unit, unit_names = codes(t, "unit")
    value = t["value"].to_numpy()
    ref_low = t["ref_low"].to_numpy()
    ref_high = t["ref_high"].to_numpy()
    day = t["day"].to_numpy()
    del t
    lut = np.full((len(test_names), len(unit_names)), np.nan)
    for row in unit_factor_table().to_pylist():
        if row["test"] in test_names and row["unit"] in unit_names:
            lut[test_names.index(row["test"]), unit_names.index(row["unit"])] = row["factor"]
    factor = lut[test, unit]
    v_all = s15(value * factor)
    lln_all = s15(ref_low * factor)
    uln_all = s15(ref_high * factor)
    del value, ref_low, ref_high
    # Baseline: the last value on or before day 0 of each patient and test.
    nt = len(test_names)
    key = pid * nt + test
    cand = np.nonzero((day <= 0) & ~np.isnan(factor))[0]
    order = cand[np.lexsort((day[cand], key[cand]))]
    last = order[np.r_[key[order][1:] != key[order][:-1], True]]
    base_v = np.full(len(pid_names) * nt, np.nan)
    base_u = np.full(len(pid_names) * nt, np.nan)
    base_v[key[last]] = v_all[last]
    base_u[key[last]] = uln_all[last]
    in_window = (day >= WINDOW[0]) & (day <= WINDOW[1])
    nan = np.nan
    terms = {
        "neutrophil_count_decreased": ("anc", "low", (0.5, 1.0, 1.5)),
        "platelet_count_decreased": ("platelets", "low", (25, 50, 75)),
        "anemia": ("hemoglobin", "anemia", ()),
        "white_blood_cell_decreased": ("wbc", "low", (1.0, 2.0, 3.0)),
        "lymphocyte_count_decreased": ("alc", "low", (0.2, 0.5, 0.8)),
        "alanine_aminotransferase_increased": (
            "alt",
            "liver",
            ((20, 5, 3, 1), (20, 5, 3, 1.5), True),
        ),
        "aspartate_aminotransferase_increased": (
            "ast",
            "liver",
            ((20, 5, 3, 1), (20, 5, 3, 1.5), True),
        ),
        "blood_bilirubin_increased": (
            "bilirubin",
            "liver",
            ((10, 3, 1.5, 1), (10, 3, 1.5, 1.0), False),
        ),
        "creatinine_increased": ("creatinine", "creatinine", ()),
        "hyperkalemia": ("potassium", "high", (7.0, 6.0, 5.5)),
        "hypokalemia": ("potassium", "hypokalemia", ()),
    }

    def grade_term(w: Any, kind: str, args: tuple[Any, ...]) -> Any:
        """Grades (NaN = not gradable) of the rows ``w``, all of one test."""
        v = v_all[w]
        rl = ratio(v, lln_all[w])
        ru = ratio(v, uln_all[w])
        bv, bu = base_v[key[w]], base_u[key[w]]
        rb = ratio(v, bv)
        abnormal = np.where(np.isnan(bv) | np.isnan(bu), nan, (bv > bu).astype(float))
        vn = np.isnan(v)

        def cascade(steps: list[tuple[Any, Any, int | None]]) -> Any:
            """(holds, unknown, grade) from the most severe down; unknown first -> not gradable."""
            out = np.full(len(v), 0.0)
            done = np.zeros(len(v), dtype=bool)
            for holds, unknown, grade in steps:
                if unknown is not None:
                    hit = unknown & ~done
                    out[hit] = nan
                    done |= hit
                if holds is not None:
                    hit = holds & ~done
                    out[hit] = nan if grade is None else grade
                    done |= hit
            return out

        def tri(cond: Any, *inputs: Any) -> Any:
            """A comparison as 1.0 / 0.0, NaN when an input is NaN."""
            unknown = np.zeros(len(v), dtype=bool)
            for x in inputs:
                unknown |= np.isnan(x)
            return np.where(unknown, nan, cond.astype(float))

        def and3(a: Any, b: Any) -> Any:
            return np.where((a == 0) | (b == 0), 0.0, np.where(np.isnan(a) | np.isnan(b), nan, 1.0))

        def or3(a: Any, b: Any) -> Any:
            return np.where((a == 1) | (b == 1), 1.0, np.where(np.isnan(a) | np.isnan(b), nan, 0.0))

        if kind == "low":
            t4, t3, t2 = args
            return cascade(
                [
                    (None, vn, None),
                    (v < t4, None, 4),
                    (v < t3, None, 3),
                    (v < t2, None, 2),
                    (None, np.isnan(rl), None),
                    (rl < 1, None, 1),
                ]
            )
        if kind == "high":
            t4, t3, t2 = args
            return cascade(
                [
                    (None, vn, None),
                    (v > t4, None, 4),
                    (v > t3, None, 3),
                    (v > t2, None, 2),
                    (None, np.isnan(ru), None),
                    (ru > 1, None, 1),
                ]
            )
        if kind == "liver":
            u, b, incl = args
            not_ab = np.where(np.isnan(abnormal), nan, 1.0 - abnormal)
            steps: list[tuple[Any, Any, int | None]] = []
            for i, grade in enumerate((4, 3, 2, 1)):
                by_base = (rb >= b[i]) if (incl and grade == 1) else (rb > b[i])
                c = or3(and3(tri(ru > u[i], ru), not_ab), and3(tri(by_base, rb), abnormal))
                steps += [(c == 1, None, grade), (None, np.isnan(c), None)]
            return cascade(steps)
        if kind == "creatinine":
            # the certain grade (criteria that hold) unless none >= 1 is certain while a
            # higher one is possible (criteria that hold or are unknown): not gradable
            levels = [
                (4, tri(ru > 6, ru)),
                (3, or3(tri(ru > 3, ru), tri(rb > 3, rb))),
                (2, or3(tri(ru > 1.5, ru), tri(rb > 1.5, rb))),
                (1, tri(ru > 1, ru)),
            ]
            certain = np.select([c == 1 for _, c in levels], [g for g, _ in levels], 0.0)
            possible = np.select([c != 0 for _, c in levels], [g for g, _ in levels], 0.0)
            return np.where((certain == 0) & (possible > 0), nan, certain)
        if kind == "anemia":
            return cascade(
                [
                    (None, vn, None),
                    (v < 80, None, 3),
                    (v < 100, None, 2),
                    (None, np.isnan(rl), None),
                    (rl < 1, None, 1),
                ]
            )
        return cascade(  # hypokalemia
            [
                (None, vn, None),
                (v < 2.5, None, 4),
                (v < 3.0, None, 3),
                (None, np.isnan(rl), None),
                (rl < 1, None, 2),
            ]
        )

    parts = []
    for term_no, (name, kind, args) in enumerate(terms.values()):
        w = np.nonzero(in_window & (test == test_names.index(name)))[0]
        parts.append(pd.DataFrame({"p": pid[w], "t": term_no, "grade": grade_term(w, kind, args)}))
    g = pd.concat(parts, ignore_index=True)
    del parts
    g["ng"] = g["grade"].isna()
    worst = (
        g.groupby(["p", "t"], sort=False)
        .agg(worst_grade=("grade", "max"), values=("grade", "size"), not_gradable=("ng", "sum"))
        .reset_index()
    )
    term_names = list(terms)
    worst = pd.DataFrame(
        {
            "patient_id": np.asarray(pid_names, dtype=object)[worst["p"].to_numpy()],
            "term_id": np.asarray(term_names, dtype=object)[worst["t"].to_numpy()],
            "worst_grade": worst["worst_grade"],
            "values": worst["values"],
            "not_gradable": worst["not_gradable"],
        }
    )
    anc, plt = test_names.index("anc"), test_names.index("platelets")
    m = (
        ((test == anc) | (test == plt))
        & ~np.isnan(factor)
        & (day >= WINDOW[0])
        & (day <= WINDOW[1])
    )
    limit = np.where(test[m] == anc, 0.5, 20.0)
    c = pd.DataFrame({"p": pid[m], "t": test[m], "day": day[m], "low": v_all[m] < limit})
    days = c.groupby(["p", "t"], sort=False).agg(measured=("day", "nunique")).reset_index()
    below = c[c["low"]].groupby(["p", "t"], sort=False)["day"].nunique().rename("below")
    days = days.merge(below.reset_index(), on=["p", "t"], how="left").fillna({"below": 0})
    days = pd.DataFrame(
        {
            "patient_id": np.asarray(pid_names, dtype=object)[days["p"].to_numpy()],
            "test": np.asarray(test_names, dtype=object)[days["t"].to_numpy()],
            "below": days["below"].astype("int64"),
            "measured": days["measured"],
        }
    )
    return pa.Table.from_pandas(worst, preserve_index=False), pa.Table.from_pandas(
        days, preserve_index=False
    )


ENGINES = {"bvall": run_bvall, "sql": run_sql, "pandas": run_pandas}


WARM = {
    "bvall": ("ibis", "bvall.criteria.grading", "bvall.criteria.labs", "bvall.criteria.summaries"),
    "sql": ("duckdb", "bvall.cohort.units"),
    "pandas": ("pandas", "pyarrow.parquet", "bvall.cohort.units"),
}


def _child(engine: str, folder: str, threads: int, memory: str, queue: Any) -> None:
    import importlib

    try:
        for module in WARM[engine]:  # imports are not part of the timing
            importlib.import_module(module)
        start = time.perf_counter()
        worst, days = ENGINES[engine](Path(folder), threads, memory)
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put((seconds, peak_mb, _canonical(worst, days)))
    except BaseException as exc:  # report, do not leave the parent waiting
        queue.put(exc)
        raise


def _canonical(worst: Any, days: Any) -> tuple[Any, ...]:
    """A comparable summary of both outputs (sorted rows; NULL grades as -1)."""
    import pyarrow.compute as pc

    w = worst.select(["patient_id", "term_id", "worst_grade", "values", "not_gradable"])
    w = w.set_column(2, "worst_grade", pc.fill_null(pc.cast(w["worst_grade"], "int64"), -1))
    w = w.cast(
        __import__("pyarrow").schema(
            [
                ("patient_id", "string"),
                ("term_id", "string"),
                ("worst_grade", "int64"),
                ("values", "int64"),
                ("not_gradable", "int64"),
            ]
        )
    ).sort_by([("patient_id", "ascending"), ("term_id", "ascending")])
    d = (
        days.select(["patient_id", "test", "below", "measured"])
        .cast(
            __import__("pyarrow").schema(
                [
                    ("patient_id", "string"),
                    ("test", "string"),
                    ("below", "int64"),
                    ("measured", "int64"),
                ]
            )
        )
        .sort_by([("patient_id", "ascending"), ("test", "ascending")])
    )
    if w.num_rows <= 200_000:
        return ("rows", w.to_pylist(), d.to_pylist())
    grades = pc.value_counts(w["worst_grade"]).to_pylist()
    return (
        "digest",
        w.num_rows,
        sorted((x["values"], x["counts"]) for x in grades),
        pc.sum(w["values"]).as_py(),
        pc.sum(w["not_gradable"]).as_py(),
        d.num_rows,
        pc.sum(d["below"]).as_py(),
        pc.sum(d["measured"]).as_py(),
    )


def _in_process(engine: str, target: Any, args: tuple[Any, ...]) -> Any:
    """Run ``target(*args, queue)`` in a fresh process and return what it puts on the queue;
    the child's failure (including being killed) is an error naming ``engine``."""
    import queue as queues

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    while True:
        try:
            result = q.get(timeout=5)
            break
        except queues.Empty:
            if not p.is_alive():
                raise RuntimeError(f"{engine} died (exit code {p.exitcode})") from None
    p.join()
    if isinstance(result, BaseException):
        raise RuntimeError(f"{engine} failed: {result}") from result
    return result


def run(engine: str, folder: Path, threads: int, memory: str) -> tuple[float, float, Any]:
    """Run one engine in a fresh process; its failure (including being killed) is an error."""
    result: tuple[float, float, Any] = _in_process(
        engine, _child, (engine, str(folder), threads, memory)
    )
    return result


# --- the same plans on DuckDB and on Spark (--engine spark) -----------------------------------

#: What the Spark comparison derives: the worst grade per patient and term, which grades every
#: lab value first (the ``grades`` step of its plan).
PLAN_DERIVATION = "worst_grades"
REGISTRY_FEATURES = {"labs_qualified": False, "complete": [], "lab_form": "compiled"}


def _registry_patients(n: int) -> dict[str, Any]:
    """Patients and their induction course for the registry's ``n`` patients (its ids)."""
    return registry_patients([f"R{i:07d}" for i in range(n)])


def _typed_cohort(tables: dict[str, Any]) -> Any:
    """A cohort of ``tables`` cast to the cohort schema, without bvall's import validation.

    Spark reads the registry's Parquet files as they are, so DuckDB is given the same tables
    unvalidated: the comparison is of the plans, not of the import gate (whose row checks take
    about 30 s per 6 x 10^6 values)."""
    import pyarrow as pa

    from bvall.cohort import Cohort
    from bvall.cohort.model import CohortMetadata
    from bvall.cohort.schema import TABLES

    typed = {}
    for name, spec in TABLES.items():
        schema = spec.arrow_schema
        table = tables.get(name, schema.empty_table())
        typed[name] = pa.Table.from_arrays(
            [
                table[f.name].cast(f.type)
                if f.name in table.column_names
                else pa.nulls(table.num_rows, f.type)
                for f in schema
            ],
            schema=schema,
        )
    return Cohort(typed, CohortMetadata(name="registry"))


def run_plan_duckdb(folder: Path, n: int, master: str) -> Any:
    """The plan on in-process DuckDB, from the registry read into Arrow."""
    import pyarrow.parquet as pq

    from bvall.criteria.plans import load_plan, plan_features, run_plan

    labs = registry_labs(pq.read_table(folder))
    cohort = _typed_cohort({**_registry_patients(n), "labs": labs})
    features = plan_features(cohort)
    return run_plan(load_plan(PLAN_DERIVATION, features, backend="duckdb"), cohort)


def run_plan_spark(folder: Path, n: int, master: str) -> Any:
    """The plan compiled for Spark SQL, reading the registry's Parquet files in Spark and
    writing its result as Parquet (as a registry run does, ``--out DIR --format parquet``):
    collecting 10^6 result rows into the driver would need more than its 2 GB heap. The files
    are read back for the digest, outside the timing."""
    import shutil

    from pyspark.sql import functions as F  # noqa: N812

    from bvall.criteria import spark as bv_spark
    from bvall.criteria.plans import load_plan

    session = bv_spark.session(master)
    raw = session.read.parquet(str(folder))
    tables = {name: bv_spark.dataframe(session, t) for name, t in _registry_patients(n).items()}
    tables["labs"] = raw.withColumnRenamed("day", "study_day").withColumn(
        "patient_id", F.col("patient_id").cast("string")
    )
    plan = load_plan(PLAN_DERIVATION, REGISTRY_FEATURES, backend="spark")
    out = folder.parent / f"{folder.name}-spark-{PLAN_DERIVATION}"
    shutil.rmtree(out, ignore_errors=True)
    return bv_spark.write_parquet(plan, tables, out, session)


def _plan_digest(table: Any) -> tuple[int, str]:
    """Rows and a SHA-256 of the result's rows after sorting (Arrow IPC of the sorted table)."""
    import hashlib

    import pyarrow as pa

    keys = [(f.name, "ascending") for f in table.schema if not pa.types.is_nested(f.type)]
    ordered = table.sort_by(keys).combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, ordered.schema) as writer:
        writer.write_table(ordered, max_chunksize=1 << 16)
    return ordered.num_rows, hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


PLAN_ENGINES = {"duckdb": run_plan_duckdb, "spark": run_plan_spark}


def _plan_child(engine: str, folder: str, n: int, master: str, queue: Any) -> None:
    try:
        import bvall.criteria.plans  # noqa: F401 - imports are not part of the timing

        if engine == "spark":
            from bvall.criteria import spark as bv_spark

            bv_spark.session(master)  # nor is starting the session (~10-20 s)
        start = time.perf_counter()
        table = PLAN_ENGINES[engine](Path(folder), n, master)
        seconds = time.perf_counter() - start
        if isinstance(table, Path):  # written as Parquet: read with the plan's column types
            import pyarrow.parquet as pq

            from bvall.criteria.plans import _typed, load_plan

            step = load_plan(PLAN_DERIVATION, REGISTRY_FEATURES, backend=engine).steps[-1]
            table = _typed(pq.read_table(table).select(step.schema.names), step)
        queue.put((seconds, _plan_digest(table)))
    except BaseException as exc:
        queue.put(exc)
        raise


def run_plans(engine: str, folder: Path, n: int, master: str) -> tuple[float, Any]:
    """One engine's run of the plan in a fresh process (plans come from the plan cache)."""
    result: tuple[float, Any] = _in_process(engine, _plan_child, (engine, str(folder), n, master))
    return result


def main_spark(sizes: list[int], data: Path, master: str) -> None:
    """``--engine spark``: the worst-grades plan on DuckDB and on Spark (``master``), timed and
    compared by digest, with the growth of each engine's time from one size to the next."""
    from bvall.criteria.plans import load_plan

    for backend in PLAN_ENGINES:  # build (or load) the plans once, outside the timing
        load_plan(PLAN_DERIVATION, REGISTRY_FEATURES, backend=backend)
    print(f"# machine: {mp.cpu_count()} cores; Spark master {master}; plan {PLAN_DERIVATION}")
    print(
        "| patients | rows | engine | seconds | ratio to duckdb | growth | result rows | digest |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    previous: dict[str, tuple[int, float]] = {}
    for n in sizes:
        folder = data / f"n{n}"
        if not (folder / "_COMPLETE").exists():
            write_registry(n, folder)
        rows = n * 60 * 10
        results = {}
        for engine in PLAN_ENGINES:
            # An engine that fails (killed for memory: exit code -9) is reported; the other
            # still runs.
            try:
                results[engine] = run_plans(engine, folder, n, master)
            except RuntimeError as exc:
                print(f"| {n:,} | {rows:,} | {engine} | {exc} | - | - | - | - |", flush=True)
        base = results.get("duckdb")
        for engine, (seconds, (count, digest)) in results.items():
            ratio = f"{seconds / base[0]:.2f}" if base else "-"
            growth = "-"
            if engine in previous:
                m, s = previous[engine]
                growth = f"{seconds / s:.1f}x for {n / m:.0f}x patients"
            previous[engine] = (n, seconds)
            print(
                f"| {n:,} | {rows:,} | {engine} | {seconds:.1f} | {ratio} | {growth} | "
                f"{count:,} | {digest[:16]} |",
                flush=True,
            )
        if len(results) < len(PLAN_ENGINES):
            print(f"<!-- not compared: only {', '.join(results) or 'none'} ran -->", flush=True)
            continue
        same = len({d for _s, d in results.values()}) == 1
        print(f"<!-- identical on duckdb and spark: {same} -->", flush=True)
        if not same:
            raise SystemExit("outputs differ between engines")


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark CTCAE grading on a registry.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--data", type=Path, default=Path("/tmp/bvall-registry"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default="12GB")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per engine up to 10^5 patients (best kept)"
    )
    parser.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="spark: the worst-grades plan on DuckDB and on Spark, compared by digest",
    )
    parser.add_argument("--spark-master", default="local[2]")
    args = parser.parse_args()
    if args.engine == "spark":
        main_spark(args.sizes, args.data, args.spark_master)
        return
    print(
        f"# machine: {mp.cpu_count()} cores; DuckDB threads={args.threads}, "
        f"memory_limit={args.memory_limit}; best of {args.repeat} runs up to 10^5 patients"
    )
    print("| patients | rows | engine | seconds | peak RSS (MB) | ratio to sql | rows/s |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for n in args.sizes:
        folder = args.data / f"n{n}"
        if not (folder / "_COMPLETE").exists():
            t0 = time.perf_counter()
            write_registry(n, folder)
            print(
                f"<!-- generated {n} patients in {time.perf_counter() - t0:.0f} s -->", flush=True
            )
        rows = n * 60 * 10
        results: dict[str, tuple[float, float, Any]] = {}
        engines = [e for e in args.engines if not (e == "pandas" and rows > PANDAS_MAX_ROWS)]
        if len(engines) < len(args.engines):
            print(f"| {n:,} | {rows:,} | pandas | not run (memory) | - | - | - |", flush=True)
        # Engines take turns, so load from other processes on the machine falls on all of them;
        # each keeps its best time and its highest peak memory.
        repeat = args.repeat if rows <= REPEAT_MAX_ROWS else 1
        for _ in range(repeat):
            for engine in list(engines):
                try:
                    r = run(engine, folder, args.threads, args.memory_limit)
                except RuntimeError as exc:
                    print(f"| {n:,} | {rows:,} | {engine} | {exc} | - | - | - |", flush=True)
                    engines.remove(engine)
                    results.pop(engine, None)
                    continue
                best = results.get(engine)
                results[engine] = (min(r[0], best[0]), max(r[1], best[1]), r[2]) if best else r
        digests = {e: r[2] for e, r in results.items()}
        same = len({repr(d) for d in digests.values()}) == 1
        sql_s = results["sql"][0] if "sql" in results else None
        for engine, (seconds, peak, _d) in results.items():
            ratio = f"{seconds / sql_s:.2f}" if sql_s else "-"
            print(
                f"| {n:,} | {rows:,} | {engine} | {seconds:.2f} | {peak:,.0f} | {ratio} | "
                f"{rows / seconds:,.0f} |",
                flush=True,
            )
        print(f"<!-- outputs identical across {', '.join(results)}: {same} -->", flush=True)
        if not same:
            for engine, d in digests.items():
                print(f"<!-- {engine}: {str(d)[:300]} -->")
            raise SystemExit("outputs differ between engines")


if __name__ == "__main__":
    main()
