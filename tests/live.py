"""Helpers for tests that run a real `bvall serve` (see benchmarks/livestack.py)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (the same code the benchmark runs)."""
    folder = str(ROOT / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def postgres_url() -> str | None:
    return os.environ.get("BVALL_TEST_POSTGRES_URL") or None


POSTGRES_SKIP = (
    "PostgreSQL tests need a server: set BVALL_TEST_POSTGRES_URL, e.g. "
    "postgres://postgres@127.0.0.1:5432/postgres (tests create and drop their own database)."
)
