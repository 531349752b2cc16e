"""The names of the binomial interval methods, apart from their computation.

Menus and help texts (`bvall stats ci --method`, the analysis page) list the methods without
importing ``scipy.special``; :mod:`bvall.stats.binomial` computes them (a test keeps the two
lists equal).
"""

from __future__ import annotations

#: Method names accepted everywhere (CLI, reports, claim catalogues), in display order.
BINOMIAL_METHODS: tuple[str, ...] = (
    "wald",
    "wilson",
    "wilson-cc",
    "wilson-hmisc",
    "agresti-coull",
    "clopper-pearson",
    "jeffreys",
    "mid-p",
)

#: Human-readable names, for tables and footnotes.
METHOD_LABELS: dict[str, str] = {
    "wald": "Wald",
    "wilson": "Wilson score",
    "wilson-cc": "Wilson score with continuity correction (Newcombe method 4)",
    "wilson-hmisc": "Wilson score, Hmisc::binconf (adjusted at x = 1 and x = n − 1)",
    "agresti-coull": "Agresti–Coull",
    "clopper-pearson": "Clopper–Pearson (exact)",
    "jeffreys": "Jeffreys",
    "mid-p": "Mid-p (exact)",
}
