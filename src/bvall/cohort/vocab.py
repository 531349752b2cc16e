"""Controlled vocabularies of the cohort tables (data in ``data/vocabularies.toml``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib import resources
from typing import Any

from bvall.errors import SpecError, UnknownNameError, suggest


@dataclass(frozen=True)
class Term:
    """One value of a vocabulary: the stored ``code``, a ``label`` and extra attributes."""

    code: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Vocabulary:
    """A named controlled vocabulary with its source."""

    name: str
    description: str
    source: str
    terms: tuple[Term, ...]

    @cached_property
    def codes(self) -> tuple[str, ...]:
        return tuple(t.code for t in self.terms)

    @cached_property
    def _code_set(self) -> frozenset[str]:
        return frozenset(self.codes)

    def __contains__(self, code: object) -> bool:
        # validation asks this of every coded value (about 400 times for one patient's rows)
        try:
            return code in self._code_set
        except TypeError:  # an unhashable value is no code
            return False

    def term(self, code: str) -> Term:
        for t in self.terms:
            if t.code == code:
                return t
        raise UnknownNameError(
            f"{code!r} is not in the vocabulary '{self.name}'{suggest(code, self.codes)} "
            f"Accepted: {', '.join(self.codes)}."
        )

    def label(self, code: str) -> str:
        return self.term(code).label

    def expected(self) -> str:
        """A short description of the accepted codes, for error messages."""
        codes = self.codes
        shown = ", ".join(repr(c) for c in codes[:12])
        more = (
            f" (and {len(codes) - 12} more; see `bvall vocab {self.name}`)"
            if len(codes) > 12
            else ""
        )
        return f"one of {shown}{more}"


@cache
def load_vocabularies() -> dict[str, Vocabulary]:
    """Load and check every vocabulary; a malformed file raises :class:`SpecError`."""
    path = resources.files("bvall.cohort") / "data" / "vocabularies.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out: dict[str, Vocabulary] = {}
    for name, body in raw.items():
        if name == "version":
            continue
        if not isinstance(body, dict) or "values" not in body or "source" not in body:
            raise SpecError(f"vocabularies.toml: [{name}] needs 'source' and 'values'.")
        terms: list[Term] = []
        seen: set[str] = set()
        for item in body["values"]:
            code = item["code"]
            if code in seen:
                raise SpecError(f"vocabularies.toml: [{name}] lists {code!r} twice.")
            seen.add(code)
            attrs = {k: v for k, v in item.items() if k not in ("code", "label")}
            terms.append(Term(code=code, label=item.get("label", code), attributes=attrs))
        out[name] = Vocabulary(name, body.get("description", ""), body["source"], tuple(terms))
    return out


def vocabulary(name: str) -> Vocabulary:
    """The vocabulary called ``name``."""
    vocabs = load_vocabularies()
    if name not in vocabs:
        raise UnknownNameError(
            f"No vocabulary {name!r}{suggest(name, list(vocabs))} Known: {', '.join(vocabs)}."
        )
    return vocabs[name]
