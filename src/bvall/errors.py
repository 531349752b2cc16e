"""One exception hierarchy for bvall.

Every error bvall raises on purpose derives from :class:`BvallError`, so a caller (the CLI, the
web app) can catch one type, show the message and exit cleanly. Messages quote the bad value and
say what was expected.

::

    BvallError
    ├── InputError                 bad input from a user or a file; the message says how to fix it
    │   ├── ValidationFailed       a cohort failed validation; carries every Problem at once
    │   ├── UnknownUnitError       a unit the conversion table does not know (never guessed)
    │   ├── UnknownNameError       an unknown dataset, regimen, vocabulary code, method, ...
    │   └── SpecError              a data file (regimen spec, criteria table) is malformed
    ├── EditConflict               a record changed since the editor loaded it; carries both versions
    └── ConfigurationError         the environment or settings are unusable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bvall.cohort.problems import Problem


class BvallError(Exception):
    """Base class of every error bvall raises on purpose."""


class InputError(BvallError, ValueError):
    """Bad input: the message quotes the value and says what was expected."""


class ValidationFailed(InputError):
    """A cohort (or an import) was rejected; ``problems`` lists every problem found."""

    def __init__(self, problems: Sequence[Problem], source: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found{where}; nothing was written."
        lines = [head, *(f"  - {p.message}" for p in self.problems[:50])]
        if n > 50:
            lines.append(f"  ... and {n - 50} more")
        super().__init__("\n".join(lines))


class UnknownUnitError(InputError):
    """A unit the conversion table does not know; the message lists the accepted ones."""


class UnknownNameError(InputError, KeyError):
    """An unknown name (dataset, regimen, code, method); the message lists the accepted ones."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class SpecError(InputError):
    """A bundled or user data file (regimen spec, criteria table) is malformed."""


class EditConflict(BvallError):
    """Someone saved the record after this editor loaded it; nothing was written.

    ``current`` holds the saved values (with who saved them and when) and ``yours`` the values
    this editor tried to save, so both can be shown side by side and nothing is lost.
    """

    def __init__(
        self,
        table: str,
        pk: int,
        expected_version: int,
        current: dict[str, object],
        yours: dict[str, object],
    ) -> None:
        self.table = table
        self.pk = pk
        self.expected_version = expected_version
        self.current = current
        self.yours = yours
        saved = current.get("version")
        super().__init__(
            f"{table} record {pk} was changed by someone else (you edited version "
            f"{expected_version}, the saved one is version {saved}); nothing was written. "
            "Compare both versions and save again."
        )


class ConfigurationError(BvallError):
    """The environment or settings are unusable."""


def suggest(value: str, accepted: Sequence[str], n: int = 3) -> str:
    """Return ``"; did you mean 'x'?"`` for a close match among ``accepted``, else ``""``."""
    import difflib

    matches = difflib.get_close_matches(value, list(accepted), n=n, cutoff=0.6)
    if not matches:
        lowered = {a.lower(): a for a in accepted}
        if value.lower() in lowered:
            matches = [lowered[value.lower()]]
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"
