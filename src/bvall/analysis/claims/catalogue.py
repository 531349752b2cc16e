"""The claims catalogue: every numeric claim of a paper and how to recompute it.

A catalogue is a TOML (or JSON) file; its format is documented in ``docs/audit.md``. Loading
validates everything a reviewer can get wrong (unknown statistic, table, column, vocabulary code,
operator, published key, duplicate id) and reports every problem at once, so a catalogue never
fails half-way through an audit.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bvall.analysis.claims.conditions import compile_condition
from bvall.analysis.claims.expressions import compile_expression
from bvall.cohort.schema import TABLES
from bvall.errors import InputError, SpecError, suggest
from bvall.stats.binomial import BINOMIAL_METHODS
from bvall.stats.exact import ALTERNATIVES
from bvall.stats.plausibility import parse_printed

#: The bundled catalogue of the seed paper.
SEED_CATALOGUE = "seed_claims.toml"

# statistic -> (required spec keys, optional spec keys, allowed published keys or None = any)
STATISTICS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str] | None]] = {
    "count": (
        frozenset({"match"}),
        frozenset({"label", "among", "closed_world", "alternatives", "requires"}),
        frozenset({"n", "N", "percent"}),
    ),
    "categories": (
        frozenset({"column"}),
        frozenset({"label", "table", "requires"}),
        None,
    ),
    "summary": (
        frozenset({"table", "column"}),
        frozenset({"label", "where", "unit", "per_patient", "requires"}),
        frozenset({"median", "min", "max", "q1", "q3", "mean", "n"}),
    ),
    "ci": (frozenset({"method", "x", "n"}), frozenset({"level"}), frozenset({"lower", "upper"})),
    "fisher": (
        frozenset(),
        frozenset({"label", "table", "rows", "match", "alternative", "requires"}),
        frozenset({"p"}),
    ),
    "km_plausibility": (
        frozenset({"n_max"}),
        frozenset({"min_events", "max_events"}),
        frozenset({"percent"}),
    ),
    "percent_plausibility": (frozenset({"n"}), frozenset(), frozenset({"percent"})),
}
PER_PATIENT = ("one", "all", "first", "sum", "min", "max", "mean", "count")
_CLAIM_KEYS = frozenset(
    {
        "id",
        "location",
        "quote",
        "published",
        "recompute",
        "not_recomputable",
        "measure",
        "note",
        "plausibility",
    }
)


@dataclass(frozen=True)
class Claim:
    """One numeric claim: where it is, what it says, and how to recompute it (or why not)."""

    id: str
    location: str
    quote: str
    published: Mapping[str, Any]
    recompute: Mapping[str, Any] | None = None
    not_recomputable: str | None = None
    measure: str | None = None
    note: str | None = None
    plausibility: Mapping[str, Any] | None = None

    @property
    def stat(self) -> str | None:
        return None if self.recompute is None else str(self.recompute["stat"])


@dataclass(frozen=True)
class Partition:
    """Claims whose published counts must add up to ``total`` (a number or ``"patients"``)."""

    id: str
    claims: tuple[str, ...]
    total: int | str
    note: str = ""


@dataclass(frozen=True)
class Catalogue:
    """A paper's claims, with the cohort they are checked against by default."""

    title: str
    source: str
    cohort: str
    claims: tuple[Claim, ...]
    partitions: tuple[Partition, ...] = ()
    origin: str = ""

    def claim(self, claim_id: str) -> Claim:
        for c in self.claims:
            if c.id == claim_id:
                return c
        raise InputError(f"No claim {claim_id!r} in {self.origin or self.title}.")


def _check_published(problems: list[str], where: str, published: Any, allowed: Any) -> None:
    if not isinstance(published, Mapping) or not published:
        problems.append(f"{where}.published: expected a table of values, got {published!r}.")
        return
    for key, value in published.items():
        if allowed is not None and key not in allowed:
            problems.append(
                f"{where}.published.{key}: not a value this statistic reports"
                f"{suggest(key, sorted(allowed))} Expected: {', '.join(sorted(allowed))}."
            )
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            problems.append(f"{where}.published.{key}: {value!r} is not a number.")
            continue
        try:
            parse_printed(value)
        except InputError:
            problems.append(f"{where}.published.{key}: {value!r} is not a number.")


def _check_condition(problems: list[str], path: str, spec: Any) -> None:
    try:
        compile_condition(path, spec)
    except SpecError as exc:
        problems.append(str(exc))


def _check_recompute(problems: list[str], where: str, spec: Any) -> None:
    path = f"{where}.recompute"
    if not isinstance(spec, Mapping) or "stat" not in spec:
        problems.append(f"{path}: expected a table with 'stat' and its settings.")
        return
    stat = spec["stat"]
    if stat not in STATISTICS:
        problems.append(
            f"{path}.stat: {stat!r} is not known{suggest(str(stat), list(STATISTICS))} "
            f"Statistics: {', '.join(STATISTICS)}."
        )
        return
    required, optional, _ = STATISTICS[stat]
    keys = set(spec) - {"stat"}
    for missing in sorted(required - keys):
        problems.append(f"{path}: {stat} needs {missing!r}.")
    for extra in sorted(keys - required - optional):
        problems.append(
            f"{path}.{extra}: not a setting of {stat}{suggest(extra, sorted(required | optional))}"
            f" Settings: {', '.join(sorted(required | optional))}."
        )
    for key in ("match", "among"):
        if key in spec:
            _check_condition(problems, f"{path}.{key}", spec[key])
    for i, cond in enumerate(spec.get("requires", [])):
        _check_condition(problems, f"{path}.requires[{i}]", cond)
    for i, alt in enumerate(spec.get("alternatives", [])):
        if not isinstance(alt, Mapping) or "match" not in alt or "label" not in alt:
            problems.append(f"{path}.alternatives[{i}]: expected {{label = ..., match = ...}}.")
            continue
        _check_condition(problems, f"{path}.alternatives[{i}].match", alt["match"])
        if "needs_review" in alt and not (
            isinstance(alt["needs_review"], str) and alt["needs_review"].strip()
        ):
            problems.append(
                f"{path}.alternatives[{i}].needs_review = {alt['needs_review']!r}: expected a "
                "sentence saying why the reading needs review."
            )
        for extra in sorted(set(alt) - {"label", "match", "among", "needs_review"}):
            problems.append(
                f"{path}.alternatives[{i}].{extra}: not a setting of an alternative; expected "
                "label, match, among or needs_review."
            )
        if "among" in alt:
            _check_condition(problems, f"{path}.alternatives[{i}].among", alt["among"])
    if stat in ("summary", "categories"):
        table = spec.get("table", "patients")
        _check_condition(problems, f"{path}.where", {"table": table, "where": spec.get("where")})
    table_ok = spec.get("table", "patients") in TABLES
    if stat in ("summary", "categories") and isinstance(spec.get("column"), str) and table_ok:
        try:
            compile_expression(f"{path}.column", spec.get("table", "patients"), spec["column"])
        except SpecError as exc:
            problems.append(str(exc))
    if stat == "summary" and spec.get("per_patient", "one") not in PER_PATIENT:
        problems.append(
            f"{path}.per_patient: {spec['per_patient']!r} is not one of {', '.join(PER_PATIENT)}."
        )
    if stat == "ci":
        if spec["method"] not in BINOMIAL_METHODS:
            problems.append(
                f"{path}.method: {spec['method']!r} is not known"
                f"{suggest(str(spec['method']), BINOMIAL_METHODS)} Methods: "
                f"{', '.join(BINOMIAL_METHODS)}."
            )
        for key in ("x", "n"):
            if not isinstance(spec.get(key), int) or isinstance(spec.get(key), bool):
                problems.append(f"{path}.{key}: expected a whole number, got {spec.get(key)!r}.")
    if stat == "fisher":
        if ("table" in spec) == ("rows" in spec):
            problems.append(f"{path}: give either 'table' (the counts) or 'rows' with 'match'.")
        if "rows" in spec:
            rows = spec["rows"]
            if not isinstance(rows, list) or len(rows) < 2:
                problems.append(f"{path}.rows: expected a list of at least two conditions.")
            else:
                for i, row in enumerate(rows):
                    _check_condition(problems, f"{path}.rows[{i}]", row)
            if "match" not in spec:
                problems.append(f"{path}: 'rows' needs 'match' (the outcome).")
        if spec.get("alternative", "two-sided") not in ALTERNATIVES:
            problems.append(
                f"{path}.alternative: {spec['alternative']!r} is not one of "
                f"{', '.join(ALTERNATIVES)}."
            )
    if stat == "km_plausibility" and not (
        spec["n_max"] == "patients" or isinstance(spec["n_max"], int)
    ):
        problems.append(f'{path}.n_max: expected a whole number or "patients".')


def _parse(raw: Mapping[str, Any], origin: str) -> Catalogue:
    problems: list[str] = []
    head = raw.get("catalogue", {})
    if not isinstance(head, Mapping):
        head = {}
        problems.append("[catalogue]: expected a table with title, source and cohort.")
    claims: list[Claim] = []
    seen: set[str] = set()
    for i, item in enumerate(raw.get("claim", [])):
        where = f"claim[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected a table.")
            continue
        cid = item.get("id")
        if isinstance(cid, str) and cid:
            where = f"claim {cid!r}"
            if cid in seen:
                problems.append(f"{where}: the id is used twice.")
            seen.add(cid)
        else:
            problems.append(f"{where}: needs an 'id'.")
        for key in ("location", "quote"):
            if not isinstance(item.get(key), str) or not item.get(key):
                problems.append(f"{where}: needs {key!r} (text).")
        for extra in sorted(set(item) - _CLAIM_KEYS):
            problems.append(
                f"{where}.{extra}: not a claim field{suggest(extra, sorted(_CLAIM_KEYS))}"
            )
        recompute = item.get("recompute")
        reason = item.get("not_recomputable")
        if (recompute is None) == (reason is None):
            problems.append(f"{where}: give either 'recompute' or 'not_recomputable' (a reason).")
        allowed = None
        if recompute is not None:
            _check_recompute(problems, where, recompute)
            stat = recompute.get("stat") if isinstance(recompute, Mapping) else None
            allowed = STATISTICS[stat][2] if stat in STATISTICS else None
        _check_published(problems, where, item.get("published"), allowed)
        plaus = item.get("plausibility")
        if plaus is not None and not (
            isinstance(plaus, Mapping) and isinstance(plaus.get("n"), int) and len(plaus) == 1
        ):
            problems.append(f"{where}.plausibility: expected {{n = <patients>}}.")
        claims.append(
            Claim(
                id=str(cid),
                location=str(item.get("location", "")),
                quote=str(item.get("quote", "")),
                published=dict(item.get("published") or {}),
                recompute=recompute,
                not_recomputable=reason,
                measure=item.get("measure"),
                note=item.get("note"),
                plausibility=plaus,
            )
        )
    partitions = []
    for i, item in enumerate(raw.get("partition", [])):
        members = item.get("claims", []) if isinstance(item, Mapping) else []
        for m in members:
            if m not in seen:
                problems.append(f"partition[{i}]: claim {m!r} is not in the catalogue.")
        total = item.get("total") if isinstance(item, Mapping) else None
        if not (total == "patients" or (isinstance(total, int) and not isinstance(total, bool))):
            problems.append(f'partition[{i}].total: expected a whole number or "patients".')
        partitions.append(
            Partition(
                str(item.get("id", f"partition-{i}")),
                tuple(members),
                total if total is not None else 0,
                str(item.get("note", "")),
            )
        )
    if not claims:
        problems.append("no [[claim]] entries.")
    if problems:
        n = len(problems)
        listed = "\n".join(f"  - {p}" for p in problems[:100])
        raise SpecError(f"Claims catalogue {origin}: {n} problem{'s' * (n != 1)}:\n{listed}")
    return Catalogue(
        title=str(head.get("title", "")),
        source=str(head.get("source", "")),
        cohort=str(head.get("cohort", "published")),
        claims=tuple(claims),
        partitions=tuple(partitions),
        origin=origin,
    )


def load_catalogue(source: str | Path | None = None) -> Catalogue:
    """Load and validate a claims catalogue (``.toml`` or ``.json``); default: the seed paper's.

    Raises :class:`SpecError` listing every problem, or :class:`InputError` for a missing or
    unreadable file.
    """
    if source is None:
        text = (resources.files("bvall.analysis") / "data" / SEED_CATALOGUE).read_text("utf-8")
        return _parse(tomllib.loads(text), f"bundled {SEED_CATALOGUE}")
    path = Path(source)
    if not path.is_file():
        raise InputError(f"Claims file {str(path)!r} does not exist or is not a file.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            raw = json.loads(text)
        elif path.suffix.lower() == ".toml":
            raw = tomllib.loads(text)
        else:
            raise InputError(f"Claims file {path.name!r} must end in .toml or .json.")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise SpecError(
            f"Claims catalogue {path.name}: not valid {path.suffix[1:]}: {exc}"
        ) from None
    if not isinstance(raw, Mapping):
        raise SpecError(f"Claims catalogue {path.name}: expected a table at the top level.")
    return _parse(raw, path.name)
