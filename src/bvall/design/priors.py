"""Beta and Dirichlet priors for the Bayesian designs, vague or informed by the published cohort.

* **Vague** (the BOP2 convention, Zhou, Lee & Yuan 2017, section 2): a prior whose mean is the null
  rate and whose effective sample size (ESS) is 1 patient, e.g. Beta(0.2, 0.8) for a null rate 0.2;
  for the joint efficacy + toxicity model, a Dirichlet whose cells are the null joint probabilities
  with total 1.
* **Informed** by the published cohort (``data/priors.toml``: CR with MRD negativity 12/13, grade
  >= 3 CRS or neurological toxicity 1/13), as a power prior: the cohort's likelihood raised to a
  weight w in (0, 1] (w = 1: full borrowing; w = 0.5: each published patient counts as half a
  patient), on a Jeffreys Beta(0.5, 0.5) base: Beta(0.5 + w*x, 0.5 + w*(n - x)), ESS = 1 + w*n.
  The Dirichlet analogue has base 0.25 per cell, so each margin is the same Beta.

The ESS is reported with every prior: a DSMB must see how many patients' worth of information the
prior adds. The Bayesian designs here are calibrated so that the frequentist type I error holds
whatever the prior, but an informed prior still shifts early decisions.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from typing import Any

from bvall.design.validation import check_rate
from bvall.errors import InputError, UnknownNameError, suggest

JEFFREYS = 0.5


@dataclass(frozen=True)
class BetaPrior:
    """Beta(a, b) prior for one rate; ``ess`` = a + b patients."""

    a: float
    b: float
    label: str

    def __post_init__(self) -> None:
        if not (self.a > 0 and self.b > 0):
            raise InputError(f"Beta prior ({self.a!r}, {self.b!r}) needs a > 0 and b > 0.")

    @property
    def ess(self) -> float:
        return self.a + self.b

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ess": self.ess, "mean": self.mean}


@dataclass(frozen=True)
class DirichletPrior:
    """Dirichlet prior on (E&T, E&notT, notE&T, notE&notT); margins are Beta priors."""

    cells: tuple[float, float, float, float]
    label: str

    def __post_init__(self) -> None:
        if len(self.cells) != 4 or any(not c > 0 for c in self.cells):
            raise InputError(
                f"Dirichlet prior cells {list(self.cells)!r} must be 4 positive numbers "
                "(efficacy&toxicity, efficacy only, toxicity only, neither)."
            )

    @property
    def ess(self) -> float:
        return float(sum(self.cells))

    @property
    def efficacy(self) -> BetaPrior:
        a = self.cells[0] + self.cells[1]
        return BetaPrior(a, self.ess - a, f"{self.label} (efficacy margin)")

    @property
    def toxicity(self) -> BetaPrior:
        a = self.cells[0] + self.cells[2]
        return BetaPrior(a, self.ess - a, f"{self.label} (toxicity margin)")

    def to_dict(self) -> dict[str, Any]:
        return {"cells": list(self.cells), "label": self.label, "ess": self.ess}


@dataclass(frozen=True)
class PublishedCount:
    key: str
    label: str
    role: str
    events: int
    patients: int
    source: str


@cache
def _load() -> dict[str, Any]:
    path = resources.files("bvall.design") / "data" / "priors.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def load_published_counts() -> dict[str, PublishedCount]:
    """The published cohort counts usable as prior information, with their sources."""
    raw = _load()["endpoints"]
    return {
        k: PublishedCount(
            k, v["label"], v["role"], int(v["events"]), int(v["patients"]), v["source"]
        )
        for k, v in raw.items()
    }


def vague_beta_prior(null_rate: float) -> BetaPrior:
    """Beta(phi, 1 - phi): mean at the null rate, ESS 1 (BOP2 default)."""
    phi = check_rate("null rate", null_rate)
    return BetaPrior(phi, 1.0 - phi, f"vague: Beta({phi:g}, {1 - phi:g}), mean at null, ESS 1")


def _check_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0 < weight <= 1:
        raise InputError(
            f"prior weight={weight!r} must be in (0, 1]: 1 borrows the published cohort fully, "
            "0.5 counts each published patient as half a patient."
        )
    return float(weight)


def informed_beta_prior(endpoint: str, weight: float = 1.0) -> BetaPrior:
    """Power prior from the published cohort: Beta(0.5 + w*x, 0.5 + w*(n - x)), ESS 1 + w*n."""
    counts = load_published_counts()
    if endpoint not in counts:
        raise UnknownNameError(
            f"No published count {endpoint!r}; known: {', '.join(counts)}"
            + suggest(endpoint, list(counts))
        )
    w = _check_weight(weight)
    c = counts[endpoint]
    a = JEFFREYS + w * c.events
    b = JEFFREYS + w * (c.patients - c.events)
    return BetaPrior(
        a,
        b,
        f"informed: published {c.events}/{c.patients} ({c.label}), weight {w:g}, "
        f"Beta({a:g}, {b:g}), ESS {a + b:g}",
    )


def vague_dirichlet_prior(null_cells: tuple[float, float, float, float]) -> DirichletPrior:
    """Dirichlet with cells equal to the null joint probabilities (total 1, BOP2 default)."""
    cells = tuple(float(c) for c in null_cells)
    return DirichletPrior(
        (cells[0], cells[1], cells[2], cells[3]),
        "vague: Dirichlet at the null joint probabilities, ESS 1",
    )


def informed_dirichlet_prior(weight: float = 1.0) -> DirichletPrior:
    """Power prior from the published joint 2x2 counts, base 0.25 per cell; ESS 1 + w*13."""
    w = _check_weight(weight)
    (key, joint), *_ = _load()["joint"].items()
    raw = [0.25 + w * float(c) for c in joint["cells"]]
    return DirichletPrior(
        (raw[0], raw[1], raw[2], raw[3]),
        f"informed: published joint counts {joint['cells']} ({key}), weight {w:g}, "
        f"ESS {sum(raw):g}",
    )


def load_published_joint_cells() -> tuple[list[int], str]:
    """The published joint 2x2 counts (E&T, E only, T only, neither) and their source."""
    (_key, joint), *_ = _load()["joint"].items()
    return [int(c) for c in joint["cells"]], str(joint["source"])
