"""The CDISC download of the Analysis page (``/analysis/cdisc.zip``)."""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd
import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_an_investigator_downloads_the_visible_patients_as_cdisc(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c = _client(users["investigator"])
    assert "CDISC SDTM + ADaM (ZIP)" in c.get("/analysis/").content.decode()
    r = c.get("/analysis/cdisc.zip")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = set(z.namelist())
        assert {"dm.xpt", "adsl.json", "adtte.xpt", "define.xml"} <= names
        dm = pd.read_sas(io.BytesIO(z.read("dm.xpt")), format="xport", encoding="utf-8")
        adsl = json.loads(z.read("adsl.json"))
    # the investigator sees site A only: A01 and A02, never B01
    assert sorted(dm["SUBJID"]) == ["A01", "A02"]
    assert adsl["records"] == 2


def test_monitors_and_data_entry_cannot_export_patient_level_data(loaded, users) -> None:  # type: ignore[no-untyped-def]
    for role in ("monitor", "data_entry"):
        c = _client(users[role])
        assert c.get("/analysis/cdisc.zip").status_code == 403
    assert "CDISC SDTM" not in _client(users["monitor"]).get("/analysis/").content.decode()
