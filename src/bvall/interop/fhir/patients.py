"""Which bvall patient an Observation's ``subject`` is.

``Observation.subject`` is a reference to a Patient in the bundle (``urn:uuid:…`` or
``Patient/<id>``), a reference to a Patient elsewhere, or a logical identifier. Its *keys* are the
Patient's resource id (system ``None``) and every ``(system, value)`` identifier it carries.

By default bvall's patient id is the Patient's resource id (``Patient/BV-01``). A site whose
EHR keeps the study id as an identifier names that identifier's system, in ``fhir.toml`` in the
bvall home folder::

    [fhir]
    patient_identifier_system = "http://hospital.example/sid/bv-study"   # every site (optional)

    [fhir.sites]
    JSPH = "http://jsph.example/fhir/sid/bvall"                          # one site

Then only an identifier of that system matches a patient of that site. A key never matches two
patients silently: a subject whose keys name two bvall patients is refused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bvall.errors import ConfigurationError

Key = tuple[str | None, str]


def subject_keys(obs: Any, index: Mapping[str, Any]) -> list[Key]:
    """The (system, value) keys of an Observation's subject; system ``None`` is a resource id."""
    subject = obs.subject
    if subject is None:
        return []
    keys: list[Key] = []
    ref = str(subject.reference) if subject.reference else None
    patient = index.get(ref) if ref else None
    if patient is None and ref and "Patient/" in ref:
        patient = index.get("Patient/" + ref.rsplit("Patient/", 1)[1].split("/")[0])
    if patient is not None:
        if patient.id:
            keys.append((None, str(patient.id)))
        for ident in patient.identifier or []:
            if ident.value:
                keys.append((ident.system, str(ident.value)))
    elif ref and "Patient/" in ref:
        keys.append((None, ref.rsplit("Patient/", 1)[1].split("/")[0]))
    if subject.identifier is not None and subject.identifier.value:
        keys.append((subject.identifier.system, str(subject.identifier.value)))
    return list(dict.fromkeys(keys))


@dataclass(frozen=True)
class PatientMatching:
    """The identifier system that carries bvall's patient id: overall and per site."""

    default_system: str | None = None
    site_systems: Mapping[str, str | None] = field(default_factory=dict)

    def system_for(self, site: str | None) -> str | None:
        if site is not None and site in self.site_systems:
            return self.site_systems[site]
        return self.default_system

    def _describe(self) -> str:
        # Site codes are not named: an error never tells a caller about other sites.
        text = (
            "the Patient's resource id"
            if self.default_system is None
            else f"an identifier of system {self.default_system}"
        )
        return text + (
            ", or the identifier system of the patient's site" if self.site_systems else ""
        )

    def resolve(
        self, keys: list[Key], patients: Mapping[str, str | None] | None
    ) -> tuple[str | None, str]:
        """(bvall patient id, '') or (None, what was expected).

        ``patients`` maps the ids the caller may write to their site; ``None`` resolves offline
        with the overall system only.
        """
        if not keys:
            return None, "a subject: a reference to a Patient, or an identifier"
        if patients is None:
            found = {v for s, v in keys if s == self.default_system}
        else:
            found = {v for s, v in keys if v in patients and s == self.system_for(patients[v])}
        if len(found) == 1:
            return found.pop(), ""
        shown = ", ".join(f"{s or 'id'}={v}" for s, v in keys)
        if not found:
            return None, (
                f"a patient you may see (subject keys {shown}; bvall matches by {self._describe()})"
            )
        return None, f"one patient, not {len(found)} ({', '.join(sorted(found))})"


def load_patient_matching(path: Path) -> PatientMatching:
    """The matching configured in ``path`` (``fhir.toml``); the default when it does not exist."""
    if not path.exists():
        return PatientMatching()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8")).get("fhir", {})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML ({exc}).") from None
    default = raw.get("patient_identifier_system")
    sites = raw.get("sites", {})
    if not isinstance(sites, dict) or not all(isinstance(v, str) for v in sites.values()):
        raise ConfigurationError(
            f"{path}: [fhir.sites] must map site codes to identifier systems (text)."
        )
    return PatientMatching(default_system=default, site_systems=dict(sites))
