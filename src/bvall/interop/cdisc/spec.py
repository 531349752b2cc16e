"""The CDISC specification bvall writes to, kept as data.

``data/datasets.toml`` names every dataset (standard, class, structure, keys), ``data/
variables.csv`` every variable (label, type, origin, source and the bvall criteria file that
derives it), ``data/terminology.toml`` the controlled terms. :func:`conform_dataset` turns a
built frame into exactly the specified columns, in order, and checks the structural rules of
SAS XPORT v5 and the CDISC guides: names ≤ 8 characters, labels ≤ 40, character values ≤ 200
ASCII characters, ISO 8601 ``--DTC`` values.

Variable types: ``text`` and ``datetime`` (ISO 8601 text) are SAS character variables;
``integer``, ``float`` and ``date`` (days since 1960-01-01, format DATE9.) are numeric.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import pandas as pd

from bvall.errors import SpecError

VariableType = Literal["text", "integer", "float", "date", "datetime"]
TYPES: tuple[str, ...] = ("text", "integer", "float", "date", "datetime")
ORIGINS: tuple[str, ...] = ("Collected", "Derived", "Assigned", "Predecessor", "Protocol")

#: XPT v5 and SDTMIG/ADaMIG limits.
MAX_NAME, MAX_LABEL, MAX_TEXT = 8, 40, 200

#: ISO 8601 date, date-time to minutes, or a partial date (year, year-month).
ISO_8601 = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2})?)?)?)?$")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,7}$")
SYNTHETIC_MARK = " (SYNTHETIC)"


@dataclass(frozen=True)
class Variable:
    """One variable: name, label, type, origin (define.xml def:Origin), where its values come
    from, and the bvall criteria files (``rules``) that derive it."""

    dataset: str
    name: str
    label: str
    type: VariableType
    origin: str
    source: str
    rules: tuple[str, ...] = ()
    codelist: str = ""

    @property
    def codelist_id(self) -> str:
        """The define.xml code list of the variable (``""``: none)."""
        return self.codelist.partition(":")[0]

    @property
    def decode(self) -> str:
        """The variable of the same dataset that decodes a coded value (``""``: none)."""
        return self.codelist.partition(":")[2]

    @property
    def numeric(self) -> bool:
        return self.type in ("integer", "float", "date")


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: name, label, standard, class, structure, keys and its variables."""

    name: str
    label: str
    standard: str
    cls: str
    structure: str
    keys: tuple[str, ...]
    variables: tuple[Variable, ...]

    @property
    def is_adam(self) -> bool:
        return self.standard.startswith("ADaM")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(f"{self.name}.{name}")

    def label_for(self, synthetic: bool) -> str:
        """The dataset label, marked when the cohort is synthetic."""
        return self.label + (SYNTHETIC_MARK if synthetic else "")


def _data(name: str) -> str:
    return (resources.files("bvall.interop.cdisc") / "data" / name).read_text(encoding="utf-8")


@cache
def load_terminology() -> dict[str, Any]:
    """``data/terminology.toml`` as a dictionary."""
    return tomllib.loads(_data("terminology.toml"))


@cache
def load_spec() -> dict[str, DatasetSpec]:
    """Every dataset of the specification by name, in writing order (checked on load)."""
    raw = tomllib.loads(_data("datasets.toml"))
    variables: dict[str, list[Variable]] = {}
    for i, row in enumerate(csv.DictReader(io.StringIO(_data("variables.csv"))), start=2):
        var = Variable(
            dataset=row["dataset"],
            name=row["variable"],
            label=row["label"],
            type=row["type"],  # type: ignore[arg-type]
            origin=row["origin"],
            source=row["source"],
            rules=tuple(row["rule"].split()),
            codelist=row["codelist"],
        )
        where = f"variables.csv line {i} ({var.dataset}.{var.name})"
        if not _NAME.match(var.name):
            raise SpecError(f"{where}: name must be 1-8 upper-case letters, digits or '_'.")
        if not var.label or len(var.label) > MAX_LABEL:
            raise SpecError(f"{where}: label {var.label!r} must be 1-{MAX_LABEL} characters.")
        if var.type not in TYPES:
            raise SpecError(f"{where}: type {var.type!r} is not one of {', '.join(TYPES)}.")
        if var.origin not in ORIGINS:
            raise SpecError(f"{where}: origin {var.origin!r} is not one of {', '.join(ORIGINS)}.")
        if var.origin == "Derived" and not var.source:
            raise SpecError(f"{where}: a derived variable must say how it is derived.")
        if var.name in {v.name for v in variables.get(var.dataset, [])}:
            raise SpecError(f"{where}: variable listed twice.")
        variables.setdefault(var.dataset, []).append(var)
    out: dict[str, DatasetSpec] = {}
    for d in raw["dataset"]:
        name = d["name"]
        if name not in variables:
            raise SpecError(f"datasets.toml: dataset {name!r} has no variables in variables.csv.")
        if len(d["label"]) + len(SYNTHETIC_MARK) > MAX_LABEL:
            raise SpecError(
                f"datasets.toml: label of {name} ({d['label']!r}) leaves no room for "
                f"{SYNTHETIC_MARK!r} within {MAX_LABEL} characters."
            )
        spec = DatasetSpec(
            name=name,
            label=d["label"],
            standard=d["standard"],
            cls=d["class"],
            structure=d["structure"],
            keys=tuple(d["keys"]),
            variables=tuple(variables.pop(name)),
        )
        decodes = [v.decode for v in spec.variables if v.decode and v.decode not in spec.names]
        if decodes:
            raise SpecError(f"variables.csv: decode variables of {name} not in it: {decodes}")
        unknown_keys = [k for k in spec.keys if k not in spec.names]
        if unknown_keys:
            raise SpecError(
                f"datasets.toml: keys of {name} not among its variables: {unknown_keys}"
            )
        out[name] = spec
    if variables:
        raise SpecError(f"variables.csv: datasets not in datasets.toml: {sorted(variables)}")
    return out


def spec_version() -> str:
    """Version of the dataset specification (``datasets.toml``)."""
    return str(tomllib.loads(_data("datasets.toml"))["version"])


def conform_dataset(
    spec: DatasetSpec, frame: pd.DataFrame, *, ascii_only: bool = True
) -> pd.DataFrame:
    """``frame`` with exactly the columns of ``spec`` in order and SAS-ready values.

    Text columns hold ``str`` with ``""`` for missing (SAS has no missing text); numeric columns
    ``float`` with NaN for missing. A missing or unexpected column, an over-long text, a non-ISO
    8601 date-time, a fractional integer or — with ``ascii_only`` (XPT v5) — a non-ASCII text is
    a :class:`SpecError` naming the value.
    """
    missing = [n for n in spec.names if n not in frame.columns]
    extra = [c for c in frame.columns if c not in spec.names]
    if missing or extra:
        raise SpecError(
            f"{spec.name}: built columns do not match the specification "
            f"(missing {missing}, not specified {extra})."
        )
    out = pd.DataFrame(index=range(len(frame)))
    for var in spec.variables:
        values = list(frame[var.name])
        if var.numeric:
            out[var.name] = pd.Series([_number(spec, var, v) for v in values], dtype="float64")
        else:
            texts = [_text(spec, var, v, ascii_only) for v in values]
            out[var.name] = pd.Series(texts, dtype="object")
    return out


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _number(spec: DatasetSpec, var: Variable, v: Any) -> float:
    if _missing(v):
        return math.nan
    if isinstance(v, bool) or not isinstance(v, int | float):
        if hasattr(v, "item"):
            v = v.item()
        else:
            raise SpecError(f"{spec.name}.{var.name}: {v!r} is not a number ({var.type}).")
    x = float(v)
    if var.type in ("integer", "date") and not x.is_integer():
        raise SpecError(f"{spec.name}.{var.name}: {v!r} is not a whole number ({var.type}).")
    return x


def _text(spec: DatasetSpec, var: Variable, v: Any, ascii_only: bool) -> str:
    if _missing(v):
        return ""
    s = str(v)
    if not s:
        return s
    if ascii_only and not s.isascii():
        raise SpecError(
            f"{spec.name}.{var.name}: {s!r} is not ASCII; SAS XPORT v5 holds ASCII text. "
            "Translate it in the cohort, or export Dataset-JSON only (--format json)."
        )
    if len(s) > MAX_TEXT:
        raise SpecError(
            f"{spec.name}.{var.name}: value of {len(s)} characters exceeds {MAX_TEXT}: {s[:60]!r}…"
        )
    if var.type == "datetime" and not ISO_8601.match(s):
        raise SpecError(f"{spec.name}.{var.name}: {s!r} is not an ISO 8601 date or date-time.")
    return s


def frame_of(rows: list[dict[str, Any]], dataset: str) -> pd.DataFrame:
    """Built rows as a frame holding every specified column of ``dataset`` (absent: missing)."""
    frame = pd.DataFrame(rows)
    for name in load_spec()[dataset].names:
        if name not in frame.columns:
            frame[name] = None
    return frame
