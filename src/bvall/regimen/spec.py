"""Regimen specifications: the dataclasses a spec file becomes, and its day expressions.

A spec is a TOML file (bundled ones in ``regimen/data/regimens/``; the format is described in
``docs/regimen.md``). :mod:`bvall.regimen.load` reads and checks it; this module holds what it
becomes. Days are study days (D1 = first induction day, D0 the day before, pre-phase negative);
in regimens with cycles they are cycle days (D1 = first day of the cycle).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ROLES = ("protocol", "prephase", "premedication", "supportive")
ParamType = Literal["int", "number", "choice"]


@dataclass(frozen=True)
class Parameter:
    """A value a plan may choose within limits (e.g. ``dex_days`` 3-5), with its source."""

    name: str
    type: ParamType
    default: Any
    label: str
    source: str
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    def accepted(self) -> str:
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        kind = "a whole number" if self.type == "int" else "a number"
        return f"{kind} from {self.min:g} to {self.max:g}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class Agent:
    """A drug (or fluid) the regimen gives; ``id`` is a code of the cohort ``agent`` vocabulary,
    or ``{param}`` when a choice parameter names it (e.g. allopurinol or febuxostat)."""

    id: str
    name: str
    role: str
    route: str
    unit: str
    frequency: str
    source: str
    route_alternatives: tuple[str, ...] = ()
    product: str | None = None
    max_daily_dose: float | None = None
    dose_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class DoseStep:
    """A dose of one agent over a run of days (``first``..``last`` day expressions).

    ``dose`` is a number or a parameter name; ``per == "m2"`` multiplies it by BSA. ``dose_text``
    replaces a number the source does not give ("per site protocol"). ``ramp_step`` numbers the
    steps of a ramp-up (1, 2, ...); ``target`` marks the dose the ramp-up leads to.
    """

    agent: str
    first: DayExpr
    last: DayExpr
    source: str
    index: int
    dose: float | str | None = None
    per: str | None = None
    dose_text: str | None = None
    ramp_step: int | None = None
    target: bool = False
    cycles: tuple[int, int] | None = None


@dataclass(frozen=True)
class Monitoring:
    """Laboratory or clinical monitoring: on listed days, daily over a window, or around each
    new dose of a ramp-up (``each_ramp_step_of``)."""

    id: str
    label: str
    source: str
    short: str = ""
    tests: tuple[str, ...] = ()
    days: tuple[DayExpr, ...] = ()
    first: DayExpr | None = None
    last: DayExpr | None = None
    every_days: int | None = None
    each_ramp_step_of: str | None = None
    times: tuple[str, ...] = ()
    after_target_times: tuple[str, ...] = ()
    cycles: tuple[int, int] | None = None


@dataclass(frozen=True)
class Assessment:
    """A marrow, procedure or other assessment: a window (``first``..``last``), an open start
    (``first`` only, with a ``condition``) or a condition-triggered event after a day."""

    id: str
    label: str
    kind: str
    source: str
    first: DayExpr | None = None
    last: DayExpr | None = None
    target: DayExpr | None = None
    after: DayExpr | None = None
    condition: str | None = None
    cycles: tuple[int, int] | None = None


@dataclass(frozen=True)
class Note:
    text: str
    source: str


@dataclass(frozen=True)
class CycleLength:
    first: int
    last: int
    days: int
    source: str


@dataclass(frozen=True)
class Reading:
    """An interpretation the spec chose where its source is silent or ambiguous."""

    text: str
    source: str


@dataclass(frozen=True)
class Regimen:
    """A checked regimen specification (see :func:`bvall.regimen.load_regimen`)."""

    id: str
    title: str
    version: str
    indication: str
    status: str
    summary: str
    source: str
    path: str
    readings: tuple[Reading, ...]
    parameters: Mapping[str, Parameter]
    agents: tuple[Agent, ...]
    doses: tuple[DoseStep, ...]
    monitoring: tuple[Monitoring, ...]
    assessments: tuple[Assessment, ...]
    notes: tuple[Note, ...]
    cycle_lengths: tuple[CycleLength, ...] = ()
    cycle_count: str | int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def agent(self, agent_id: str) -> Agent:
        for a in self.agents:
            if a.id == agent_id:
                return a
        raise KeyError(agent_id)

    @property
    def has_cycles(self) -> bool:
        return bool(self.cycle_lengths)

    def cycle_length(self, cycle: int) -> int | None:
        for c in self.cycle_lengths:
            if c.first <= cycle <= c.last:
                return c.days
        return None

    def max_daily_dose(self, agent_id: str) -> float | None:
        """The regimen's maximum daily dose of an agent (its spec ``max_daily_dose``)."""
        return self.agent(agent_id).max_daily_dose

    def ramp_steps(self, agent_id: str) -> tuple[int, ...]:
        """The ramp-up step numbers of an agent, in order (empty when it has no ramp-up)."""
        return tuple(
            sorted({d.ramp_step for d in self.doses if d.agent == agent_id and d.ramp_step})
        )


# -- day expressions ------------------------------------------------------------------------------

_TERM = re.compile(
    r"\s*(?:(?P<day>D-?\d+)|(?P<num>\d+)|(?P<ref>(?:start|end)\((?P<refid>[{}\w.-]+)\))"
    r"|(?P<param>[A-Za-z_]\w*))\s*"
)


@dataclass(frozen=True)
class DayExpr:
    """``D1``, ``D1 - dex_days``, ``start(dexamethasone) - uric_lead_days``, ``end(x) + 2``.

    Terms: ``D<n>`` (a day), a whole number, a parameter name, ``start(ID)``/``end(ID)`` (first /
    last day of an agent or element). Terms are joined by ``+`` and ``-``; the result must be a
    day (exactly one ``D<n>`` or ``start``/``end`` term counted positively).
    """

    text: str
    terms: tuple[tuple[int, str, str], ...]  # (sign, kind, value)

    @property
    def references(self) -> tuple[str, ...]:
        return tuple(v for _, k, v in self.terms if k in ("start", "end"))

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(v for _, k, v in self.terms if k == "param")

    def evaluate(
        self,
        params: Mapping[str, Any],
        resolve: Callable[[str, str], int],
    ) -> int:
        """The day this expression names, given parameter values and a resolver for
        ``start``/``end`` references."""
        total = 0
        for sign, kind, value in self.terms:
            if kind == "day" or kind == "num":
                v = int(value)
            elif kind == "param":
                v = int(params[value])
            else:
                v = resolve(kind, value)
            total += sign * v
        return total


def parse_day_expr(text: str) -> DayExpr:
    """Parse a day expression; raise ``ValueError`` with what was expected."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{text!r} is not a day expression; expected e.g. 'D1' or 'D1 - dex_days'")
    terms: list[tuple[int, str, str]] = []
    pos, sign = 0, 1
    s = text.strip()
    expect_term = True
    while pos < len(s):
        if expect_term:
            m = _TERM.match(s, pos)
            if not m or m.end() == pos:
                raise ValueError(
                    f"{text!r}: cannot read a term at {s[pos:]!r}; expected D<n>, a whole number, "
                    "a parameter name, start(ID) or end(ID)"
                )
            if m.group("day"):
                terms.append((sign, "day", m.group("day")[1:]))
            elif m.group("num"):
                terms.append((sign, "num", m.group("num")))
            elif m.group("ref"):
                kind = m.group("ref").split("(", 1)[0]
                terms.append((sign, kind, m.group("refid")))
            else:
                terms.append((sign, "param", m.group("param")))
            pos = m.end()
            expect_term = False
        else:
            op = s[pos]
            if op not in "+-":
                raise ValueError(f"{text!r}: expected '+' or '-' at {s[pos:]!r}")
            sign = 1 if op == "+" else -1
            pos += 1
            expect_term = True
    if expect_term:
        raise ValueError(f"{text!r} ends with an operator; expected a term after it")
    anchors = [(sg, k) for sg, k, _ in terms if k in ("day", "start", "end")]
    if len(anchors) != 1 or anchors[0][0] != 1:
        raise ValueError(
            f"{text!r} must name exactly one day (D<n>, start(ID) or end(ID)) added, "
            "plus or minus whole numbers or parameters"
        )
    return DayExpr(text=text, terms=tuple(terms))
