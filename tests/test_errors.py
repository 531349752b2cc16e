"""The exception hierarchy and the curated public API."""

from __future__ import annotations

from types import ModuleType

import bvall.cohort
from bvall import errors


def test_hierarchy_matches_the_docstring_tree() -> None:
    assert issubclass(errors.InputError, errors.BvallError)
    for cls in (
        errors.ValidationFailed,
        errors.UnknownUnitError,
        errors.UnknownNameError,
        errors.SpecError,
    ):
        assert issubclass(cls, errors.InputError)
        assert cls.__name__ in (errors.__doc__ or "")
    assert issubclass(errors.ConfigurationError, errors.BvallError)
    assert not issubclass(errors.ConfigurationError, errors.InputError)


def test_unknown_name_message_is_not_quoted_twice() -> None:
    assert str(errors.UnknownNameError("No table 'x'.")) == "No table 'x'."


def test_cohort_public_api_is_curated() -> None:
    public = {
        n
        for n in dir(bvall.cohort)
        if not n.startswith("_") and not isinstance(getattr(bvall.cohort, n), ModuleType)
    }
    modules = {
        "datasets",
        "io",
        "model",
        "problems",
        "schema",
        "units",
        "validate",
        "vocab",
        "overview",
        "example",
    }
    assert public - modules == set(bvall.cohort.__all__)
