"""Bundled datasets and the one function that opens a cohort by name or path.

* ``published``: the 13 patients of the seed paper exactly as the paper reports them, with a
  provenance row for every value (``data/published/``).
* ``example``: a synthetic, full-detail cohort consistent with the published values (labelled
  synthetic in its metadata); registered by :mod:`bvall.cohort.example` when that module exists.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

from bvall.cohort.io import read_cohort
from bvall.cohort.model import Cohort
from bvall.errors import UnknownNameError, suggest

_LOADERS: dict[str, tuple[str, Callable[[], Cohort]]] = {}


def register_dataset(name: str, description: str, loader: Callable[[], Cohort]) -> None:
    """Make ``loader`` available as ``load_cohort(name)``."""
    _LOADERS[name] = (description, loader)


def bundled_path(name: str) -> Path:
    """Folder of a bundled CSV dataset inside the package."""
    return Path(str(resources.files("bvall.cohort") / "data" / name))


@cache
def _load_published() -> Cohort:
    return read_cohort(bundled_path("published"))


register_dataset(
    "published",
    "The 13 patients of Lei et al. (seed paper), transcribed from Tables 2-3 with provenance.",
    _load_published,
)


def dataset_names() -> dict[str, str]:
    """Bundled dataset names with a one-line description."""
    _register_optional()
    return {name: desc for name, (desc, _) in _LOADERS.items()}


def _register_optional() -> None:
    # The example cohort lives with its generator; importing it registers it.
    try:
        import bvall.cohort.example  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name != "bvall.cohort.example":
            raise


def load_cohort(name_or_path: str | Path) -> Cohort:
    """A bundled dataset by name, or a cohort read from a path (CSV folder, .xlsx, Parquet)."""
    _register_optional()
    key = str(name_or_path)
    if key in _LOADERS:
        return _LOADERS[key][1]()
    path = Path(key).expanduser()
    if path.exists():
        return read_cohort(path)
    raise UnknownNameError(
        f"{key!r} is neither a bundled dataset{suggest(key, list(_LOADERS))} nor an existing path. "
        f"Bundled datasets: {', '.join(_LOADERS)}; a path is a folder of CSV or Parquet files or "
        "an .xlsx workbook."
    )
