"""`bvall serve`: first start, demo dataset, assets served by the app itself (no CDN)."""

from __future__ import annotations

import logging
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.live import load_benchmark

STATIC = Path(__file__).resolve().parents[2] / "src" / "bvall" / "web" / "static" / "bvall"
TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "bvall" / "web" / "templates"
JINJA = TEMPLATES.parent / "jinja2"


def test_demo_dataset_is_example_and_falls_back_to_published_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bvall.cohort
    from bvall.cli import serve

    assert serve.DEMO_DATASET == "example"
    monkeypatch.setattr(bvall.cohort, "dataset_names", lambda: {"published": "", "example": ""})
    assert serve.resolve_demo_dataset() == "example"
    monkeypatch.setattr(bvall.cohort, "dataset_names", lambda: {"published": ""})
    with caplog.at_level(logging.WARNING, logger="bvall.serve"):
        assert serve.resolve_demo_dataset() == "published"
    assert (
        "Dataset 'example' is not registered in this build; loading 'published' instead."
        in caplog.text
    )


def test_first_start_creates_the_database_loads_the_demo_and_prints_url_and_password(
    tmp_path: Path,
) -> None:
    from bvall.cohort import dataset_names, load_cohort

    live = load_benchmark("livestack")
    server = live.LiveServer(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}").start()
    try:
        log = server.log.read_text()
        assert f"bvall is serving http://127.0.0.1:{server.port}/" in log
        assert re.search(r"log in as admin with password [A-Za-z0-9-]{20}", log)
        expected = "example" if "example" in dataset_names() else "published"
        assert f"loaded dataset '{expected}' ({len(load_cohort(expected))} patients)" in log
        if expected == "published":
            assert "Dataset 'example' is not registered" in log
        # static files come from the app (WhiteNoise), with caching headers
        with urllib.request.urlopen(server.url + "/static/bvall/htmx.min.js") as r:
            assert r.status == 200
            assert "htmx" in r.read(2000).decode()
        # a login page only; no data without logging in
        with urllib.request.urlopen(server.url + "/") as r:
            assert r.url.endswith("/login/?next=/")
            assert r.headers.get("Server") is None  # no server banner
        with urllib.request.urlopen(server.url + "/favicon.ico") as r:
            assert r.status == 200
            assert r.headers["Content-Type"] == "image/svg+xml"
        # a refused request is one log line (user, path, reason), not a traceback
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/api/patients")
        assert refused.value.code == 401
        refused.value.close()
        log = server.log.read_text()
        assert "refused user=anonymous path=/api/patients reason=" in log
        assert "Traceback" not in log
    finally:
        server.stop()
    # the workers ended cleanly: none inherited the DuckDB database the demo's alerts were
    # derived on (one copied by fork crashed the worker as it exited)
    log = server.log.read_text()
    for crash in ("SIGSEGV", "SIGABRT", "terminate called"):
        assert crash not in log, log
    # a second start serves the same database: no new admin, no second load
    again = live.LiveServer(tmp_path, f"sqlite:///{tmp_path / 'bvall.db'}").start()
    try:
        assert again.admin_password is None
        assert "loaded dataset" not in again.log.read_text()
        assert live.query(again.database, "SELECT COUNT(*) FROM auth_user") == [(1,)]
    finally:
        again.stop()


def test_vendored_htmx_ships_with_its_licence() -> None:
    assert (STATIC / "htmx.min.js").stat().st_size > 40_000
    assert "Zero-Clause BSD" in (STATIC / "htmx.LICENSE.txt").read_text()


def test_no_template_or_stylesheet_loads_anything_from_another_origin() -> None:
    files = [*TEMPLATES.rglob("*.html"), *JINJA.rglob("*.html"), STATIC / "bvall.css"]
    assert len(files) > 20
    for f in files:
        text = f.read_text()
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), f
        assert "@import" not in text, f
        assert "url(http" not in text, f
