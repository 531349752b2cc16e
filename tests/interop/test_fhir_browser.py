"""End to end: a FHIR bundle posted to a real `bvall serve`, then the patient page in Chromium
shows the values graded and their alerts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live import CHROMIUM, CHROMIUM_ARGS, load_benchmark

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"needs Chromium at {CHROMIUM} (apt-get install chromium)",
    ),
]

BUNDLE = Path(__file__).parent / "data" / "fhir" / "feed_p06.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    live = load_benchmark("livestack")
    home = tmp_path_factory.mktemp("fhir-browser")
    srv = live.LiveServer(home, f"sqlite:///{home / 'bvall.db'}").start()
    try:
        yield srv
    finally:
        srv.stop()


def test_a_posted_bundle_is_graded_and_alerted_on_the_patient_page(server: Any) -> None:
    from playwright.sync_api import sync_playwright

    token = server.token("admin")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(viewport={"width": 1366, "height": 900})
            r = ctx.request.post(
                server.url + "/api/fhir?commit=true",
                data=BUNDLE.read_text(encoding="utf-8"),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/fhir+json",
                },
                timeout=180_000,  # validates against the whole example cohort on a shared machine
            )
            body = json.loads(r.text())
            assert r.status == 201, body
            assert body["new_rows"] == {"labs": 2}
            assert [s["entry"] for s in body["skipped"]] == [3]  # glucose: not used by bvall
            page = ctx.new_page()
            page.goto(server.url + "/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", server.admin_password)
            page.click("button[type=submit]")
            page.wait_for_url(server.url + "/")
            page.goto(server.url + "/patients/P06/")
            panel = page.locator("[data-panel=grades_alerts]")
            # 2024-11-02 is D35 of P06's induction (D1 2024-09-29). CTCAE v5.0: neutrophil count
            # decreased grade 4 is < 0.5 x10^9/L; platelet count decreased grade 4 < 25 x10^9/L.
            alerts = page.locator("#alerts tr.alert-row", has_text="D35")  # open, stored alerts
            texts = [alerts.nth(i).inner_text() for i in range(alerts.count())]
            assert any(
                "ALERT" in t and "grade 4" in t and "neutrophil" in t.lower() for t in texts
            ), texts
            assert any("grade 4" in t and "platelet" in t.lower() for t in texts), texts
            latest = panel.locator("tr", has_text="latest Neutrophil count decreased").inner_text()
            assert "D35" in latest
            assert "grade 4" in latest
            page.goto(server.url + "/patients/P06/")
            assert re.search(r"0\.3", page.locator("body").inner_text())
        finally:
            browser.close()
