"""A validation problem: where it is, the bad value, and what was expected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, SupportsIndex

#: The classes of problem validation reports; each has a boundary test in tests/cohort.
PROBLEM_CODES = (
    "file",  # a file or sheet is unreadable, unknown or missing
    "column",  # an unknown or missing column
    "type",  # a value of the wrong type (text where a number is expected, a bad date)
    "required",  # a required value is missing
    "vocabulary",  # a code not in the controlled vocabulary
    "range",  # a value outside its plausible range
    "unit",  # an unknown unit, or a unit not accepted for this test or agent
    "order",  # dates or days out of order
    "reference",  # a record refers to a patient or course that does not exist
    "duplicate",  # two records with the same key
    "consistency",  # values that contradict each other across columns or tables
    "access",  # a row the acting user may not write (a patient outside their sites)
)


@dataclass(frozen=True)
class Problem:
    """One problem found in a cohort.

    ``row`` is the 1-based data row of the table (the header is not counted; in a CSV file the
    line number is ``row + 1``). ``value`` is the value exactly as it was read.
    """

    table: str
    row: int | None
    column: str | None
    value: Any
    expected: str
    code: str
    file: str | None = None

    @property
    def message(self) -> str:
        where = self.table if self.file is None else f"{self.file}"
        if self.row is not None:
            where += f" row {self.row}"
        if self.column is not None:
            where += f", column '{self.column}'"
        shown = "(missing)" if self.value is None else repr(self.value)
        return f"{where}: {shown}: expected {self.expected}"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["message"] = self.message
        if out["value"] is not None and not isinstance(out["value"], str | int | float | bool):
            out["value"] = str(out["value"])
        return out


class ProblemList(list[Problem]):
    """Problems as they are found, keeping the first ``limit`` and counting every one by class,
    table and column, so a file with a million bad cells costs a few kilobytes to report.

    ``total`` is the number found; :meth:`summary` the count per (code, table, column).
    """

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.total = 0
        self.counts: Counter[tuple[str, str, str | None]] = Counter()

    def append(self, p: Problem) -> None:
        self.total += 1
        self.counts[(p.code, p.table, p.column)] += 1
        if self.limit is None or len(self) < self.limit:
            super().append(p)

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.append(p)

    def __iadd__(self, problems: Iterable[Problem]) -> ProblemList:  # type: ignore[override,misc]
        self.extend(problems)
        return self

    def absorb(self, other: ProblemList, transform: Callable[[Problem], Problem]) -> None:
        """Add ``other``: its kept problems through ``transform`` (which keeps code, table and
        column), and its counts."""
        for p in other:
            if self.limit is None or len(self) < self.limit:
                super().append(transform(p))
        self.total += other.total
        self.counts.update(other.counts)

    def insert(self, index: SupportsIndex, p: Problem) -> None:
        raise TypeError("internal: problems are appended in the order they are found")

    @property
    def truncated(self) -> bool:
        return self.total > len(self)

    def summary(self) -> list[dict[str, Any]]:
        """Count of problems per class, table and column, largest first."""
        return [
            {"code": code, "table": table, "column": column, "count": n}
            for (code, table, column), n in sorted(
                self.counts.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1], kv[0][2] or "")
            )
        ]
