"""What recomputing one claim found, before cross-claim checks and wording."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Claim statuses, in the order a reviewer reads them.
STATUSES: tuple[str, ...] = ("inconsistent", "needs-review", "consistent", "not-recomputable")


class NotRecomputable(Exception):
    """The cohort does not hold what the recomputation needs; the message says what is missing."""


@dataclass
class Finding:
    """The outcome of recomputing one claim.

    ``status``: one of :data:`STATUSES`; ``recomputed``: a JSON-able value (``None`` when not
    recomputable); ``summary``: the main sentence; ``causes``: probable causes of a
    disagreement; ``notes``: what a reviewer needs to know (ambiguous cells, missing values).
    ``comparable``: the published quantities this claim vouches for, normalised for comparing
    claims about the same measure.
    """

    status: str
    recomputed: Any
    summary: str
    causes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
