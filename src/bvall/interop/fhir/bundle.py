"""A FHIR R4 Bundle of laboratory Observations read into bvall lab rows (nothing written).

The resources are parsed and validated by ``fhir.resources`` (its ``R4B`` models: FHIR 4.3, whose
Bundle, Observation and Patient are the R4 4.0.1 resources unchanged; the package's top level is
R5). bvall then reads each Observation:

* a LOINC code listed in ``cohort/data/loinc_map.toml`` makes it a lab row; any other code (or a
  resource that is not an Observation or a Patient) is *skipped and listed*: a real feed carries
  many results bvall does not use;
* for a used code, every one of these refuses the whole bundle, each named with its entry index
  and field: a status other than final/amended/corrected; a missing or negative value; a unit the
  UCUM map or bvall's unit table does not know, or one the test does not accept; a subject that
  matches no patient (or two); a missing, partial or future date; a reference range in another
  unit; two results for one patient, test, date and time.

``effectiveDateTime`` keeps the local date and clock time as sent (no conversion to UTC or to the
server's zone: the bedside reads the time printed on the lab report). bvall's time column holds
HH:MM, so seconds are not kept. Values are kept as sent with their unit (its bvall spelling);
``referenceRange`` low/high become ``ref_low``/``ref_high`` in the same unit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pydantic
from fhir.resources.R4B.bundle import Bundle

from bvall.cohort import Problem
from bvall.cohort.units import lab_test, normalize_unit
from bvall.errors import UnknownUnitError, ValidationFailed
from bvall.interop.fhir.codes import LOINC_SYSTEM, UCUM_SYSTEM, load_code_map
from bvall.interop.fhir.patients import PatientMatching, subject_keys

#: Observation statuses whose value is a result (FHIR R4 ObservationStatus).
RESULT_STATUSES = ("final", "amended", "corrected")
#: Bundle types a feed may send (FHIR R4 BundleType); documents and messages are not lab feeds.
BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")
_NORMAL_RANGE = "normal"  # http://terminology.hl7.org/CodeSystem/referencerange-meaning


@dataclass(frozen=True)
class LabRow:
    """One bvall lab row read from an Observation, with where it came from."""

    patient_id: str
    test: str
    value: float
    unit: str
    qualifier: str | None
    date: dt.date
    time: str | None
    ref_low: float | None
    ref_high: float | None
    source: dict[str, Any]  # bundle id, entry index, Observation id, LOINC code

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = self.date.isoformat()
        return out

    def labs_row(self) -> dict[str, Any]:
        """The row as the cohort's ``labs`` table has it."""
        return {
            "patient_id": self.patient_id,
            "test": self.test,
            "value": self.value,
            "unit": self.unit,
            "qualifier": self.qualifier,
            "ref_low": self.ref_low,
            "ref_high": self.ref_high,
            "date": self.date,
            "study_day": None,
            "time": self.time,
            "timepoint": None,
        }


@dataclass(frozen=True)
class Skipped:
    """An entry bvall does not use, and why."""

    entry: int
    code: str
    reason: str


@dataclass
class FeedResult:
    """What a bundle becomes: lab rows, skipped entries, and every problem (empty when usable)."""

    bundle_id: str
    labs: list[LabRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle_id,
            "labs": [r.to_dict() for r in self.labs],
            "skipped": [asdict(s) for s in self.skipped],
            "problems": [p.to_dict() for p in self.problems],
        }

    def raise_problems(self) -> None:
        if self.problems:
            raise ValidationFailed(self.problems, f"FHIR bundle {self.bundle_id}")


def _problem(where: str, value: Any, expected: str, code: str, label: str) -> Problem:
    return Problem("bundle", None, where, value, expected, code, label)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out.replace(".[", "[")


def parse_bundle(data: str | bytes | Mapping[str, Any], label: str = "bundle") -> Bundle:
    """The bundle validated by the ``fhir.resources`` R4(B) models.

    Raises :class:`ValidationFailed` with one problem per schema error (field path with the entry
    index, the value as sent, what FHIR expects).
    """
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else dict(data)
    except json.JSONDecodeError as exc:
        bad = _problem("(file)", str(exc), "a FHIR Bundle in JSON", "file", label)
        raise ValidationFailed([bad], label) from None
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        got = raw.get("resourceType") if isinstance(raw, dict) else type(raw).__name__
        bad = _problem("resourceType", got, "'Bundle'", "type", label)
        raise ValidationFailed([bad], label)
    try:
        return Bundle.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = [
            _problem(_loc(e["loc"]), e.get("input"), f"valid FHIR R4: {e['msg']}", "type", label)
            for e in exc.errors()
        ]
        raise ValidationFailed(problems, label) from None


def _bundle_id(bundle: Bundle) -> str | None:
    if bundle.id:
        return str(bundle.id)
    ident = bundle.identifier
    if ident is not None and ident.value:
        return str(ident.value)
    return None


def _loinc_codes(obs: Any) -> list[str]:
    codings = (obs.code.coding if obs.code is not None else None) or []
    return [str(c.code) for c in codings if c.system == LOINC_SYSTEM and c.code]


def _code_label(concept: Any) -> str:
    """A CodeableConcept as ``system|code`` pairs (its text when it has no coding)."""
    codings = (concept.coding if concept is not None else None) or []
    if codings:
        return ", ".join(f"{c.system or ''}|{c.code or ''}" for c in codings)
    return (concept.text if concept is not None else None) or "(no code)"


def _unit_of(q: Any, where: str) -> tuple[str | None, str | None]:
    """bvall's spelling of a Quantity's unit, or (None, what is wrong)."""
    if q.system == UCUM_SYSTEM and q.code:
        unit = load_code_map().ucum.get(str(q.code))
        if unit is None:
            known = ", ".join(load_code_map().ucum)
            return None, f"a UCUM code bvall maps ({known})"
        return unit, None
    if q.system and q.system != UCUM_SYSTEM:
        return None, f"a unit in UCUM (system {UCUM_SYSTEM})"
    text = q.code or q.unit
    if not text:
        return None, "a unit (UCUM code, or a unit bvall knows)"
    try:
        return normalize_unit(str(text)), None
    except UnknownUnitError:
        return None, "a UCUM code bvall maps, or a unit in bvall's unit table"


def _when(obs: Any) -> tuple[dt.date | None, str | None, str, Any]:
    """(date, HH:MM, field, value as sent) of an Observation's effective time; no date when it
    is missing, partial (``2025-03``) or a period or timing (bvall needs the collection time)."""
    if obs.effectiveDateTime is not None:
        name, value = "effectiveDateTime", obs.effectiveDateTime
    elif obs.effectiveInstant is not None:
        name, value = "effectiveInstant", obs.effectiveInstant
    elif obs.effectivePeriod is not None:
        return None, None, "effectivePeriod", obs.effectivePeriod.start
    else:
        return None, None, "effectiveDateTime", None
    if isinstance(value, dt.datetime):
        return value.date(), value.strftime("%H:%M"), name, value
    if isinstance(value, dt.date):
        return value, None, name, value
    return None, None, name, value


def _range(obs: Any, unit: str, where: str, label: str) -> tuple[Any, Any, list[Problem]]:
    ranges = obs.referenceRange or []
    normal = [
        r
        for r in ranges
        if r.type is None
        or any(c.code == _NORMAL_RANGE for c in (r.type.coding or []))
        or (r.type.text or "").lower() == _NORMAL_RANGE
    ]
    if not normal:
        return None, None, []
    rr = normal[0]
    i = ranges.index(rr)
    bounds: list[float | None] = []
    problems: list[Problem] = []
    for name in ("low", "high"):
        q = getattr(rr, name)
        if q is None or q.value is None:
            bounds.append(None)
            continue
        if q.code or q.unit:
            r_unit, _ = _unit_of(q, where)
            if r_unit != unit:
                problems.append(
                    _problem(
                        f"{where}.referenceRange[{i}].{name}",
                        f"{q.value} {q.code or q.unit}",
                        f"the reference range in the value's unit ({unit})",
                        "unit",
                        label,
                    )
                )
                bounds.append(None)
                continue
        bounds.append(float(q.value))
    return bounds[0], bounds[1], problems


def derive_lab_rows(
    data: str | bytes | Mapping[str, Any],
    *,
    today: dt.date,
    patients: Mapping[str, str | None] | None = None,
    matching: PatientMatching | None = None,
    label: str = "bundle",
) -> FeedResult:
    """The lab rows a bundle becomes, its skipped entries and every problem.

    ``today`` is the date no result may be after (an argument: no hidden clock). ``patients``
    maps the bvall patient ids the caller may write to their site; ``None`` reads the bundle
    offline (subjects are resolved by ``matching`` alone, unchecked). Schema errors raise
    :class:`ValidationFailed`; content problems are returned in :attr:`FeedResult.problems`.
    """
    matching = matching or PatientMatching()
    bundle = parse_bundle(data, label)
    bid = _bundle_id(bundle)
    result = FeedResult(bundle_id=bid or "(no id)")
    if bid is None:
        result.problems.append(
            _problem(
                "id", None, "Bundle.id or Bundle.identifier (the audit reason)", "required", label
            )
        )
    if bundle.type not in BUNDLE_TYPES:
        result.problems.append(
            _problem("type", bundle.type, f"one of {', '.join(BUNDLE_TYPES)}", "vocabulary", label)
        )
    entries = bundle.entry or []
    index: dict[str, Any] = {}
    for e in entries:
        found: Any = e.resource
        if found is not None and found.get_resource_type() == "Patient":
            if e.fullUrl:
                index[str(e.fullUrl)] = found
            if found.id:
                index[f"Patient/{found.id}"] = found
    seen: dict[tuple[Any, ...], int] = {}
    codes = load_code_map()
    for i, e in enumerate(entries):
        res: Any = e.resource
        where = f"entry[{i}].resource"
        if res is None:
            result.skipped.append(Skipped(i, "", "entry without a resource"))
            continue
        kind = res.get_resource_type()
        if kind == "Patient":
            continue
        if kind != "Observation":
            result.skipped.append(Skipped(i, kind, f"resource type {kind}, not an Observation"))
            continue
        used = [c for c in _loinc_codes(res) if c in codes.loinc]
        if not used:
            result.skipped.append(Skipped(i, _code_label(res.code), "LOINC code not used by bvall"))
            continue
        tests = {codes.loinc[c].test for c in used}
        problems: list[Problem] = []

        def bad(path: str, value: Any, expected: str, code: str) -> None:
            problems.append(_problem(f"{where}{path}", value, expected, code, label))  # noqa: B023

        if len(tests) > 1:
            bad(".code.coding", used, "LOINC codes of one bvall test", "consistency")
        test = lab_test(codes.loinc[used[0]].test)
        if res.status not in RESULT_STATUSES:
            bad(
                ".status",
                res.status,
                f"a result status: {', '.join(RESULT_STATUSES)}",
                "vocabulary",
            )
        q = res.valueQuantity
        value: float | None = None
        unit: str | None = None
        qualifier: str | None = None
        if q is None or q.value is None:
            absent = res.dataAbsentReason
            why = f" (dataAbsentReason: {absent.text or _code_label(absent)})" if absent else ""
            bad(".valueQuantity.value", None, f"a value for {test.name}{why}", "required")
        else:
            value = float(q.value)
            if value < 0:
                bad(".valueQuantity.value", value, "a value of 0 or more", "range")
            qualifier = str(q.comparator) if q.comparator else None
            unit, wrong = _unit_of(q, where)
            if unit is None:
                bad(".valueQuantity.code", q.code or q.unit, str(wrong), "unit")
            elif unit not in test.factors:
                bad(
                    ".valueQuantity.code",
                    q.code or q.unit,
                    f"a unit accepted for {test.name}: {', '.join(test.accepted_units)}",
                    "unit",
                )
        date, time, date_field, date_value = _when(res)
        if date is None:
            bad(
                f".{date_field}",
                None if date_value is None else str(date_value),
                "effectiveDateTime: the collection date (YYYY-MM-DD, time optional)",
                "type",
            )
        elif date > today:
            # The one date check of the feed; the cohort's own date checks run on import.
            bad(f".{date_field}", date.isoformat(), f"a date not after today ({today})", "range")
        pid, wrong_subject = matching.resolve(subject_keys(res, index), patients)
        if pid is None:
            bad(
                ".subject",
                res.subject.reference if res.subject else None,
                wrong_subject,
                "reference",
            )
        ref_low = ref_high = None
        if unit is not None:
            ref_low, ref_high, range_problems = _range(res, unit, where, label)
            problems += range_problems
        key = (pid, test.code, date, time)
        if pid is not None and date is not None and key in seen:
            bad(
                "",
                f"{test.code} {date} {time or ''}".strip(),
                f"one result per patient, test, date and time (entry[{seen[key]}] has one)",
                "duplicate",
            )
        seen.setdefault(key, i)
        if problems:
            result.problems += problems
            continue
        assert pid is not None
        assert value is not None
        assert unit is not None
        assert date is not None
        result.labs.append(
            LabRow(
                patient_id=pid,
                test=test.code,
                value=value,
                unit=unit,
                qualifier=qualifier,
                date=date,
                time=time,
                ref_low=ref_low,
                ref_high=ref_high,
                source={
                    "bundle": result.bundle_id,
                    "entry": i,
                    "observation": str(res.id) if res.id else None,
                    "loinc": used[0],
                },
            )
        )
    return result
