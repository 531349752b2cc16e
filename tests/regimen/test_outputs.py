"""What a plan looks like to its readers: JSON (shape fixed by the issue), CSV, the calendar
file (parsed back with icalendar) and the HTML order sheet (self-contained; checked in Chromium)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from bvall.regimen import plan_regimen, render_plan_csv, render_plan_html, render_plan_ics

START = dt.date(2026, 12, 7)
STAMP = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def plan():  # type: ignore[no-untyped-def]
    return plan_regimen(
        "bv-concurrent",
        start=START,
        weight_kg=62,
        height_cm=168,
        inhibitors=["posaconazole"],
        patient_label="MRN 42",
    )


def test_json_shape(plan) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(plan.to_json())
    assert isinstance(data["days"], list)
    d1 = next(d for d in data["days"] if d["day"] == 1)
    assert d1["date"] == "2026-12-07"
    ven = next(x for x in d1["doses"] if x["agent"] == "venetoclax")
    assert (ven["dose"], ven["unit"], ven["route"]) == (10, "mg", "PO")
    assert ven["rule"].startswith("posaconazole (strong CYP3A inhibitor)")
    blin = next(x for x in d1["doses"] if x["agent"] == "blinatumomab")
    assert (blin["dose"], blin["unit"]) == (9, "µg/day")
    assert "rule" not in blin  # `rule` only when a rule changed the dose
    assert [d["day"] for d in data["days"]] == list(range(-6, 22))
    assert data["patient"]["bsa_m2"] == 1.7


def test_csv(plan) -> None:  # type: ignore[no-untyped-def]
    rows = list(csv.DictReader(io.StringIO(render_plan_csv(plan))))
    ven = [r for r in rows if r["item"] == "venetoclax"]
    assert [r["dose"] for r in ven[:4]] == ["10.0", "20.0", "50.0", "70.0"]
    assert all(r["rule_id"] == "venetoclax-posaconazole" for r in ven)
    assert {r["kind"] for r in rows} == {"dose", "monitoring", "assessment"}


def test_ics_imports(plan) -> None:  # type: ignore[no-untyped-def]
    from icalendar import Calendar

    raw = render_plan_ics(plan, stamp=STAMP)
    cal = Calendar.from_ical(raw)
    events = list(cal.walk("VEVENT"))
    by_uid = {str(e["UID"]): e for e in events}
    assert len(by_uid) == len(events)  # unique UIDs
    days = [e for e in events if "-day" in str(e["UID"])]
    assert len(days) == 28  # D-6 .. D21, each has something planned
    d1 = next(e for e in days if e.decoded("DTSTART") == START)
    assert e_text(d1, "SUMMARY").startswith(
        "bv-concurrent D1: Venetoclax 10 mg; Blinatumomab 9 µg/day"
    )
    assert "Adjusted: posaconazole" in e_text(d1, "DESCRIPTION")
    assert d1.decoded("DTEND") == START + dt.timedelta(days=1)
    marrow = next(e for e in events if "marrow-d14-21" in str(e["UID"]))
    assert marrow.decoded("DTSTART") == dt.date(2026, 12, 20)
    assert marrow.decoded("DTEND") == dt.date(2026, 12, 28)  # all-day DTEND is exclusive
    assert d1.decoded("DTSTAMP") == STAMP
    # Same plan, same UIDs: a re-import updates instead of duplicating.
    again = Calendar.from_ical(render_plan_ics(plan, stamp=STAMP))
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(by_uid)


def e_text(event, key: str) -> str:  # type: ignore[no-untyped-def]
    return str(event[key])


def test_ics_needs_dates() -> None:
    from bvall.errors import InputError

    p = plan_regimen("bv-concurrent", start=None, weight_kg=62, height_cm=168)
    with pytest.raises(InputError, match="start date"):
        render_plan_ics(p, stamp=STAMP)


def test_html_is_self_contained(plan) -> None:  # type: ignore[no-untyped-def]
    html = render_plan_html(plan, generated=dt.datetime(2026, 12, 1, 9, 0))
    assert "@page { size: A4 portrait" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<script" not in html
    assert "MRN 42" in html
    assert "posaconazole (strong CYP3A inhibitor)" in html
    # Values are escaped by the template engine.
    evil = plan_regimen(
        "bv-concurrent", start=START, weight_kg=62, height_cm=168, patient_label="<b>x</b>"
    )
    assert "&lt;b&gt;x&lt;/b&gt;" in render_plan_html(evil)


@pytest.mark.browser
def test_order_sheet_in_chromium(tmp_path: Path) -> None:
    pytest.importorskip("playwright")
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader

    p = plan_regimen(
        "bv-concurrent",
        start=START,
        weight_kg=62,
        height_cm=168,
        inhibitors=["posaconazole"],
        site_policy="seed",
    )
    page_file = tmp_path / "sheet.html"
    page_file.write_text(render_plan_html(p), encoding="utf-8")
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=args)
        page = browser.new_page(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
        external: list[str] = []
        page.on(
            "request", lambda r: external.append(r.url) if not r.url.startswith("file:") else None
        )
        page.goto(page_file.as_uri())
        page.emulate_media(media="print")
        # A4 (210 mm) less 2 × 10 mm margins = 190 mm = 718 px: the table must fit the width.
        table_width = page.evaluate(
            "document.querySelector('table.plan').getBoundingClientRect().width"
        )
        stop_boxes = page.locator("table.plan .stop").count()
        pdf_path = tmp_path / "sheet.pdf"
        page.pdf(path=str(pdf_path), format="A4", print_background=True, prefer_css_page_size=True)
        browser.close()
    assert external == []
    assert table_width <= 719
    assert stop_boxes == 11  # 75 mg on D4-D14 is not makeable: one red box per day
    reader = PdfReader(str(pdf_path))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = "".join(page.extract_text() for page in reader.pages)
    assert "NOT MAKEABLE" in text
    assert "Pharmacist" in text
    assert "Prescriber (name, signature, date)" in text
