"""Read regimen spec files.

``load_regimen(name)`` opens a bundled spec by name or a ``.toml`` path; every check
(:mod:`bvall.regimen.schema`) runs before a spec is used.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from pathlib import Path

from bvall.errors import SpecError, UnknownNameError, suggest
from bvall.regimen.schema import SpecChecker
from bvall.regimen.spec import Regimen


def _bundled_dir() -> Path:
    return Path(str(resources.files("bvall.regimen") / "data" / "regimens"))


def regimen_names() -> list[str]:
    """Names of the bundled regimen specs, sorted."""
    return sorted(p.stem for p in _bundled_dir().glob("*.toml"))


def load_regimen(name: str | Path) -> Regimen:
    """A checked regimen: a bundled spec by name (``bv-concurrent``) or a path to a ``.toml``."""
    key = str(name)
    bundled = _bundled_dir() / f"{key}.toml"
    if "/" not in key and not key.endswith(".toml"):
        if bundled.exists():
            return _load_path(str(bundled))
        names = regimen_names()
        raise UnknownNameError(
            f"Unknown regimen {key!r}{suggest(key, names)} Accepted: {', '.join(names)}, "
            "or a path to a regimen .toml file."
        )
    path = Path(key).expanduser()
    if not path.is_file():
        raise UnknownNameError(
            f"Regimen file {key!r} does not exist. Accepted: a bundled name "
            f"({', '.join(regimen_names())}) or a path to a regimen .toml file."
        )
    return _load_path(str(path.resolve()))


@cache
def _load_path(path: str) -> Regimen:
    file = Path(path).name
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{file}: not valid TOML ({exc}); fix the syntax at that line.") from None
    return SpecChecker(file, path).build(raw)
