"""Fixtures for store and web tests: a small two-site cohort and one user per role."""

from __future__ import annotations

from typing import Any

import pytest

SITE_A, SITE_B = "SITEA", "SITEB"


def small_cohort() -> Any:
    """Three patients at two sites, with courses, doses, dated labs, a marrow and an AE."""
    from bvall.cohort import Cohort

    patients = [
        {
            "patient_id": "A01",
            "site_id": SITE_A,
            "sex": "F",
            "age_years": 61,
            "arm": "concurrent",
            "diagnosis": "b_all_ph_negative",
        },
        {"patient_id": "A02", "site_id": SITE_A, "sex": "M", "age_years": 45, "arm": "sequential"},
        {"patient_id": "B01", "site_id": SITE_B, "sex": "M", "age_years": 70, "arm": "concurrent"},
    ]
    courses = [
        {
            "patient_id": "A01",
            "course_id": "IND",
            "course_type": "induction",
            "regimen": "bv-concurrent",
            "course_number": 1,
            "start_date": "2025-03-03",
            "end_date": "2025-03-16",
        },
        {
            "patient_id": "B01",
            "course_id": "IND",
            "course_type": "induction",
            "regimen": "bv-concurrent",
            "course_number": 1,
            "start_date": "2025-04-07",
            "end_date": "2025-04-20",
        },
    ]
    doses = [
        {
            "patient_id": "A01",
            "course_id": "IND",
            "agent": "venetoclax",
            "dose": 100,
            "dose_unit": "mg",
            "study_day_start": 1,
            "study_day_end": 1,
            "status": "given",
        },
        {
            "patient_id": "A01",
            "course_id": "IND",
            "agent": "venetoclax",
            "dose": 200,
            "dose_unit": "mg",
            "study_day_start": 2,
            "study_day_end": 2,
            "status": "given",
        },
    ]
    labs = [
        {
            "patient_id": "A01",
            "test": "anc",
            "value": 0.4,
            "unit": "10^9/L",
            "study_day": 1,
            "ref_low": 1.8,
            "ref_high": 7.5,
        },
        {"patient_id": "A01", "test": "anc", "value": 0.3, "unit": "10^9/L", "study_day": 2},
        {"patient_id": "A01", "test": "platelets", "value": 41, "unit": "10^9/L", "study_day": 1},
        {"patient_id": "B01", "test": "hemoglobin", "value": 8.7, "unit": "g/dL", "study_day": 1},
    ]
    marrow = [
        {
            "patient_id": "A01",
            "timepoint": "d14_21",
            "study_day": 15,
            "blasts_percent": 2.0,
            "mrd_status": "negative",
            "response_reported": "CR",
        },
    ]
    aes = [
        {
            "patient_id": "A01",
            "term": "Febrile neutropenia",
            "grade": 3,
            "grading_system": "CTCAE v5.0",
            "onset_day": 5,
            "notes": "blood cultures negative",
        },
    ]
    return Cohort.from_tables(
        {
            "patients": patients,
            "treatment_courses": courses,
            "dose_administrations": doses,
            "labs": labs,
            "marrow_assessments": marrow,
            "adverse_events": aes,
        },
        {"name": "small", "title": "Small test cohort", "synthetic": True},
    )


@pytest.fixture
def loaded(db: Any) -> Any:
    """The small cohort loaded into the test database (its two sites added first)."""
    from bvall.store.access import COMMAND_LINE
    from bvall.store.convert import load_cohort_into_database
    from bvall.store.sites import add_missing_sites

    add_missing_sites(COMMAND_LINE, [SITE_A, SITE_B], reason="test sites")
    cohort = small_cohort()
    load_cohort_into_database(cohort, reason="test load")
    return cohort


@pytest.fixture
def users(db: Any) -> dict[str, Any]:
    """One user per role at site A, an all-sites admin, and a data-entry user at site B."""
    from django.contrib.auth import get_user_model

    from bvall.store.access import COMMAND_LINE
    from bvall.store.database import create_user
    from bvall.store.sites import add_missing_sites

    add_missing_sites(COMMAND_LINE, [SITE_A, SITE_B], reason="test sites")
    spec = {
        "admin": ("admin", (), True),
        "investigator": ("investigator", (SITE_A,), False),
        "data_entry": ("data_entry", (SITE_A,), False),
        "monitor": ("monitor", (SITE_A,), False),
        "entry_b": ("data_entry", (SITE_B,), False),
    }
    out = {}
    for name, (role, sites, all_sites) in spec.items():
        create_user(
            name, role, sites=sites, all_sites=all_sites, password="correct horse battery staple"
        )
        out[name] = get_user_model().objects.get(username=name)
    return out


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is deliberately slow; in-process tests hash with a fast hasher instead.

    test_security checks that the configured hasher (what `bvall serve` uses) is Argon2.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
