"""Criteria files: loading, schema checks, versions and the documentation of settings.

Every clinical rule of the engine lives in a versioned TOML file in ``bvall/criteria/data/``:
a ``[meta]`` table (id, name, version, source), ``[[setting]]`` tables documenting the named
choices the file's rules depend on, and rows. This module reads a file, checks its shape (known
keys, required keys, types) and gives every derived row its ``rule_version``. The row-level
checks that depend on what a row means (monotone thresholds, units) live with each criteria model
(:mod:`bvall.criteria.lab_criteria` and the evaluator modules).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from bvall.errors import SpecError, UnknownNameError, suggest

#: Every criteria file, in the order they are documented.
RULE_FILES = (
    "ctcae_v5_labs",
    "ctcae_v5_clinical",
    "astct_crs",
    "astct_icans",
    "tls",
    "nccn_response",
    "nccn_risk",
    "eligibility",
    "endpoints",
)


@dataclass(frozen=True)
class SettingDoc:
    """The documentation of one named setting, as written in a criteria file."""

    name: str
    default: Any
    justification: str
    source: str
    file: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleFile:
    """One criteria file: metadata, setting documentation and the raw row tables."""

    id: str
    name: str
    version: str
    source: str
    system: str
    meta: Mapping[str, Any]
    settings: tuple[SettingDoc, ...]
    tables: Mapping[str, tuple[Mapping[str, Any], ...]]

    @property
    def rule_version(self) -> str:
        """``<file id>@<version>``: stored with every derived row."""
        return f"{self.id}@{self.version}"

    def rows(self, table: str) -> tuple[Mapping[str, Any], ...]:
        return self.tables.get(table, ())

    def param(self, key: str) -> Any:
        """A value of the ``[parameters]`` table (thresholds shared by the file's rules)."""
        params = self.meta.get("parameters", {})
        if key not in params:
            raise SpecError(f"{self.id}.toml: [parameters] has no {key!r}.")
        return params[key]


def _where(file: str, table: str, index: int | None = None) -> str:
    return f"{file}.toml [[{table}]]" + ("" if index is None else f" row {index + 1}")


def check_row(
    row: Mapping[str, Any],
    where: str,
    required: Mapping[str, type | tuple[type, ...]],
    optional: Mapping[str, type | tuple[type, ...]] | None = None,
) -> None:
    """Reject unknown keys, missing required keys and values of the wrong type."""
    optional = optional or {}
    known = {**required, **optional}
    for key in row:
        if key not in known:
            raise SpecError(
                f"{where}: unknown key {key!r}{suggest(key, list(known))} "
                f"Known keys: {', '.join(known)}."
            )
    for key in required:
        if key not in row:
            raise SpecError(f"{where}: the key {key!r} is required.")
    for key, kind in known.items():
        if key in row:
            value = row[key]
            # bool is an int in Python; a threshold must not be true/false.
            if isinstance(value, bool) and bool not in _as_tuple(kind):
                raise SpecError(f"{where}: {key} = {value!r} is not a {_names(kind)}.")
            if not isinstance(value, kind):
                raise SpecError(f"{where}: {key} = {value!r} is not a {_names(kind)}.")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


_KIND_NAMES = {
    int: "whole number",
    float: "number",
    str: "text",
    bool: "true/false",
    list: "list",
    dict: "table",
}


def _names(kind: type | tuple[type, ...]) -> str:
    kinds = _as_tuple(kind)
    if set(kinds) == {int, float}:
        return "number"
    return " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)


def check_unique(
    rows: Sequence[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], object], where: str
) -> None:
    """Reject two rows with the same key."""
    seen: dict[object, int] = {}
    for i, row in enumerate(rows):
        k = key(row)
        if k in seen:
            raise SpecError(f"{where} row {i + 1}: duplicate of row {seen[k] + 1} ({k!r}).")
        seen[k] = i


_SETTING_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "default": (str, int, float, bool),
    "justification": str,
    "source": str,
}


@cache
def load_rule_file(name: str) -> RuleFile:
    """Read and shape-check ``bvall/criteria/data/<name>.toml``."""
    if name not in RULE_FILES:
        raise UnknownNameError(
            f"{name!r} is not a criteria file{suggest(name, RULE_FILES)} "
            f"Files: {', '.join(RULE_FILES)}."
        )
    path = resources.files("bvall.criteria") / "data" / f"{name}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{name}.toml is not valid TOML: {exc}") from None
    meta = raw.get("meta")
    if not isinstance(meta, dict):
        raise SpecError(f"{name}.toml: a [meta] table is required.")
    check_row(
        meta,
        f"{name}.toml [meta]",
        {"id": str, "name": str, "version": str, "source": str},
        {"system": str, "parameters": dict, "notes": list},
    )
    if meta["id"] != name:
        raise SpecError(f"{name}.toml: [meta] id = {meta['id']!r}, expected {name!r}.")
    settings: list[SettingDoc] = []
    for i, s in enumerate(raw.get("setting", [])):
        check_row(s, _where(name, "setting", i), _SETTING_KEYS, {"options": dict})
        options = {str(k): str(v) for k, v in s.get("options", {}).items()}
        if options and s["default"] not in options:
            raise SpecError(
                f"{_where(name, 'setting', i)}: default {s['default']!r} is not one of its "
                f"options ({', '.join(options)})."
            )
        settings.append(
            SettingDoc(
                name=s["name"],
                default=s["default"],
                justification=s["justification"],
                source=s["source"],
                file=name,
                options=options,
            )
        )
    check_unique(raw.get("setting", []), lambda r: r["name"], _where(name, "setting"))
    tables = {
        key: tuple(value)
        for key, value in raw.items()
        if key not in ("meta", "setting") and isinstance(value, list)
    }
    for key, value in raw.items():
        if key not in ("meta", "setting") and not isinstance(value, list):
            raise SpecError(f"{name}.toml: unexpected top-level key {key!r}.")
    return RuleFile(
        id=name,
        name=meta["name"],
        version=meta["version"],
        source=meta["source"],
        system=str(meta.get("system", meta["name"])),
        meta=meta,
        settings=tuple(settings),
        tables=tables,
    )


def setting_docs() -> dict[str, SettingDoc]:
    """Every documented setting across the criteria files, by name."""
    out: dict[str, SettingDoc] = {}
    for name in RULE_FILES:
        for doc in load_rule_file(name).settings:
            if doc.name in out:
                raise SpecError(
                    f"Setting {doc.name!r} is documented twice ({out[doc.name].file}.toml and "
                    f"{name}.toml)."
                )
            out[doc.name] = doc
    return out


def parse_when(text: str, where: str) -> tuple[str, str]:
    """A row's ``when = "setting=value"`` condition, checked against the settings."""
    from bvall.criteria.settings import CriteriaSettings

    if "=" not in text:
        raise SpecError(f"{where}: when = {text!r} must read 'setting=value'.")
    name, value = (part.strip() for part in text.split("=", 1))
    try:
        CriteriaSettings.from_mapping({name: value})
    except (UnknownNameError, ValueError) as exc:
        raise SpecError(f"{where}: when = {text!r}: {exc}") from None
    return name, value
