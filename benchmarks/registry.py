"""A synthetic lab registry for the grading benchmark: N patients x 60 days x 10 lab tests.

Trajectories follow an induction course: counts (ANC, platelets, WBC, lymphocytes) fall to a
nadir between D6 and D18 and recover, haemoglobin drifts down and back, a quarter of patients have
a transaminase rise, a few a bilirubin or creatinine rise, potassium wanders around 4.1 mmol/L.
Study days -5 to 54 (baseline days before D1 included). Some values come in other accepted units
(/µL, g/dL, mg/dL, IU/L) and 0.5 % of rows lack a reference range, so unit conversion and
not-gradable values are exercised. Written as Parquet files of ``chunk`` patients each.

Deterministic for a given seed: ``python benchmarks/registry.py 10000 /tmp/registry``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

DAYS = np.arange(-5, 55)
TESTS = (
    "anc",
    "platelets",
    "hemoglobin",
    "wbc",
    "alc",
    "alt",
    "ast",
    "bilirubin",
    "creatinine",
    "potassium",
)
#: canonical unit, (male LLN, ULN), (female LLN, ULN), alternative unit and its factor
SPEC = {
    "anc": ("10^9/L", (1.8, 6.3), (1.8, 6.3), "/µL", 0.001),
    "platelets": ("10^9/L", (125.0, 350.0), (125.0, 350.0), "/µL", 0.001),
    "hemoglobin": ("g/L", (130.0, 175.0), (115.0, 150.0), "g/dL", 10.0),
    "wbc": ("10^9/L", (3.5, 9.5), (3.5, 9.5), "10^3/µL", 1.0),
    "alc": ("10^9/L", (1.1, 3.2), (1.1, 3.2), "/µL", 0.001),
    "alt": ("U/L", (9.0, 50.0), (7.0, 40.0), "IU/L", 1.0),
    "ast": ("U/L", (15.0, 40.0), (13.0, 35.0), "IU/L", 1.0),
    "bilirubin": ("µmol/L", (3.4, 20.5), (3.4, 20.5), "mg/dL", 17.1),
    "creatinine": ("µmol/L", (57.0, 111.0), (41.0, 81.0), "mg/dL", 88.4),
    "potassium": ("mmol/L", (3.5, 5.3), (3.5, 5.3), "mEq/L", 1.0),
}


def _dip(days: np.ndarray, nadir_day: np.ndarray, width: np.ndarray) -> np.ndarray:
    """0 before the fall, 1 at the nadir plateau, back to 0 after recovery (patients x days)."""
    x = (days[None, :] - nadir_day[:, None]) / width[:, None]
    return np.clip(1.5 - np.abs(x), 0.0, 1.0)


def _bump(days: np.ndarray, peak_day: np.ndarray, width: float = 3.0) -> np.ndarray:
    return np.exp(-(((days[None, :] - peak_day[:, None]) / width) ** 2))


def chunk_table(first_id: int, n: int, rng: np.random.Generator) -> pa.Table:
    """One chunk of patients as a long table (n x 60 x 10 rows)."""
    d = len(DAYS)
    female = rng.random(n) < 0.45
    nadir = rng.uniform(6, 18, n)
    width = rng.uniform(3, 9, n)
    dip = _dip(DAYS, nadir, width)

    def noise(s: float) -> np.ndarray:
        return rng.normal(0.0, s, (n, d))

    anc0 = np.exp(rng.normal(math.log(1.8), 0.5, n))
    anc_low = np.exp(rng.normal(math.log(0.25), 0.9, n))
    anc = np.exp(np.log(anc0)[:, None] * (1 - dip) + np.log(anc_low)[:, None] * dip + noise(0.12))
    plt0 = np.exp(rng.normal(math.log(120), 0.6, n))
    plt_low = np.exp(rng.normal(math.log(35), 0.8, n))
    plt = np.exp(np.log(plt0)[:, None] * (1 - dip) + np.log(plt_low)[:, None] * dip + noise(0.1))
    hb = rng.normal(95, 15, n)[:, None] - 12 * dip + noise(3.0)
    alc = np.exp(rng.normal(math.log(0.9), 0.4, n))[:, None] * np.exp(noise(0.15))
    wbc = anc + alc + 0.3 + np.abs(noise(0.1))
    spike = (rng.random(n) < 0.25)[:, None] * _bump(DAYS, rng.uniform(5, 25, n))
    alt = np.exp(rng.normal(math.log(25), 0.4, n))[:, None] * (1 + 6 * spike) * np.exp(noise(0.08))
    ast = np.exp(rng.normal(math.log(24), 0.35, n))[:, None] * (1 + 3 * spike) * np.exp(noise(0.08))
    bili_spike = (rng.random(n) < 0.05)[:, None] * _bump(DAYS, rng.uniform(5, 30, n))
    bili = np.exp(rng.normal(math.log(10), 0.4, n))[:, None] * (1 + 4 * bili_spike)
    aki = (rng.random(n) < 0.05)[:, None] * _bump(DAYS, rng.uniform(5, 30, n), 5.0)
    creat = rng.normal(75, 15, n)[:, None] * (1 + 1.5 * aki) * np.exp(noise(0.05))
    k = rng.normal(4.1, 0.35, (n, d))
    values = {
        "anc": anc,
        "platelets": plt,
        "hemoglobin": np.clip(hb, 30, 200),
        "wbc": wbc,
        "alc": alc,
        "alt": alt,
        "ast": ast,
        "bilirubin": bili,
        "creatinine": np.clip(creat, 20, 2000),
        "potassium": np.clip(k, 2.0, 7.5),
    }
    ids = pa.array([f"R{first_id + i:07d}" for i in range(n)])
    units = sorted({u for spec in SPEC.values() for u in (spec[0], spec[3])})
    unit_code = {u: i for i, u in enumerate(units)}
    cols: dict[str, list[np.ndarray]] = {
        c: [] for c in ("patient", "test", "value", "unit", "ref_low", "ref_high", "day")
    }
    for t_code, test in enumerate(TESTS):
        unit, male, fem, alt_unit, factor = SPEC[test]
        low = np.where(female, fem[0], male[0])
        high = np.where(female, fem[1], male[1])
        other = rng.random(n) < 0.05  # this patient's laboratory reports in another unit
        scale = np.where(other, 1.0 / factor, 1.0)
        v = np.round(values[test] * scale[:, None], 3)
        lo = np.repeat(low * scale, d)
        hi = np.repeat(high * scale, d)
        missing = rng.random(n * d) < 0.005
        lo[missing] = np.nan
        hi[missing] = np.nan
        cols["patient"].append(np.repeat(np.arange(n, dtype=np.int32), d))
        cols["test"].append(np.full(n * d, t_code, dtype=np.int32))
        cols["value"].append(v.reshape(-1))
        codes = np.where(other, unit_code[alt_unit], unit_code[unit]).astype(np.int32)
        cols["unit"].append(np.repeat(codes, d))
        cols["ref_low"].append(lo)
        cols["ref_high"].append(hi)
        cols["day"].append(np.tile(DAYS, n))
    arrays = {c: np.concatenate(parts) for c, parts in cols.items()}
    # Dictionary-encoded strings: the patient id, test and unit columns as a laboratory system
    # would export them, without building 10^8 Python strings.
    return pa.table(
        {
            "patient_id": pa.DictionaryArray.from_arrays(arrays["patient"], ids),
            "test": pa.DictionaryArray.from_arrays(arrays["test"], pa.array(TESTS)),
            "value": pa.array(arrays["value"]),
            "unit": pa.DictionaryArray.from_arrays(arrays["unit"], pa.array(units)),
            "ref_low": pa.array(arrays["ref_low"], from_pandas=True),
            "ref_high": pa.array(arrays["ref_high"], from_pandas=True),
            "day": pa.array(arrays["day"], type=pa.int64()),
        }
    )


def write_registry(
    n_patients: int, folder: Path, *, seed: int = 20240301, chunk: int = 25_000
) -> int:
    """Write the registry of ``n_patients`` into ``folder`` (Parquet parts); returns rows."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    for part, first in enumerate(range(0, n_patients, chunk)):
        n = min(chunk, n_patients - first)
        table = chunk_table(first, n, np.random.default_rng(seed + part))
        pq.write_table(table, folder / f"part-{part:05d}.parquet", compression="zstd")
        rows += table.num_rows
    (folder / "_COMPLETE").write_text(f"{n_patients} {rows}\n", encoding="utf-8")
    return rows


def registry_patients(ids: list[str]) -> dict[str, pa.Table]:
    """Patients and their induction course (concurrent arm, D1 = 2024-01-10) for ``ids``."""
    import datetime as dt

    n = len(ids)
    patients = pa.table(
        {
            "patient_id": ids,
            "sex": ["F" if i % 2 else "M" for i in range(n)],
            "age_years": [40 + i % 40 for i in range(n)],
            "diagnosis": ["b_all_ph_negative"] * n,
            "arm": ["concurrent"] * n,
        }
    )
    courses = pa.table(
        {
            "patient_id": ids,
            "course_id": ["IND"] * n,
            "course_type": ["induction"] * n,
            "regimen": ["bv-concurrent"] * n,
            "course_number": [1] * n,
            "start_date": [dt.date(2024, 1, 10)] * n,
        }
    )
    return {"patients": patients, "treatment_courses": courses}


def registry_labs(raw: pa.Table) -> pa.Table:
    """Registry rows (``chunk_table`` or its Parquet files) as bvall's ``labs`` table."""
    return pa.table(
        {
            "patient_id": raw["patient_id"].cast(pa.string()),
            "test": raw["test"].cast(pa.string()),
            "value": raw["value"],
            "unit": raw["unit"].cast(pa.string()),
            "ref_low": raw["ref_low"],
            "ref_high": raw["ref_high"],
            "study_day": raw["day"],
        }
    )


def registry_cohort(n_patients: int, *, seed: int = 20240301) -> object:
    """The first ``n_patients`` of the registry as a validated bvall cohort: their labs, and an
    induction course of the concurrent arm starting on 2024-01-10 (D1)."""
    import pyarrow.compute as pc

    from bvall.cohort import Cohort

    labs = registry_labs(chunk_table(0, n_patients, np.random.default_rng(seed)))
    ids = pc.unique(labs["patient_id"]).to_pylist()
    return Cohort.from_tables({**registry_patients(ids), "labs": labs}, {"name": "registry-sample"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("patients", type=int)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--seed", type=int, default=20240301)
    args = parser.parse_args()
    rows = write_registry(args.patients, args.folder, seed=args.seed)
    print(f"wrote {rows:,} rows to {args.folder}")


if __name__ == "__main__":
    main()
