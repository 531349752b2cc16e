"""Plain words: what a person reads is an English sentence, with no plural hacks ("alert(s)")
and no internal names (rule ids, table or column codes). Rule ids belong in the details
(``<details>`` disclosures), which these checks leave out."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

WEB = Path(__file__).resolve().parents[2] / "src" / "bvall" / "web"
#: Django's templates and the Jinja2 ones (the patient page's body: bvall/web/jinja.py)
TEMPLATES = [WEB / "templates" / "bvall", WEB / "jinja2" / "bvall"]

#: what no sentence shown may contain, with the reason
BANNED = [
    (re.compile(r"\w\(s\)"), "a plural written as (s): count and choose the word"),
    (re.compile(r"\bsummarys\b|\bmay not (audit|analysis|view|edit|import)\b"), "not English"),
    (re.compile(r"\b[a-z]+_[a-z0-9_]+\b"), "an internal name (snake_case) in a sentence"),
    (re.compile(r"\b[a-z0-9]+(_[a-z0-9]+)*\.[a-z]+_[a-z0-9_.]+\b"), "a rule id in a sentence"),
    (re.compile(r"\bNR\b|\bNE\b"), "an abbreviation where words fit (not reached, not estimable)"),
]


class _Text(HTMLParser):
    """Text a reader sees: outside <details> (except its <summary>), <script>, <style>, <code>."""

    SKIP = ("script", "style", "code", "svg", "option", "select")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in ("br", "input", "img", "meta", "link", "wbr", "hr"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop() == tag:
                break

    def handle_data(self, data: str) -> None:
        hidden = any(t in self.SKIP for t in self.stack)
        in_details = "details" in self.stack and self.stack[-1] != "summary"
        if not hidden and not in_details and data.strip():
            self.parts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def _fixed_strings(template: str) -> list[str]:
    """The fixed text of a template: its tags, variables and comments removed."""
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}", " ", template, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    return visible_text(text)


def _problems(strings: list[str], sentences_only: bool = False) -> list[str]:
    """What is wrong with ``strings``; ``sentences_only`` leaves internal names in short
    strings alone (data shown as recorded: a user name, a code in a table cell)."""
    out = []
    for s in strings:
        for i, (pattern, why) in enumerate(BANNED):
            if sentences_only and i in (2, 3) and len(s.split()) < 4:
                continue
            if pattern.search(s):
                out.append(f"{s!r}: {why}")
    return out


@pytest.mark.parametrize(
    "path", sorted(p for d in TEMPLATES for p in d.glob("*.html")), ids=lambda p: p.name
)
def test_the_fixed_strings_of_every_template_are_plain_words(path: Path) -> None:
    assert _problems(_fixed_strings(path.read_text(encoding="utf-8"))) == []


def test_the_checks_catch_what_they_are_for() -> None:
    bad = [
        "3 alert(s) from D4 on",
        "Your role (monitor) may not audit.",
        "Reported summarys",
        "under the rules alert.lab_grade_ge3",
        "296 (NR–NR)",
        "see treatment_courses",
    ]
    assert len(_problems(bad)) >= len(bad)
    assert _problems(["1 alert in the latest 3 graded days", "Off study: died"]) == []
    # rule ids inside a disclosure are details, not sentences
    html = "<p>CRS grade 3</p><details><summary>why</summary>astct_crs.hypotension.g3</details>"
    assert visible_text(html) == ["CRS grade 3", "why"]


@pytest.mark.django_db
def test_pages_speak_plainly(loaded: Any, users: Any) -> None:
    """The pages as rendered (with the engines' panels and the server's messages)."""
    c = Client()
    c.force_login(users["admin"])
    # (the audit log names the columns it shows changes of: a record, not sentences)
    for url in ("/", "/patients/A01/", "/patients/A02/", "/account/", "/users/"):
        r = c.get(url)
        assert r.status_code == 200, url
        body = r.content.decode()
        body = body.split("<main>", 1)[-1]
        if url.startswith("/patients/"):
            # the patient's first screen and the course (the tables below show data as entered)
            body = body.split('<div class="cols">', 1)[0]
        problems = _problems(visible_text(body), sentences_only=True)
        assert problems == [], "\n".join([url, *problems])
    c.force_login(users["monitor"])
    r = c.get("/import/")
    assert r.status_code == 403
    assert "Your role (monitor) may not import files." in r.content.decode()
