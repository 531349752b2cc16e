"""Loading and validating claims catalogues: every mistake reported at once, with its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bvall.analysis.claims import STATISTICS, load_catalogue
from bvall.errors import InputError, SpecError


def test_seed_catalogue_loads_and_covers_every_section() -> None:
    cat = load_catalogue()
    assert cat.cohort == "published"
    ids = [c.id for c in cat.claims]
    assert len(ids) == len(set(ids)) >= 100
    sections = {c.location.split(",")[0] for c in cat.claims}
    assert {"Abstract", "Results", "Discussion", "Table 1", "Table 4"} <= sections
    stats = {c.stat for c in cat.claims if c.stat}
    assert stats == set(STATISTICS) - {"percent_plausibility"}
    assert all(c.quote and c.published for c in cat.claims)


TOML_OK = """
[catalogue]
title = "t"
cohort = "published"

[[claim]]
id = "males"
location = "Results"
quote = "8 cases being male"
published = { n = 8 }
[claim.recompute]
stat = "count"
match = { table = "patients", where = { sex = "M" } }
"""


def test_toml_and_json_catalogues(tmp_path: Path) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(TOML_OK, encoding="utf-8")
    assert load_catalogue(toml).claims[0].id == "males"
    as_json = {
        "catalogue": {"title": "t"},
        "claim": [
            {
                "id": "males",
                "location": "Results",
                "quote": "q",
                "published": {"n": 8},
                "recompute": {
                    "stat": "count",
                    "match": {"table": "patients", "where": {"sex": "M"}},
                },
            }
        ],
    }
    path = tmp_path / "c.json"
    path.write_text(json.dumps(as_json), encoding="utf-8")
    assert load_catalogue(path).claims[0].published == {"n": 8}


BAD = """
[[claim]]
id = "a"
location = "Results"
quote = "q"
published = { n = 8, median = 3 }
[claim.recompute]
stat = "cuont"

[[claim]]
id = "a"
location = "Results"
published = { n = "eight" }
[claim.recompute]
stat = "count"
match = { table = "patients", where = { sexx = "M" } }
colsed_world = false

[[claim]]
id = "b"
location = "Results"
quote = "q"
published = { lower = "1", upper = "2" }
[claim.recompute]
stat = "ci"
method = "agresti_coull"
x = 1
n = "2"

[[claim]]
id = "c"
location = "Results"
quote = "q"
published = { n = 1 }
not_recomputable = "why"
[claim.recompute]
stat = "count"
match = { table = "patients" }

[[partition]]
id = "p"
claims = ["a", "zzz"]
total = "all"
"""


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD, encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_catalogue(path)
    message = str(exc.value)
    for expected in (
        "stat: 'cuont' is not known; did you mean 'count'",
        "claim 'a': the id is used twice",
        "needs 'quote' (text)",
        "published.n: 'eight' is not a number",
        "column 'sexx' is not in patients; did you mean 'sex'",
        "colsed_world: not a setting of count; did you mean 'closed_world'",
        "method: 'agresti_coull' is not known; did you mean 'agresti-coull'",
        "recompute.n: expected a whole number, got '2'",
        "give either 'recompute' or 'not_recomputable'",
        "partition[0]: claim 'zzz' is not in the catalogue",
        'partition[0].total: expected a whole number or "patients"',
    ):
        assert expected in message, expected
    assert message.startswith("Claims catalogue bad.toml: ")


def test_published_keys_must_fit_the_statistic(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        TOML_OK.replace("published = { n = 8 }", "published = { median = 8 }"), encoding="utf-8"
    )
    with pytest.raises(SpecError, match=r"published\.median: not a value this statistic reports"):
        load_catalogue(path)


def test_alternative_settings_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    alternatives = """
[[claim.recompute.alternatives]]
label = "any sex"
match = { table = "patients", where = { sex = ["M", "F"] } }
needs_review = ""
[[claim.recompute.alternatives]]
label = "women"
match = { table = "patients", where = { sex = "F" } }
needs_reveiw = "typo"
"""
    path.write_text(TOML_OK + alternatives, encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        load_catalogue(path)
    message = str(exc.value)
    assert "alternatives[0].needs_review = '': expected a sentence saying why" in message
    assert "alternatives[1].needs_reveiw: not a setting of an alternative" in message


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_catalogue(tmp_path / "none.toml")
    other = tmp_path / "c.yaml"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(InputError, match=r"must end in \.toml or \.json"):
        load_catalogue(other)
    broken = tmp_path / "b.toml"
    broken.write_text("[[claim]\n", encoding="utf-8")
    with pytest.raises(SpecError, match="not valid toml"):
        load_catalogue(broken)
