"""The pages as a study coordinator uses them (Django test client, in-process)."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import escape

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    c = Client()
    c.force_login(user)
    return c


def test_cohort_list_shows_visible_patients_with_study_day_and_reported_response(
    loaded, users
) -> None:  # type: ignore[no-untyped-def]
    html = _client(users["investigator"]).get("/").content.decode()
    assert "A01" in html
    assert "A02" in html
    assert "B01" not in html  # site B
    assert "CR, MRD−" in html  # reported marrow of A01
    assert "2025-03-03" in html  # induction D1 of A01
    assert "SYNTHETIC DEMO DATA" in html  # the loaded cohort's metadata says synthetic
    # the current-alerts column is wired to the criteria engine (no "not connected" slot)
    assert "not yet connected" not in html
    assert "alert.lab_grade_ge3" in html


def test_htmx_filter_returns_only_rows(loaded, users) -> None:  # type: ignore[no-untyped-def]
    r = _client(users["admin"]).get("/?q=B0", HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert "<html" not in html
    assert "B01" in html
    assert "A01" not in html


def test_patient_page_shows_observed_data_and_the_engines_panels(loaded, users) -> None:  # type: ignore[no-untyped-def]
    html = _client(users["investigator"]).get("/patients/A01/").content.decode()
    assert "<svg" in html
    assert "Absolute neutrophil count" in html
    assert "Febrile neutropenia" in html
    assert "blood cultures negative" in html
    for slot in (
        "Alerts",
        "Grades",
        "Plan against doses given",
        "CRS, ICANS and TLS episodes",
        "Derived response",
    ):
        assert slot in html
    assert "not yet connected" not in html
    # small cohort: A01 ANC 0.3 x10^9/L on D2 is CTCAE grade 4 (< 0.5 x10^9/L), an alert
    # (rule ids carry line-break opportunities after dots and underscores)
    assert "ctcae_v5_labs.neutrophil_count_decreased.g4" in html.replace("<wbr>", "")
    # the first screen: status, what needs attention, counts
    assert 'id="status"' in html
    assert "Neutrophil count decreased: grade 4" in html
    # closed sections still show how many rows they hold (A01 has two vitals rows or none:
    # the count is the database's)
    from bvall.store.models import Vital

    n = Vital.objects.filter(patient_id="A01").count()
    assert f'Vital signs and organ support <span class="count">{n}</span>' in html
    assert "Neutrophil count decreased grade 4 (D2: 0.3 10^9/L)" in html  # the open alert
    assert "as of" not in html


def test_days_labs_form_saves_all_values_with_units_as_entered(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    c = _client(users["data_entry"])
    form = c.get("/patients/A02/labs/day/").content.decode()
    assert 'name="value_anc"' in form
    assert 'name="unit_hemoglobin"' in form
    r = c.post(
        "/patients/A02/labs/day/",
        {
            "study_day": "3",
            "date": "2025-05-05",
            "value_anc": "0.9",
            "unit_anc": "10^9/L",
            "value_hemoglobin": "9.1",
            "unit_hemoglobin": "g/dL",
            "reason": "",
        },
    )
    assert r.status_code == 302
    saved = {
        (lab.test, lab.value, lab.unit, lab.study_day)
        for lab in Lab.objects.filter(patient_id="A02")
    }
    assert saved == {("anc", 0.9, "10^9/L", 3), ("hemoglobin", 9.1, "g/dL", 3)}


def test_a_range_left_empty_takes_the_catalogue_default_and_the_page_says_so(
    loaded, users, tmp_path, settings
) -> None:  # type: ignore[no-untyped-def]
    """Reference: reference_ranges.toml (Pathology Harmony 2011: potassium 3.5-5.3 mmol/L;
    Mayo Clinic Laboratories: creatinine, males 65.4-119.3 umol/L); lab_tests.toml: creatinine
    1 mg/dL = 88.4 umol/L. A02 is male. A typed range is kept as typed."""
    from bvall.store.models import Lab

    settings.HOME = str(tmp_path)  # no site table there: bvall's defaults
    c = _client(users["data_entry"])
    form = c.get("/patients/A02/labs/day/").content.decode()
    assert 'placeholder="3.5"' in form  # the default is shown before saving
    r = c.post(
        "/patients/A02/labs/day/",
        {
            "study_day": "3",
            "value_potassium": "4.1",
            "unit_potassium": "mmol/L",
            "value_creatinine": "1.0",
            "unit_creatinine": "mg/dL",
            "value_sodium": "139",
            "unit_sodium": "mmol/L",
            "ref_low_sodium": "135",
            "ref_high_sodium": "145",
        },
        follow=True,
    )
    labs = {lab.test: lab for lab in Lab.objects.filter(patient_id="A02")}
    assert (labs["potassium"].ref_low, labs["potassium"].ref_high) == (3.5, 5.3)
    assert labs["creatinine"].ref_low == pytest.approx(65.4 / 88.4, rel=1e-5)
    assert labs["creatinine"].ref_high == pytest.approx(119.3 / 88.4, rel=1e-5)
    assert (labs["sodium"].ref_low, labs["sodium"].ref_high) == (135, 145)
    text = r.content.decode()
    assert "Saved 3 lab values for A02." in text
    assert "Reference range left empty, taken from bvall&#x27;s table" in text
    assert "Potassium" in text.split("taken from")[1]
    assert "Sodium" not in text.split("taken from")[1].split("</div>")[0]
    # a site's own table replaces bvall's for the tests it lists
    (tmp_path / "reference_ranges.toml").write_text(
        '[ranges.potassium]\nlow = 3.6\nhigh = 5.0\nsource = "our laboratory, 2026"\n',
        encoding="utf-8",
    )
    r = c.post(
        "/patients/A02/labs/day/",
        {"study_day": "4", "value_potassium": "4.2", "unit_potassium": "mmol/L"},
        follow=True,
    )
    lab = Lab.objects.get(patient_id="A02", test="potassium", study_day=4)
    assert (lab.ref_low, lab.ref_high) == (3.6, 5.0)
    assert "taken from your site&#x27;s table: Potassium" in r.content.decode()


def test_changing_a_units_converts_the_rows_reference_range_and_says_so(loaded, users) -> None:  # type: ignore[no-untyped-def]
    """Reference: lab_tests.toml factors, haemoglobin 1 g/dL = 10 g/L, creatinine
    1 mg/dL = 88.4 umol/L (its header cites the SI conversion tables)."""
    c = _client(users["data_entry"])
    base = "/patients/A02/labs/day/row"
    r = c.get(
        f"{base}/hemoglobin/",
        {
            "value_hemoglobin": "8.1",
            "unit_hemoglobin": "g/dL",
            "range_unit_hemoglobin": "g/L",
            "ref_low_hemoglobin": "115",
            "ref_high_hemoglobin": "155",
        },
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert html.lstrip().startswith("<tr")
    assert 'name="ref_low_hemoglobin" value="11.5"' in html
    assert 'name="ref_high_hemoglobin" value="15.5"' in html
    assert 'name="value_hemoglobin" value="8.1"' in html  # the value stays as typed
    assert 'name="range_unit_hemoglobin" value="g/dL"' in html
    assert "Reference range converted from g/L to g/dL." in html
    r = c.get(
        f"{base}/creatinine/",
        {
            "unit_creatinine": "mg/dL",
            "range_unit_creatinine": "umol/L",
            "ref_low_creatinine": "62",
            "ref_high_creatinine": "1,2",
        },
    )
    html = r.content.decode()
    low = float(html.split('name="ref_low_creatinine" value="')[1].split('"')[0])
    assert low == pytest.approx(62 / 88.4, rel=1e-5)
    assert 'name="ref_high_creatinine" value="1,2"' in html  # not a number: left as typed
    assert "Not converted (not a number): &#x27;1,2&#x27;." in html
    # the same unit: nothing converted, nothing said
    same = c.get(
        f"{base}/hemoglobin/",
        {"unit_hemoglobin": "g/L", "range_unit_hemoglobin": "g/L", "ref_low_hemoglobin": "115"},
    ).content.decode()
    assert 'value="115"' in same
    assert "converted" not in same
    assert c.get(f"{base}/nonsense/").status_code == 404
    assert _client(users["monitor"]).get(f"{base}/hemoglobin/").status_code == 403
    assert _client(users["entry_b"]).get(f"{base}/hemoglobin/").status_code == 404


def test_days_labs_form_shows_field_messages_and_saves_nothing(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    c = _client(users["data_entry"])
    r = c.post(
        "/patients/A02/labs/day/",
        {
            "value_anc": "0,9",
            "unit_anc": "10^9/L",
            "value_potassium": "40",
            "unit_potassium": "mmol/L",
        },
    )
    html = r.content.decode()
    assert r.status_code == 200
    assert "Not saved." in html
    assert "value: &#x27;0,9&#x27;: expected a number" in html
    assert "plausible Potassium" in html
    assert "at least one of date, study_day, timepoint" in html
    assert not Lab.objects.filter(patient_id="A02").exists()


def test_edit_with_reason_appears_in_the_audit_log(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    lab = Lab.objects.get(patient_id="A01", test="platelets")
    c = _client(users["investigator"])
    page = c.get(f"/records/labs/{lab.pk}/edit/").content.decode()
    assert 'name="version"' in page
    assert 'value="41"' in page
    r = c.post(
        f"/records/labs/{lab.pk}/edit/",
        {
            "test": "platelets",
            "value": "14",
            "unit": "10^9/L",
            "study_day": "1",
            "version": "1",
            "reason": "",
        },
    )
    assert "A reason is required" in r.content.decode()
    r = c.post(
        f"/records/labs/{lab.pk}/edit/",
        {
            "test": "platelets",
            "value": "14",
            "unit": "10^9/L",
            "study_day": "1",
            "version": "1",
            "reason": "digits swapped",
        },
    )
    assert r.status_code == 302
    audit = c.get("/audit/?patient=A01").content.decode()
    assert "digits swapped" in audit
    assert "<del>41</del> → <ins>14</ins>" in audit


def test_conflicting_edit_shows_both_versions_and_loses_nothing(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    lab = Lab.objects.get(patient_id="A01", test="platelets")
    a, b = _client(users["investigator"]), _client(users["data_entry"])
    base = {"test": "platelets", "unit": "10^9/L", "study_day": "1", "version": "1"}
    assert (
        a.post(
            f"/records/labs/{lab.pk}/edit/", {**base, "value": "40", "reason": "first"}
        ).status_code
        == 302
    )
    r = b.post(f"/records/labs/{lab.pk}/edit/", {**base, "value": "39", "reason": "second"})
    html = r.content.decode()
    assert r.status_code == 409
    assert "Someone else saved this record" in html
    assert ">40<" in html
    assert ">39<" in html
    assert 'name="version" value="2"' in html  # re-apply on top of the saved version
    lab.refresh_from_db()
    assert lab.value == 40.0


def test_import_page_lists_every_problem_then_commits_a_good_file(
    loaded, users, tmp_path, settings
) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Lab

    settings.HOME = tmp_path
    c = _client(users["data_entry"])
    bad = io.BytesIO(
        b"patient_id,test,value,unit,study_day\nA02,anc,x,10^9/L,4\nA02,alt,30,IU/mL,4\nA02,anc,1,10^9/L,\n"
    )
    bad.name = "labs.csv"
    html = c.post("/import/", {"files": [bad], "reason": "batch"}).content.decode()
    assert "3 problems found; nothing was written." in html
    for expected in (
        "a number",
        "a unit accepted for Alanine aminotransferase",
        "at least one of date, study_day, timepoint",
    ):
        assert expected in html
    good = io.BytesIO(b"patient_id,test,value,unit,study_day\nA02,anc,1.1,10^9/L,4\n")
    good.name = "labs.csv"
    html = c.post("/import/", {"files": [good], "reason": "batch"}).content.decode()
    token = re.search(r"/import/([0-9a-f]+)/commit/", html).group(1)  # type: ignore[union-attr]
    assert not Lab.objects.filter(patient_id="A02").exists()
    r = c.post(f"/import/{token}/commit/", {"reason": "batch"})
    assert r.status_code == 302
    assert Lab.objects.get(patient_id="A02").value == 1.1
    # a committed upload cannot be committed twice
    assert c.post(f"/import/{token}/commit/", {"reason": "batch"}).status_code == 404


def test_new_patient_and_generic_record_forms(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Patient, Vital

    c = _client(users["data_entry"])
    r = c.post(
        "/patients/new/",
        {"patient_id": "A03", "site_id": "SITEA", "sex": "F", "age_years": "55", "reason": ""},
    )
    assert r.status_code == 302
    assert Patient.objects.filter(patient_id="A03").exists()
    r = c.post(
        "/patients/A03/vitals/new/",
        {
            "study_day": "2",
            "temperature_c": "39.4",
            "vasopressors": ["norepinephrine"],
            "oxygen_device": "low_flow_nasal_cannula",
        },
    )
    assert r.status_code == 302
    v = Vital.objects.get(patient_id="A03")
    assert (v.temperature_c, v.vasopressors, v.oxygen_device) == (
        39.4,
        "norepinephrine",
        "low_flow_nasal_cannula",
    )
    r = c.post("/patients/A03/vitals/new/", {"study_day": "3", "temperature_c": "52"})
    assert "at most 45 °C" in r.content.decode()


def test_users_sites_and_tokens(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c = _client(users["admin"])
    r = c.post(
        "/users/new/", {"username": "nurse1", "role": "data_entry", "sites": [], "active": "on"}
    )
    html = r.content.decode()
    assert "Password of <b>nurse1</b>" in html
    assert "SITEA" in c.get("/sites/").content.decode()
    assert c.post("/sites/", {"code": "SITEC", "name": "Site C"}).status_code == 302
    from bvall.store.models import AccessChange

    made = AccessChange.objects.filter(user=users["admin"]).values_list(
        "table", "subject", "action"
    )
    assert set(made) == {("profiles", "nurse1", "created"), ("sites", "SITEC", "created")}
    me = _client(users["monitor"])
    html = me.post("/account/", {"action": "token", "name": "laptop"}).content.decode()
    token = re.search(r'id="new-token">(bvall_[\w-]+)<', html).group(1)  # type: ignore[union-attr]
    api = Client()
    r = api.get("/api/patients", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert r.status_code == 200
    assert {p["patient_id"] for p in r.json()} == {"A01", "A02"}


def test_analysis_page_shows_the_study_tables_of_the_visible_patients_only(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.analysis import build_analysis
    from bvall.report.content import cell_sources

    c = _client(users["monitor"])  # site A: A01 and A02 (A03 is at site B)
    html = c.get("/analysis/").content.decode()
    assert "Live analysis" in html
    assert "2 patients; data SHA-256" in html
    # reference: the report's own tables on a cohort of exactly A01 and A02
    ref = build_analysis(loaded.subset(["A01", "A02"]))
    for table in ref.tables:
        assert f'id="{table.id}"' in html
    cell = next(c for t in ref.tables for r in t.rows for c in r.cells if c.provenance)
    assert f'title="{escape(cell_sources(cell))}"' in html
    assert 'href="/analysis/report.pdf?ci=clopper-pearson&amp;level=0.95"' in html
    assert "Figures" in html
    other = c.get("/analysis/?ci=wilson&level=0.9").content.decode()
    assert '<option value="wilson" selected>' in other
    assert "wilson 90% intervals" in other
    bad = c.get("/analysis/?ci=wald-ish&level=2").content.decode()
    assert "wald-ish" in bad  # the error quotes the bad value; the default is shown instead


def test_a_monitor_downloads_the_report_as_attachments(loaded, users) -> None:  # type: ignore[no-untyped-def]
    import io
    import zipfile

    c = _client(users["monitor"])
    r = c.get("/analysis/report.csv")
    assert r.status_code == 200
    assert r["Content-Type"] == "application/zip"
    name = re.search(r'filename="([^"]+)"', r["Content-Disposition"]).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"bvall-report-[A-Za-z0-9._-]+-\d{8}-\d{4}\.zip", name)
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert any(n.endswith(".csv") for n in z.namelist())
    docx = c.get("/analysis/report.docx")
    assert docx.status_code == 200
    assert docx.content[:2] == b"PK"
    assert c.get("/analysis/report.xls").status_code == 400
    assert _client(users["data_entry"]).get("/analysis/report.csv").status_code == 403


def test_monitoring_page_says_plainly_when_no_plan_is_registered(loaded, users) -> None:  # type: ignore[no-untyped-def]
    c = _client(users["investigator"])
    html = c.get("/monitoring/").content.decode()
    assert "No monitoring plan is registered." in html
    assert "not yet connected" not in html


def test_monitoring_page_lists_pending_patients_with_the_reason(loaded, users) -> None:  # type: ignore[no-untyped-def]
    # issue 12, item 5. Small cohort: A02 has no induction course; A01 and B01 have vital signs
    # and neuro assessments only where tests/store/conftest.py records them.
    from bvall.design import design_to_document, make_toxicity_monitor
    from bvall.store.monitoring import evaluate_plan, register_plan

    plan = register_plan(design_to_document(make_toxicity_monitor(0.2, 0.9, 40)), name="tox")
    ev = evaluate_plan(plan)
    reasons = dict(ev.pending)
    assert reasons["A02"] == "toxicity: not treated yet (no induction course recorded)"
    assert ev.decision.evaluable <= ev.decision.enrolled - len(ev.pending)
    html = _client(users["investigator"]).get("/monitoring/").content.decode()
    assert f"pending {len(ev.pending)}." in html
    assert "A02</a>: toxicity: not treated yet (no induction course recorded)" in html


def test_patient_page_lists_every_open_alert_with_its_own_acknowledgement_form(
    loaded, users
) -> None:  # type: ignore[no-untyped-def]
    from bvall.store.models import Alert

    c = _client(users["data_entry"])
    html = c.get("/patients/A01/").content.decode()
    open_alerts = list(Alert.objects.filter(patient_id="A01", acknowledgement__isnull=True))
    assert open_alerts  # A01's grade 4 ANC raised one
    for a in open_alerts:
        row = re.search(rf'data-alert-id="{a.pk}".*?</tr>', html, flags=re.S)
        assert row, a.pk
        # the form posts to this alert's acknowledgement, with the page's CSRF token
        assert f'action="/alerts/{a.pk}/acknowledge/"' in row.group(0)
        assert re.search(r'name="csrfmiddlewaretoken" value="[A-Za-z0-9]{64}"', row.group(0))
        # when it was raised, readable: date, a space, minutes, UTC
        raised = a.raised.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
        assert f"raised {raised} UTC" in row.group(0)
    # a monitor may see the alerts but not acknowledge them: no form
    html = _client(users["monitor"]).get("/patients/A01/").content.decode()
    assert 'data-alert-id="' in html
    assert "/acknowledge/" not in html


def test_cohort_list_names_the_newest_open_alerts_and_counts_them_all(loaded, users) -> None:  # type: ignore[no-untyped-def]
    from bvall.store import records
    from bvall.store.alerts import visible_alerts
    from bvall.store.models import Alert
    from bvall.web.views.cohort import LIST_ALERTS

    # a grade 4 ANC on five more days of A01: more open alerts than the list names
    for day in range(20, 25):
        records.create_records(
            users["admin"],
            "labs",
            [
                {
                    "patient_id": "A01",
                    "study_day": day,
                    "test": "anc",
                    "value": 0.2,
                    "unit": "10^9/L",
                }
            ],
        )
    c = _client(users["investigator"])
    html = c.get("/").content.decode()
    # reference: every open alert the user may see, newest raised first (ties: the later id)
    every = sorted(
        visible_alerts(users["investigator"], state="open"),
        key=lambda a: (a.raised, a.pk),
        reverse=True,
    )
    for pid in ("A01", "A02"):
        mine = [a for a in every if a.patient_id == pid]
        row = re.search(
            rf'<tr>\s*<td><a href="/patients/{pid}/" class="pid">.*?</tr>', html, flags=re.S
        )
        assert row, pid
        named = [int(x) for x in re.findall(r'data-alert-id="(\d+)"', row.group(0))]
        assert named == [a.pk for a in mine[:LIST_ALERTS]], pid
        if len(mine) > LIST_ALERTS:
            assert f"{len(mine)} open alerts in all" in row.group(0)
    assert (
        Alert.objects.filter(patient_id="A01", acknowledgement__isnull=True).count() > LIST_ALERTS
    )
    # site B's patients are not on the list, nor counted
    assert "B01" not in html
