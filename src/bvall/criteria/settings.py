"""Named choices of the criteria engine: :class:`CriteriaSettings`.

Where sources disagree, or where a source assumes the worst because it cannot see the data that
bvall records, the engine does not pick silently: the choice is a named setting. Each setting's
options, default, sources and the reason for the default are written beside the criteria they
change, in the ``[[setting]]`` tables of the data files in ``bvall/criteria/data/``
(:func:`bvall.criteria.rules.setting_docs` collects them; a test keeps them and this class in
step). Example: ``CriteriaSettings(count_recovery_comparator=">")`` uses the NCCN/ELN wording for
count recovery instead of the seed paper's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args, get_type_hints

from bvall.errors import InputError, UnknownNameError, suggest

MissingBaseline = Literal["not_gradable", "admiral"]
Hypokalaemia = Literal["assume_symptomatic", "intervention_recorded", "assume_asymptomatic"]
Hyperuricaemia = Literal["assume_consequences", "assume_none"]
CalciumCorrection = Literal["albumin_required", "uncorrected_if_no_albumin"]
VasopressinAlone = Literal["counts_as_vasopressor", "not_counted"]
TlsCriteria = Literal["cairo_bishop_2004", "howard_2011"]
TlsStart = Literal["induction_d1", "prephase_start"]
TlsCreatinineBoundary = Literal["ge", "gt"]
Comparator = Literal[">=", ">"]
RelapseThreshold = Literal["gt_5", "ge_25"]
Znf384Mef2dRisk = Literal["poor", "intermediate"]
BelowThresholdDays = Literal["measured_days", "duration"]


@dataclass(frozen=True)
class CriteriaSettings:
    """Every named choice of the criteria engine, with its default.

    Lab grading (CTCAE v5.0; ``data/ctcae_v5_labs.toml``):

    * ``baseline_last_day`` (0): the baseline of a lab test is its last value on or before this
      study day (0 = before D1).
    * ``missing_baseline`` ("not_gradable"): a value whose grade depends on a missing baseline is
      not gradable; "admiral" copies admiral (ULN criteria for ALT/AST/bilirubin, ×baseline and
      %-change clauses skipped).
    * ``signif_digits`` (15): both sides of every comparison are rounded to this many significant
      digits (admiral ``signif_digits``).
    * ``hypokalaemia_lln_to_3`` ("assume_symptomatic"): grade of K⁺ < LLN–3.0 mmol/L (admiral
      worst case = 2); "intervention_recorded" grades 2 only when potassium replacement is
      recorded, else 1.
    * ``hyperuricaemia_above_uln`` ("assume_consequences"): grade of uric acid > ULN (admiral
      worst case = 3; "assume_none" = 1).
    * ``calcium_correction`` ("albumin_required") and ``albumin_reference_g_l`` (40): corrected
      calcium (Payne) for hypocalcaemia and TLS.

    CRS / ICANS (ASTCT 2019; ``data/astct_crs.toml``, ``data/astct_icans.toml``):
    ``hypotension_sbp_mmhg`` (90), ``vasopressin_alone``
    ("counts_as_vasopressor"), ``crs_attribution_days`` (2), ``icans_attribution_days`` (7),
    ``episode_gap_hours`` (24).

    Febrile neutropenia (CTCAE v5.0; ``data/ctcae_v5_clinical.toml``): ``fn_anc_lookback_days`` (1).

    TLS (``data/tls.toml``): ``tls_criteria`` ("cairo_bishop_2004"), ``tls_therapy_start``
    ("induction_d1"), ``tls_creatinine_boundary`` ("ge").

    Response and risk (NCCN; ``data/nccn_response.toml``, ``data/nccn_risk.toml``):
    ``count_recovery_comparator`` (">=", the paper's), ``relapse_marrow_blasts`` ("gt_5"),
    ``mrd_threshold`` (1e-4), ``mrd_requires_sensitivity`` (True), ``response_counts_window_days``
    (3), ``znf384_mef2d_risk`` ("poor"), ``crlf2_r_as_ph_like`` (True).

    Endpoints and eligibility (``data/endpoints.toml``, ``data/eligibility.toml``):
    ``induction_max_day`` (42), ``below_threshold_days`` ("measured_days"),
    ``study_period_start`` / ``study_period_end`` (the paper's 2024-03-01 to 2025-03-31).
    """

    # lab grading
    baseline_last_day: int = 0
    missing_baseline: MissingBaseline = "not_gradable"
    signif_digits: int = 15
    hypokalaemia_lln_to_3: Hypokalaemia = "assume_symptomatic"
    hyperuricaemia_above_uln: Hyperuricaemia = "assume_consequences"
    calcium_correction: CalciumCorrection = "albumin_required"
    albumin_reference_g_l: float = 40.0
    # CRS / ICANS
    hypotension_sbp_mmhg: float = 90.0
    vasopressin_alone: VasopressinAlone = "counts_as_vasopressor"
    crs_attribution_days: int = 2
    icans_attribution_days: int = 7
    episode_gap_hours: float = 24.0
    # febrile neutropenia
    fn_anc_lookback_days: int = 1
    # TLS
    tls_criteria: TlsCriteria = "cairo_bishop_2004"
    tls_therapy_start: TlsStart = "induction_d1"
    tls_creatinine_boundary: TlsCreatinineBoundary = "ge"
    # response and risk
    count_recovery_comparator: Comparator = ">="
    relapse_marrow_blasts: RelapseThreshold = "gt_5"
    mrd_threshold: float = 1e-4
    mrd_requires_sensitivity: bool = True
    response_counts_window_days: int = 3
    znf384_mef2d_risk: Znf384Mef2dRisk = "poor"
    crlf2_r_as_ph_like: bool = True
    # endpoints and eligibility
    induction_max_day: int = 42
    below_threshold_days: BelowThresholdDays = "measured_days"
    study_period_start: dt.date = dt.date(2024, 3, 1)
    study_period_end: dt.date = dt.date(2025, 3, 31)

    def __post_init__(self) -> None:
        hints = _hints()
        for f in fields(self):
            value = getattr(self, f.name)
            options = get_args(hints[f.name])
            if options and value not in options:
                raise InputError(
                    f"Setting {f.name}={value!r} is not an option"
                    f"{suggest(str(value), [str(o) for o in options])} "
                    f"Options: {', '.join(repr(o) for o in options)}."
                )
        if not 1 <= self.signif_digits <= 17:
            raise InputError(
                f"Setting signif_digits={self.signif_digits!r} must be between 1 and 17."
            )
        if self.mrd_threshold <= 0 or self.mrd_threshold >= 1:
            raise InputError(
                f"Setting mrd_threshold={self.mrd_threshold!r} must be a fraction between 0 and 1 "
                "(1e-4 = 0.01 %)."
            )
        if self.study_period_end < self.study_period_start:
            raise InputError(
                f"Setting study_period_end={self.study_period_end} is before "
                f"study_period_start={self.study_period_start}."
            )
        for name in (
            "crs_attribution_days",
            "icans_attribution_days",
            "fn_anc_lookback_days",
            "response_counts_window_days",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"Setting {name}={getattr(self, name)!r} must be 0 or more.")

    def replace(self, **changes: Any) -> CriteriaSettings:
        """A copy with some settings changed (validated)."""
        return dataclasses.replace(self, **changes)

    def changed(self) -> dict[str, Any]:
        """The settings that differ from their defaults."""
        default = CriteriaSettings()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            f.name: (v.isoformat() if isinstance(v := getattr(self, f.name), dt.date) else v)
            for f in fields(self)
        }

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CriteriaSettings:
        """Settings from text values (``{"count_recovery_comparator": ">"}``, CLI ``--set``)."""
        hints = get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for name, raw_value in raw.items():
            if name not in known:
                raise UnknownNameError(
                    f"{name!r} is not a criteria setting{suggest(name, list(known))} "
                    f"Settings: {', '.join(known)}."
                )
            values[name] = _coerce(name, hints[name], raw_value)
        return cls(**values)


def _coerce(name: str, hint: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    try:
        if hint is bool:
            lowered = text.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if hint is int:
            return int(text)
        if hint is float:
            return float(text)
        if hint is dt.date:
            return dt.date.fromisoformat(text)
    except ValueError:
        kind = {bool: "true/false", int: "a whole number", float: "a number"}.get(
            hint, "a date YYYY-MM-DD"
        )
        raise InputError(f"Setting {name}={raw!r} is not {kind}.") from None
    return text


def setting_names() -> tuple[str, ...]:
    """The names of every setting, in declaration order."""
    return tuple(f.name for f in fields(CriteriaSettings))


@functools.cache
def _hints() -> dict[str, Any]:
    """The type hints of :class:`CriteriaSettings` (read once: every derivation checks its
    settings)."""
    return get_type_hints(CriteriaSettings)
