"""Shared fixtures."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass

import pytest


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def _run_cli(*args: str) -> CliResult:
    from bvall.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def run_cli() -> Callable[..., CliResult]:
    """Run the bvall CLI in-process: ``run_cli("cohort", "show", "published")``."""
    return _run_cli


@pytest.fixture(scope="session")
def published():  # type: ignore[no-untyped-def]
    from bvall.cohort import load_cohort

    return load_cohort("published")


def pytest_report_header() -> str:
    return f"python {sys.version.split()[0]}"
