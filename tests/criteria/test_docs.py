"""docs/criteria.md names every setting, derivation and criteria file (it fails when one is
added without documentation)."""

from __future__ import annotations

from pathlib import Path

from bvall.criteria import DERIVATIONS
from bvall.criteria.rules import RULE_FILES
from bvall.criteria.settings import setting_names

DOC = (Path(__file__).parents[2] / "docs" / "criteria.md").read_text(encoding="utf-8")


def test_every_setting_is_documented() -> None:
    missing = [name for name in setting_names() if f"`{name}`" not in DOC]
    assert missing == []


def test_every_derivation_and_file_is_documented() -> None:
    assert [w for w in DERIVATIONS if f"`{w}`" not in DOC] == []
    assert [f for f in RULE_FILES if f"{f}.toml" not in DOC] == []
