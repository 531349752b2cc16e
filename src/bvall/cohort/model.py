"""The :class:`Cohort`: the one currency of bvall.

A cohort is a set of named, schema-checked PyArrow tables (see :mod:`bvall.cohort.schema`) with
metadata saying what it is and where it came from. Every input path produces a cohort and every
derivation takes one; a single patient is a cohort of one (:meth:`Cohort.subset`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bvall.cohort.schema import TABLES
from bvall.cohort.validate import validate_tables
from bvall.errors import UnknownNameError, ValidationFailed, suggest


def table_digest(table: pa.Table) -> str:
    """SHA-256 of a table's schema and values, written as Parquet without compression or
    statistics. Parquet stores the values only (an Arrow buffer also holds whatever bytes lie
    under its nulls, so two equal tables can differ in Arrow IPC) and is lossless, so equal
    digests mean equal tables. Cheap for a patient's tables (a fraction of a millisecond)."""
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="none", write_statistics=False, use_dictionary=False)
    return hashlib.sha256(sink.getvalue()).hexdigest()


@dataclass(frozen=True)
class CohortMetadata:
    """What a cohort is: its name, title, source, and whether it is synthetic."""

    name: str
    title: str = ""
    description: str = ""
    source: str = ""
    synthetic: bool = False
    version: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "source": self.source,
            "synthetic": self.synthetic,
            "version": self.version,
        }
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], default_name: str = "cohort") -> CohortMetadata:
        known = {"name", "title", "description", "source", "synthetic", "version"}
        synthetic = raw.get("synthetic", False)
        if isinstance(synthetic, str):
            synthetic = synthetic.strip().lower() in {"1", "true", "yes"}
        return cls(
            name=str(raw.get("name") or default_name),
            title=str(raw.get("title", "")),
            description=str(raw.get("description", "")),
            source=str(raw.get("source", "")),
            synthetic=bool(synthetic),
            version=str(raw.get("version", "")),
            extra={k: v for k, v in raw.items() if k not in known},
        )


class Cohort:
    """Validated cohort tables plus metadata. Construct with :meth:`from_tables`."""

    __slots__ = ("_tables", "metadata")

    def __init__(self, tables: Mapping[str, pa.Table], metadata: CohortMetadata) -> None:
        # Internal constructor: tables must already be validated and typed.
        missing = [n for n in TABLES if n not in tables]
        if missing:
            raise ValueError(f"internal: cohort tables missing: {missing}")
        self._tables = dict(tables)
        self.metadata = metadata

    @classmethod
    def from_tables(
        cls,
        tables: Mapping[str, Any],
        metadata: CohortMetadata | Mapping[str, Any] | None = None,
        files: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> Cohort:
        """Validate raw tables and build a cohort; :class:`ValidationFailed` lists every problem."""
        typed, problems = validate_tables(tables, files)
        if problems:
            raise ValidationFailed(problems, source)
        if metadata is None:
            metadata = CohortMetadata(name="cohort")
        elif not isinstance(metadata, CohortMetadata):
            metadata = CohortMetadata.from_dict(metadata)
        return cls(typed, metadata)

    # -- access ---------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(TABLES)

    def __getitem__(self, name: str) -> pa.Table:
        if name not in self._tables:
            raise UnknownNameError(
                f"No table {name!r}{suggest(name, list(TABLES))} Tables: {', '.join(TABLES)}."
            )
        return self._tables[name]

    def table(self, name: str) -> pa.Table:
        return self[name]

    def frame(self, name: str) -> pd.DataFrame:
        """A table as a pandas DataFrame (dates as ``datetime.date`` objects)."""
        return self[name].to_pandas(date_as_object=True)

    @property
    def patient_ids(self) -> list[str]:
        return [str(p) for p in self["patients"].column("patient_id").to_pylist()]

    def __len__(self) -> int:
        return self["patients"].num_rows

    def counts(self) -> dict[str, int]:
        """Rows per table."""
        return {name: t.num_rows for name, t in self._tables.items()}

    def __repr__(self) -> str:
        synthetic = ", synthetic" if self.metadata.synthetic else ""
        return f"<Cohort {self.name!r}: {len(self)} patients{synthetic}>"

    # -- derived cohorts ------------------------------------------------------------------------

    def subset(self, patient_ids: Iterable[str]) -> Cohort:
        """The cohort restricted to these patients (unknown ids are an error)."""
        wanted = list(dict.fromkeys(patient_ids))
        known = set(self.patient_ids)
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise UnknownNameError(
                f"Patient {unknown[0]!r} is not in cohort {self.name!r}"
                f"{suggest(unknown[0], sorted(known))} Patients: {', '.join(sorted(known))}."
            )
        keep = pa.array(wanted, type=pa.string())
        tables = {}
        for name, t in self._tables.items():
            if "patient_id" in t.column_names:
                mask = pc.is_in(t.column("patient_id"), value_set=keep)
                if name == "provenance":
                    mask = pc.or_(mask, pc.is_null(t.column("patient_id")))
                t = t.filter(pc.fill_null(mask, False))
            tables[name] = t
        return Cohort(tables, self.metadata)

    def with_metadata(self, **changes: Any) -> Cohort:
        return Cohort(self._tables, replace(self.metadata, **changes))

    # -- identity -------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """SHA-256 of the cohort's content (tables in a canonical CSV form), for report stamps."""
        h = hashlib.sha256()
        for name in TABLES:
            t = self._tables[name]
            h.update(name.encode())
            h.update(t.to_pandas().to_csv(index=False, lineterminator="\n").encode())
        return h.hexdigest()

    def equals(self, other: Cohort) -> bool:
        """Same tables (values and types), ignoring metadata."""
        return all(self._tables[n].equals(other._tables[n]) for n in TABLES)
