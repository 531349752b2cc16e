"""Operating characteristics of count-based stopping boundaries: exact and by simulation.

Every design here (BOP2, continuous toxicity monitoring, Simon's two stages) reduces, before the
trial starts, to a table of integer boundaries at planned looks: at look k (n_k patients) stop if
the number of responses is <= ``futility[k]`` or the number of toxicities is >= ``toxicity[k]``.
This module evaluates such a table under a true scenario:

* **exact**: forward recursion over the distribution of the cumulative counts among trials still
  running (a 1-D binomial convolution for one endpoint; a 2-D convolution of the multinomial
  increments of the 2x2 efficacy/toxicity table for two endpoints). Exact up to floating point.
* **simulation**: seeded, vectorised over trials with NumPy's Generator; returns Monte Carlo
  standard errors so a caller can check the exact values within a stated number of SEs.

Hand-written because no maintained Python library evaluates multi-look count boundaries (the
R packages BOP2FE / clinfun do it in R); the distributions come from SciPy and NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import signal, stats
from scipy.special import gammaln

from bvall.design.validation import check_positive_int, check_rate
from bvall.errors import InputError

Method = Literal["exact", "simulation"]
#: Largest (N + 1)^2 state space evaluated exactly for two endpoints; beyond it, simulate.
EXACT_STATE_LIMIT = 250_000


@dataclass(frozen=True)
class Scenario:
    """A true state of nature: response rate, toxicity rate and P(response and toxicity).

    ``p_both`` None means efficacy and toxicity are independent (p_both = p_e * p_t). Either
    rate may be None for a single-endpoint design.
    """

    label: str
    p_efficacy: float | None = None
    p_toxicity: float | None = None
    p_both: float | None = None

    def __post_init__(self) -> None:
        if self.p_efficacy is not None:
            check_rate(f"scenario '{self.label}' efficacy rate", self.p_efficacy)
        if self.p_toxicity is not None:
            check_rate(f"scenario '{self.label}' toxicity rate", self.p_toxicity)
        if self.p_both is not None:
            if self.p_efficacy is None or self.p_toxicity is None:
                raise InputError(
                    f"scenario '{self.label}': p_both needs both an efficacy and a toxicity rate."
                )
            lo = max(0.0, self.p_efficacy + self.p_toxicity - 1.0)
            hi = min(self.p_efficacy, self.p_toxicity)
            if not lo - 1e-12 <= self.p_both <= hi + 1e-12:
                raise InputError(
                    f"scenario '{self.label}': P(efficacy and toxicity)={self.p_both!r} is "
                    f"impossible for rates {self.p_efficacy} and {self.p_toxicity}; expected a "
                    f"value in [{lo:g}, {hi:g}]."
                )

    @property
    def cells(self) -> tuple[float, float, float, float]:
        """(E&T, E&notT, notE&T, notE&notT) probabilities."""
        if self.p_efficacy is None or self.p_toxicity is None:
            raise InputError(f"scenario '{self.label}' needs both efficacy and toxicity rates.")
        pe, pt = self.p_efficacy, self.p_toxicity
        both = pe * pt if self.p_both is None else self.p_both
        cells = (both, pe - both, pt - both, 1.0 - pe - pt + both)
        return (
            max(cells[0], 0.0),
            max(cells[1], 0.0),
            max(cells[2], 0.0),
            max(cells[3], 0.0),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Boundaries:
    """Integer stopping boundaries at increasing looks (patients evaluable at each look).

    Stop at look k if responses <= futility[k] (use -1 for no futility rule at that look) or
    toxicities >= toxicity[k] (use n_k + 1 for none). ``final_is_decision``: a crossing at the last
    look is the final "not promising" decision (BOP2, Simon) rather than an early stop.
    """

    looks: tuple[int, ...]
    futility: tuple[int, ...] | None = None
    toxicity: tuple[int, ...] | None = None

    @property
    def n_max(self) -> int:
        return self.looks[-1]


@dataclass(frozen=True)
class OperatingCharacteristics:
    """Probabilities (0-1) of each outcome under one scenario; expected patients treated.

    ``stop_*`` are crossings before the last look; ``final_*`` at the last look. ``passed`` is
    the probability of reaching the end without crossing (BOP2/Simon: the regimen is declared
    promising). ``per_look`` lists, per look, P(first crossing here) by reason. Simulation results
    carry ``se`` (Monte Carlo standard errors of the same quantities), ``n_trials`` and ``seed``.
    """

    scenario: Scenario
    method: Method
    stop_futility: float
    stop_toxicity: float
    stop_both: float
    final_futility: float
    final_toxicity: float
    final_both: float
    passed: float
    expected_n: float
    per_look: list[dict[str, float]]
    n_trials: int | None = None
    seed: int | None = None
    se: dict[str, float] = field(default_factory=dict)

    @property
    def early_stop(self) -> float:
        return self.stop_futility + self.stop_toxicity + self.stop_both

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["scenario"] = self.scenario.to_dict()
        out["early_stop"] = self.early_stop
        return out


def _increments_2d(m: int, cells: Sequence[float]) -> np.ndarray:
    """D[de, dt] = P(de responses and dt toxicities among m patients) for the 2x2 multinomial."""
    a, b, c = np.meshgrid(np.arange(m + 1), np.arange(m + 1), np.arange(m + 1), indexing="ij")
    d = m - a - b - c
    ok = d >= 0
    logp = np.log(np.maximum(np.asarray(cells, dtype=float), 1e-300))
    with np.errstate(invalid="ignore"):
        logpmf = (
            gammaln(m + 1)
            - gammaln(a + 1)
            - gammaln(b + 1)
            - gammaln(c + 1)
            - gammaln(np.where(ok, d, 0) + 1)
            + a * logp[0]
            + b * logp[1]
            + c * logp[2]
            + np.where(ok, d, 0) * logp[3]
        )
    # Cells with probability exactly 0 must contribute nothing (log(1e-300) * 0 would be 0).
    for idx, k in enumerate((a, b, c, np.where(ok, d, 0))):
        if cells[idx] <= 0:
            logpmf = np.where(k > 0, -np.inf, logpmf)
    pmf = np.where(ok, np.exp(logpmf), 0.0)
    out = np.zeros((m + 1, m + 1))
    np.add.at(out, ((a + b)[ok], (a + c)[ok]), pmf[ok])
    return out


def _check_boundaries(b: Boundaries) -> None:
    k = len(b.looks)
    for name, v in (("futility", b.futility), ("toxicity", b.toxicity)):
        if v is not None and len(v) != k:
            raise InputError(f"{name} boundaries have {len(v)} entries for {k} looks.")
    if b.futility is None and b.toxicity is None:
        raise InputError("boundaries need a futility or a toxicity rule.")


def _result(
    scenario: Scenario,
    method: Method,
    per_look: list[dict[str, float]],
    passed: float,
    looks: tuple[int, ...],
    **extra: Any,
) -> OperatingCharacteristics:
    early, last = per_look[:-1], per_look[-1]
    expected_n = sum(pl["n"] * (pl["futility"] + pl["toxicity"] + pl["both"]) for pl in early)
    expected_n += looks[-1] * (
        1.0 - sum(pl["futility"] + pl["toxicity"] + pl["both"] for pl in early)
    )
    return OperatingCharacteristics(
        scenario=scenario,
        method=method,
        stop_futility=sum(pl["futility"] for pl in early),
        stop_toxicity=sum(pl["toxicity"] for pl in early),
        stop_both=sum(pl["both"] for pl in early),
        final_futility=last["futility"],
        final_toxicity=last["toxicity"],
        final_both=last["both"],
        passed=passed,
        expected_n=expected_n,
        per_look=per_look,
        **extra,
    )


def compute_exact_characteristics(b: Boundaries, scenario: Scenario) -> OperatingCharacteristics:
    """Exact operating characteristics of ``b`` under ``scenario`` (forward recursion)."""
    _check_boundaries(b)
    if b.futility is not None and b.toxicity is not None:
        return _exact_2d(b, scenario)
    return _exact_1d(b, scenario)


def _exact_1d(b: Boundaries, scenario: Scenario) -> OperatingCharacteristics:
    is_tox = b.futility is None
    p = scenario.p_toxicity if is_tox else scenario.p_efficacy
    if p is None:
        raise InputError(
            f"scenario '{scenario.label}' needs a {'toxicity' if is_tox else 'response'} rate."
        )
    bound = b.toxicity if is_tox else b.futility
    assert bound is not None
    dist = np.array([1.0])
    prev = 0
    per_look = []
    for n_k, c in zip(b.looks, bound, strict=True):
        inc = stats.binom.pmf(np.arange(n_k - prev + 1), n_k - prev, p)
        dist = np.convolve(dist, inc)
        x = np.arange(n_k + 1)
        cross = x >= c if is_tox else x <= c
        pc = float(dist[cross].sum())
        dist = np.where(cross, 0.0, dist)
        per_look.append(
            {
                "n": float(n_k),
                "futility": 0.0 if is_tox else pc,
                "toxicity": pc if is_tox else 0.0,
                "both": 0.0,
            }
        )
        prev = n_k
    return _result(scenario, "exact", per_look, float(dist.sum()), b.looks)


def _exact_2d(b: Boundaries, scenario: Scenario) -> OperatingCharacteristics:
    assert b.futility is not None
    assert b.toxicity is not None
    if (b.n_max + 1) ** 2 > EXACT_STATE_LIMIT:
        raise InputError(
            f"N={b.n_max} is too large for the exact two-endpoint computation; use simulation."
        )
    cells = scenario.cells
    dist = np.ones((1, 1))
    prev = 0
    per_look = []
    for n_k, f, t in zip(b.looks, b.futility, b.toxicity, strict=True):
        dist = signal.convolve2d(dist, _increments_2d(n_k - prev, cells))
        e = np.arange(n_k + 1)[:, None]
        tt = np.arange(n_k + 1)[None, :]
        fut = np.broadcast_to(e <= f, dist.shape)
        tox = np.broadcast_to(tt >= t, dist.shape)
        per_look.append(
            {
                "n": float(n_k),
                "futility": float(dist[fut & ~tox].sum()),
                "toxicity": float(dist[tox & ~fut].sum()),
                "both": float(dist[fut & tox].sum()),
            }
        )
        dist = np.where(fut | tox, 0.0, dist)
        prev = n_k
    return _result(scenario, "exact", per_look, float(dist.sum()), b.looks)


def simulate_characteristics(
    b: Boundaries, scenario: Scenario, n_trials: int, seed: int
) -> OperatingCharacteristics:
    """Operating characteristics of ``b`` from ``n_trials`` simulated trials (seeded).

    Vectorised over trials: per look, one draw of the binomial (or 2x2 multinomial) increment for
    every trial; trials that already crossed keep their first crossing.
    """
    _check_boundaries(b)
    check_positive_int("n_trials", n_trials, minimum=2)
    rng = np.random.default_rng(seed)
    two = b.futility is not None and b.toxicity is not None
    eff = np.zeros(n_trials, dtype=np.int32)
    tox = np.zeros(n_trials, dtype=np.int32)
    # 0 running, 1 futility, 2 toxicity, 3 both
    reason = np.zeros(n_trials, dtype=np.int8)
    look_of = np.full(n_trials, len(b.looks), dtype=np.int16)
    prev = 0
    if two:
        cells = np.asarray(scenario.cells)
    for k, n_k in enumerate(b.looks):
        m = n_k - prev
        if two:
            draws = rng.multinomial(m, cells / cells.sum(), size=n_trials)
            eff += (draws[:, 0] + draws[:, 1]).astype(np.int32)
            tox += (draws[:, 0] + draws[:, 2]).astype(np.int32)
        elif b.futility is not None:
            if scenario.p_efficacy is None:
                raise InputError(f"scenario '{scenario.label}' needs a response rate.")
            eff += rng.binomial(m, scenario.p_efficacy, size=n_trials).astype(np.int32)
        else:
            if scenario.p_toxicity is None:
                raise InputError(f"scenario '{scenario.label}' needs a toxicity rate.")
            tox += rng.binomial(m, scenario.p_toxicity, size=n_trials).astype(np.int32)
        fut = eff <= b.futility[k] if b.futility is not None else np.zeros(n_trials, bool)
        tx = tox >= b.toxicity[k] if b.toxicity is not None else np.zeros(n_trials, bool)
        new = (reason == 0) & (fut | tx)
        reason[new] = np.where(fut[new] & tx[new], 3, np.where(fut[new], 1, 2))
        look_of[new] = k
        prev = n_k
    per_look = []
    for k, n_k in enumerate(b.looks):
        at = look_of == k
        per_look.append(
            {
                "n": float(n_k),
                "futility": float(np.mean(at & (reason == 1))),
                "toxicity": float(np.mean(at & (reason == 2))),
                "both": float(np.mean(at & (reason == 3))),
            }
        )
    # Trials that never crossed (look_of == number of looks) treated all N patients.
    sizes = np.asarray(b.looks)[np.minimum(look_of, len(b.looks) - 1)]
    passed = float(np.mean(reason == 0))
    res = _result(scenario, "simulation", per_look, passed, b.looks, n_trials=n_trials, seed=seed)

    def se_p(p: float) -> float:
        return math.sqrt(max(p * (1.0 - p), 0.0) / n_trials)

    se = {
        k: se_p(getattr(res, k))
        for k in (
            "stop_futility",
            "stop_toxicity",
            "stop_both",
            "final_futility",
            "final_toxicity",
            "final_both",
            "passed",
        )
    }
    se["early_stop"] = se_p(res.early_stop)
    se["expected_n"] = float(np.std(sizes, ddof=1) / math.sqrt(n_trials))
    return OperatingCharacteristics(**{**res.__dict__, "se": se})
