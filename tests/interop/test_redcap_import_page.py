"""The Import page takes a REDCap dictionary with its records as another kind of import."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

pytestmark = pytest.mark.django_db

DATA = Path(__file__).parent / "data" / "redcap"


def _upload(name: str, text: str | None = None) -> SimpleUploadedFile:
    body = (DATA / name).read_bytes() if text is None else text.encode()
    return SimpleUploadedFile(name, body)


def test_redcap_pair_is_checked_then_committed_all_or_nothing(
    loaded: Any, users: Any, tmp_path: Path, settings: Any
) -> None:
    from bvall.store.models import Lab, Patient

    settings.HOME = tmp_path
    c = Client()
    c.force_login(users["admin"])
    bad_records = (DATA / "unit_records.csv").read_text(encoding="utf-8").replace(",0.3,", ",-0.3,")
    html = c.post(
        "/import/",
        {
            "files": [
                _upload("unit_dictionary.csv"),
                _upload("unit_records.csv", bad_records),
                _upload("unit_mapping.toml"),
            ],
            "reason": "REDCap",
        },
    ).content.decode()
    assert "1 problem found; nothing was written." in html
    assert "unit_records.csv" in html
    html = c.post(
        "/import/",
        {
            "files": [
                _upload("unit_dictionary.csv"),
                _upload("unit_records.csv"),
                _upload("unit_mapping.toml"),
            ],
            "reason": "REDCap",
        },
    ).content.decode()
    token = re.search(r"/import/([0-9a-f]+)/commit/", html).group(1)  # type: ignore[union-attr]
    assert not Patient.objects.filter(patient_id="U01").exists()
    assert c.post(f"/import/{token}/commit/", {"reason": "REDCap"}).status_code == 302
    assert Patient.objects.get(patient_id="U01").sex == "F"
    assert Lab.objects.filter(patient_id="U01").count() == 6
    # without the mapping, the project's fields are listed for a person to place
    html = c.post(
        "/import/",
        {"files": [_upload("unit_dictionary.csv"), _upload("unit_records.csv")], "reason": "x"},
    ).content.decode()
    assert "nothing was written" in html
    assert "bvall redcap mapping" in html
