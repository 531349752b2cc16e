"""Package exports imported when first used (PEP 562 module ``__getattr__``).

A package ``__init__`` that imported every submodule would make each light use of the package
(``bvall plan`` needs the regimen planner, not the cohort deviations and pandas behind them) pay
for the heaviest one. With :func:`export_lazily` the package's public names stay importable
(``from bvall.regimen import plan_regimen``) while each submodule is imported only when one of its
names is first asked for. The language's own mechanism, a few lines, so no dependency for it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any


def export_lazily(
    package: str, exports: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` whose names live in ``exports``.

    ``exports`` maps a submodule (``"bvall.stats.binomial"``) to the public names it defines.
    A name, once looked up, is stored on the package, so later lookups are plain attributes.
    """
    where = {name: module for module, names in exports.items() for name in names}

    def get_export(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def list_names() -> list[str]:
        # The package's exports and its submodules, not the names its __init__ uses itself.
        own = vars(sys.modules[package])
        kept = {n for n, v in own.items() if n.startswith("__") or isinstance(v, ModuleType)}
        return sorted(kept | set(where))

    return get_export, list_names
