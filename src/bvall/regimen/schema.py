"""The regimen spec schema and its checker: which keys each element takes, and the checks that
turn a parsed TOML file into a :class:`~bvall.regimen.spec.Regimen`. Every problem raises
:class:`~bvall.errors.SpecError` naming the file, the element and the fix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bvall.cohort.units import load_lab_tests
from bvall.cohort.vocab import vocabulary
from bvall.errors import SpecError, suggest
from bvall.regimen.spec import (
    ROLES,
    Agent,
    Assessment,
    CycleLength,
    DayExpr,
    DoseStep,
    Monitoring,
    Note,
    Parameter,
    Reading,
    Regimen,
    parse_day_expr,
)

_KEYS: dict[str, tuple[set[str], set[str]]] = {
    # element: (required keys, optional keys)
    "regimen": (
        {"id", "title", "version", "summary", "source"},
        {"indication", "status", "readings"},
    ),
    "parameter": ({"type", "default", "label", "source"}, {"min", "max", "choices", "unit"}),
    "agent": (
        {"id", "name", "role", "route", "unit", "frequency", "source"},
        {"route_alternatives", "product", "max_daily_dose", "dose_rules"},
    ),
    "dose": (
        {"agent", "from", "to", "source"},
        {"dose", "per", "dose_text", "ramp_step", "target", "cycles"},
    ),
    "monitoring": (
        {"id", "label", "source"},
        {
            "tests",
            "days",
            "from",
            "to",
            "every_days",
            "each_ramp_step_of",
            "times",
            "after_target_times",
            "cycles",
            "short",
        },
    ),
    "assessment": (
        {"id", "label", "kind", "source"},
        {"from", "to", "target", "after", "condition", "cycles"},
    ),
    "note": ({"text", "source"}, set()),
    "cycles": ({"count", "lengths"}, set()),
}
_TOP = {"regimen", "parameters", "agent", "dose", "monitoring", "assessment", "note", "cycles"}
_KNOWN_RULES = ("venetoclax-interactions", "blinatumomab-under-45kg")


class SpecChecker:
    def __init__(self, file: str, path: str) -> None:
        self.file = file
        self.path = path

    def fail(self, where: str, message: str) -> SpecError:
        return SpecError(f"{self.file}: {where}: {message}")

    def keys(self, kind: str, where: str, body: Any) -> Mapping[str, Any]:
        if not isinstance(body, dict):
            raise self.fail(where, f"expected a table of keys, got {type(body).__name__}.")
        required, optional = _KEYS[kind]
        allowed = required | optional
        for k in body:
            if k not in allowed:
                raise self.fail(
                    where,
                    f"unknown key {k!r}{suggest(k, sorted(allowed))} Allowed keys: "
                    f"{', '.join(sorted(allowed))}.",
                )
        missing = sorted(required - set(body))
        if missing:
            raise self.fail(where, f"missing {', '.join(repr(m) for m in missing)}; add it.")
        src = body.get("source")
        if "source" in required and (not isinstance(src, str) or not src.strip()):
            raise self.fail(where, "'source' must be a non-empty citation (document, section).")
        return body

    def text(self, where: str, body: Mapping[str, Any], key: str) -> str:
        v = body.get(key)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(where, f"{key!r} must be a non-empty string, got {v!r}.")
        return v

    def day(self, where: str, key: str, value: Any) -> DayExpr:
        try:
            return parse_day_expr(value)
        except ValueError as exc:
            raise self.fail(where, f"{key!r}: {exc}.") from None

    def cycles(self, where: str, value: Any) -> tuple[int, int] | None:
        if value is None:
            return None
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not all(isinstance(v, int) and v >= 1 for v in value)
            or value[0] > value[1]
        ):
            raise self.fail(where, f"'cycles' = {value!r}; expected [first, last], e.g. [1, 1].")
        return (value[0], value[1])

    def build(self, raw: Mapping[str, Any]) -> Regimen:
        for k in raw:
            if k not in _TOP:
                raise self.fail(
                    "top level",
                    f"unknown table {k!r}{suggest(k, sorted(_TOP))} Allowed: {', '.join(sorted(_TOP))}.",
                )
        if "regimen" not in raw:
            raise self.fail("top level", "missing the [regimen] table (id, title, version, ...).")
        reg = self.keys("regimen", "[regimen]", raw["regimen"])
        expected_id = Path(self.path).stem
        if reg["id"] != expected_id:
            raise self.fail(
                "[regimen]",
                f"id {reg['id']!r} differs from the file name; rename the file to "
                f"'{reg['id']}.toml' or set id = {expected_id!r}.",
            )
        readings = []
        for i, r in enumerate(reg.get("readings", []), 1):
            if not isinstance(r, dict) or set(r) != {"text", "source"}:
                raise self.fail(
                    f"[regimen] readings #{i}", "expected { text = ..., source = ... }."
                )
            readings.append(Reading(r["text"], r["source"]))

        params = self.parameters(raw.get("parameters", {}))
        agents = self.agents(raw.get("agent", []), params)
        agent_ids = {a.id for a in agents}
        doses = self.doses(raw.get("dose", []), agent_ids, params)
        monitoring = self.monitoring(raw.get("monitoring", []), agent_ids)
        assessments = self.assessments(raw.get("assessment", []))
        notes = []
        for i, n in enumerate(raw.get("note", []), 1):
            body = self.keys("note", f"[[note]] #{i}", n)
            notes.append(Note(body["text"], body["source"]))
        cycle_lengths, cycle_count = self.cycle_table(raw.get("cycles"), params)

        ids = [m.id for m in monitoring] + [a.id for a in assessments]
        dupes = sorted({i for i in ids if ids.count(i) > 1} | (set(ids) & agent_ids))
        if dupes:
            raise self.fail("ids", f"{dupes[0]!r} is used twice; give every element its own id.")
        known_refs = agent_ids | {a.id for a in assessments}
        for where, expr in self.all_exprs(doses, monitoring, assessments):
            for ref in expr.references:
                if ref not in known_refs:
                    raise self.fail(
                        where,
                        f"{expr.text!r} refers to {ref!r}{suggest(ref, sorted(known_refs))} "
                        f"Known: {', '.join(sorted(known_refs))}.",
                    )
            for p in expr.parameters:
                if p not in params or params[p].type != "int":
                    ints = sorted(n for n, q in params.items() if q.type == "int")
                    raise self.fail(
                        where,
                        f"{expr.text!r} uses {p!r}, which is not a whole-number parameter"
                        f"{suggest(p, ints)} Declare it under [parameters.{p}] with type = 'int'.",
                    )
        for a in agents:
            if a.max_daily_dose is not None:
                for d in doses:
                    if (
                        d.agent == a.id
                        and isinstance(d.dose, float | int)
                        and d.per is None
                        and d.dose > a.max_daily_dose
                    ):
                        raise self.fail(
                            f"[[dose]] #{d.index} ({d.agent})",
                            f"dose {d.dose:g} is above the agent's max_daily_dose "
                            f"{a.max_daily_dose:g}; fix one of them.",
                        )
        return Regimen(
            id=reg["id"],
            title=reg["title"],
            version=str(reg["version"]),
            indication=reg.get("indication", ""),
            status=reg.get("status", ""),
            summary=reg["summary"],
            source=reg["source"],
            path=self.path,
            readings=tuple(readings),
            parameters=params,
            agents=tuple(agents),
            doses=tuple(doses),
            monitoring=tuple(monitoring),
            assessments=tuple(assessments),
            notes=tuple(notes),
            cycle_lengths=tuple(cycle_lengths),
            cycle_count=cycle_count,
        )

    def all_exprs(
        self,
        doses: Sequence[DoseStep],
        monitoring: Sequence[Monitoring],
        assessments: Sequence[Assessment],
    ) -> list[tuple[str, DayExpr]]:
        out: list[tuple[str, DayExpr]] = []
        for d in doses:
            out += [(f"[[dose]] #{d.index} ({d.agent})", e) for e in (d.first, d.last)]
        for m in monitoring:
            exprs = [*m.days, *(e for e in (m.first, m.last) if e is not None)]
            out += [(f"[[monitoring]] {m.id!r}", e) for e in exprs]
        for a in assessments:
            exprs = [e for e in (a.first, a.last, a.target, a.after) if e is not None]
            out += [(f"[[assessment]] {a.id!r}", e) for e in exprs]
        return out

    def parameters(self, raw: Any) -> dict[str, Parameter]:
        out: dict[str, Parameter] = {}
        if not isinstance(raw, dict):
            raise self.fail("[parameters]", "expected [parameters.NAME] tables.")
        for name, body in raw.items():
            where = f"[parameters.{name}]"
            b = self.keys("parameter", where, body)
            kind = b["type"]
            if kind not in ("int", "number", "choice"):
                raise self.fail(where, f"type {kind!r}; expected 'int', 'number' or 'choice'.")
            if kind == "choice":
                choices = b.get("choices")
                if not isinstance(choices, list) or not choices:
                    raise self.fail(where, "a choice parameter needs a non-empty 'choices' list.")
                if b["default"] not in choices:
                    raise self.fail(where, f"default {b['default']!r} is not one of {choices}.")
                out[name] = Parameter(
                    name, "choice", b["default"], b["label"], b["source"], choices=tuple(choices)
                )
                continue
            lo, hi, default = b.get("min"), b.get("max"), b["default"]
            for key, v in (("min", lo), ("max", hi), ("default", default)):
                if not isinstance(v, int | float) or isinstance(v, bool):
                    raise self.fail(where, f"{key!r} = {v!r}; expected a number.")
                if kind == "int" and not isinstance(v, int):
                    raise self.fail(where, f"{key!r} = {v!r}; expected a whole number.")
            assert lo is not None
            assert hi is not None
            if not lo <= default <= hi:
                raise self.fail(where, f"default {default} is outside [{lo}, {hi}].")
            out[name] = Parameter(
                name,
                kind,
                default,
                b["label"],
                b["source"],
                min=float(lo),
                max=float(hi),
                unit=b.get("unit", ""),
            )
        return out

    def agents(self, raw: Any, params: Mapping[str, Parameter]) -> list[Agent]:
        vocab = vocabulary("agent")
        routes = vocabulary("route")
        out: list[Agent] = []
        for i, body in enumerate(raw, 1):
            where = f"[[agent]] #{i} ({body.get('id', '?') if isinstance(body, dict) else '?'})"
            b = self.keys("agent", where, body)
            agent_id = b["id"]
            codes: list[str]
            if agent_id.startswith("{") and agent_id.endswith("}"):
                pname = agent_id[1:-1]
                if pname not in params or params[pname].type != "choice":
                    raise self.fail(
                        where, f"{agent_id!r} must name a choice parameter ([parameters.{pname}])."
                    )
                codes = list(params[pname].choices)
            else:
                codes = [agent_id]
            for code in codes:
                if code not in vocab:
                    raise self.fail(
                        where,
                        f"agent {code!r} is not in the cohort agent vocabulary"
                        f"{suggest(code, vocab.codes)} Accepted: {', '.join(vocab.codes)}.",
                    )
                units = vocab.term(code).attributes.get("units", [])
                if b["unit"] not in units:
                    raise self.fail(
                        where,
                        f"unit {b['unit']!r} is not one {code} is dosed in; expected one of "
                        f"{', '.join(units)}.",
                    )
            for r in [b["route"], *b.get("route_alternatives", [])]:
                if r not in routes:
                    raise self.fail(
                        where, f"route {r!r} is not known; expected {routes.expected()}."
                    )
            if b["role"] not in ROLES:
                raise self.fail(where, f"role {b['role']!r}; expected one of {', '.join(ROLES)}.")
            for rule in b.get("dose_rules", []):
                if rule not in _KNOWN_RULES:
                    raise self.fail(
                        where,
                        f"dose rule {rule!r} is not known{suggest(rule, _KNOWN_RULES)} "
                        f"Accepted: {', '.join(_KNOWN_RULES)}.",
                    )
            product = b.get("product")
            if product is not None:
                from bvall.regimen.tablets import load_products

                if product not in load_products():
                    known = sorted(load_products())
                    raise self.fail(
                        where, f"product {product!r} is not in products.toml; known: {known}."
                    )
            mdd = b.get("max_daily_dose")
            if mdd is not None and (not isinstance(mdd, int | float) or mdd <= 0):
                raise self.fail(where, f"max_daily_dose = {mdd!r}; expected a positive number.")
            out.append(
                Agent(
                    id=agent_id,
                    name=b["name"],
                    role=b["role"],
                    route=b["route"],
                    unit=b["unit"],
                    frequency=b["frequency"],
                    source=b["source"],
                    route_alternatives=tuple(b.get("route_alternatives", [])),
                    product=product,
                    max_daily_dose=None if mdd is None else float(mdd),
                    dose_rules=tuple(b.get("dose_rules", [])),
                )
            )
        if not out:
            raise self.fail("[[agent]]", "a regimen needs at least one agent.")
        return out

    def doses(
        self, raw: Any, agent_ids: set[str], params: Mapping[str, Parameter]
    ) -> list[DoseStep]:
        out: list[DoseStep] = []
        for i, body in enumerate(raw, 1):
            agent = body.get("agent", "?") if isinstance(body, dict) else "?"
            where = f"[[dose]] #{i} ({agent})"
            b = self.keys("dose", where, body)
            if agent not in agent_ids:
                raise self.fail(
                    where,
                    f"agent {agent!r} is not declared{suggest(agent, sorted(agent_ids))} "
                    f"Declared agents: {', '.join(sorted(agent_ids))}.",
                )
            dose = b.get("dose")
            text = b.get("dose_text")
            if (dose is None) == (text is None):
                raise self.fail(where, "give exactly one of 'dose' (a number) or 'dose_text'.")
            if isinstance(dose, str):
                if dose not in params or params[dose].type == "choice":
                    raise self.fail(
                        where, f"dose {dose!r} is neither a number nor a numeric parameter."
                    )
            elif dose is not None and (not isinstance(dose, int | float) or dose <= 0):
                raise self.fail(where, f"dose = {dose!r}; expected a positive number.")
            per = b.get("per")
            if per not in (None, "m2"):
                raise self.fail(
                    where, f"per = {per!r}; expected 'm2' (dose per m² BSA) or nothing."
                )
            step = b.get("ramp_step")
            if step is not None and (not isinstance(step, int) or step < 1):
                raise self.fail(where, f"ramp_step = {step!r}; expected 1, 2, 3, ...")
            out.append(
                DoseStep(
                    agent=agent,
                    first=self.day(where, "from", b["from"]),
                    last=self.day(where, "to", b["to"]),
                    source=b["source"],
                    index=i,
                    dose=float(dose) if isinstance(dose, int | float) else dose,
                    per=per,
                    dose_text=text,
                    ramp_step=step,
                    target=bool(b.get("target", False)),
                    cycles=self.cycles(where, b.get("cycles")),
                )
            )
        for a in agent_ids:
            steps = sorted({d.ramp_step for d in out if d.agent == a and d.ramp_step})
            if steps and steps != list(range(1, len(steps) + 1)):
                raise self.fail(
                    f"[[dose]] ({a})",
                    f"ramp steps {steps} skip a number; number them 1, 2, 3, ... in order.",
                )
        return out

    def monitoring(self, raw: Any, agent_ids: set[str]) -> list[Monitoring]:
        tests = load_lab_tests()
        out: list[Monitoring] = []
        for body in raw:
            mid = body.get("id", "?") if isinstance(body, dict) else "?"
            where = f"[[monitoring]] {mid!r}"
            b = self.keys("monitoring", where, body)
            for t in b.get("tests", []):
                if t not in tests:
                    raise self.fail(
                        where,
                        f"lab test {t!r} is not known{suggest(t, list(tests))} "
                        "(see `bvall vocab lab_tests`).",
                    )
            modes = [
                bool(b.get("days")),
                "from" in b or "to" in b,
                "each_ramp_step_of" in b,
            ]
            if sum(modes) != 1:
                raise self.fail(
                    where,
                    "give exactly one schedule: 'days' (a list), 'from'/'to' with 'every_days', "
                    "or 'each_ramp_step_of' (an agent).",
                )
            if "from" in b or "to" in b:
                if not ("from" in b and "to" in b and isinstance(b.get("every_days"), int)):
                    raise self.fail(
                        where, "a window needs 'from', 'to' and 'every_days' (1 = daily)."
                    )
                if b["every_days"] < 1:
                    raise self.fail(where, f"every_days = {b['every_days']!r}; expected 1 or more.")
            ramp_of = b.get("each_ramp_step_of")
            if ramp_of is not None and ramp_of not in agent_ids:
                raise self.fail(where, f"each_ramp_step_of = {ramp_of!r} is not a declared agent.")
            out.append(
                Monitoring(
                    id=mid,
                    label=b["label"],
                    short=b.get("short", b["label"]),
                    source=b["source"],
                    tests=tuple(b.get("tests", [])),
                    days=tuple(self.day(where, "days", d) for d in b.get("days", [])),
                    first=self.day(where, "from", b["from"]) if "from" in b else None,
                    last=self.day(where, "to", b["to"]) if "to" in b else None,
                    every_days=b.get("every_days"),
                    each_ramp_step_of=ramp_of,
                    times=tuple(b.get("times", [])),
                    after_target_times=tuple(b.get("after_target_times", [])),
                    cycles=self.cycles(where, b.get("cycles")),
                )
            )
        return out

    def assessments(self, raw: Any) -> list[Assessment]:
        out: list[Assessment] = []
        for body in raw:
            aid = body.get("id", "?") if isinstance(body, dict) else "?"
            where = f"[[assessment]] {aid!r}"
            b = self.keys("assessment", where, body)
            if "from" not in b and "after" not in b:
                raise self.fail(
                    where, "give 'from' (a window or open start) or 'after' (conditional)."
                )
            if "after" in b and "condition" not in b:
                raise self.fail(where, "'after' needs a 'condition' saying what triggers it.")
            if "from" in b and "to" not in b and "condition" not in b:
                raise self.fail(where, "an open window ('from' without 'to') needs a 'condition'.")

            def opt(key: str, w: str = where, body: Mapping[str, Any] = b) -> DayExpr | None:
                return self.day(w, key, body[key]) if key in body else None

            out.append(
                Assessment(
                    id=aid,
                    label=b["label"],
                    kind=b["kind"],
                    source=b["source"],
                    first=opt("from"),
                    last=opt("to"),
                    target=opt("target"),
                    after=opt("after"),
                    condition=b.get("condition"),
                    cycles=self.cycles(where, b.get("cycles")),
                )
            )
        return out

    def cycle_table(
        self, raw: Any, params: Mapping[str, Parameter]
    ) -> tuple[list[CycleLength], str | int | None]:
        if raw is None:
            return [], None
        b = self.keys("cycles", "[cycles]", raw)
        count = b["count"]
        if isinstance(count, str):
            if count not in params or params[count].type != "int":
                raise self.fail(
                    "[cycles]", f"count {count!r} must be an int parameter or a number."
                )
        elif not isinstance(count, int) or count < 1:
            raise self.fail("[cycles]", f"count = {count!r}; expected a positive whole number.")
        lengths: list[CycleLength] = []
        for i, item in enumerate(b["lengths"], 1):
            where = f"[cycles] lengths #{i}"
            if not isinstance(item, dict) or set(item) != {"cycles", "days", "source"}:
                raise self.fail(
                    where, "expected { cycles = [first, last], days = N, source = ... }."
                )
            rng = self.cycles(where, item["cycles"])
            assert rng is not None
            if not isinstance(item["days"], int) or item["days"] < 1:
                raise self.fail(
                    where, f"days = {item['days']!r}; expected a positive whole number."
                )
            lengths.append(CycleLength(rng[0], rng[1], item["days"], item["source"]))
        covered = sorted(c for x in lengths for c in range(x.first, x.last + 1))
        if covered != list(range(1, len(covered) + 1)):
            raise self.fail(
                "[cycles]", "lengths must cover cycles 1, 2, 3, ... once each, in order."
            )
        return lengths, count
