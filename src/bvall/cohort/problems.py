"""A validation problem: where it is, the bad value, and what was expected."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
