"""`bvall` starts at once: the light paths import no engine (issue 13, item 2).

Each check runs the CLI in a fresh interpreter and reads ``sys.modules`` after it exits, so what
earlier tests imported cannot hide an import. Start-up times are measured by
``benchmarks/bench_latency.py``, not here.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bvall.cli import COMMANDS

ENGINES = ("ibis", "pandas", "matplotlib", "django", "duckdb", "scipy", "numpy", "pyarrow")

_PROBE = """
import json, sys
from bvall.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(%r)))
sys.stderr.write("\\nLOADED " + json.dumps(loaded) + "\\n")
"""


def _loaded(*args: str) -> tuple[list[str], subprocess.CompletedProcess[str]]:
    probe = _PROBE % json.dumps(ENGINES)
    proc = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED ")][-1]
    return json.loads(line.removeprefix("LOADED ")), proc


@pytest.mark.parametrize(
    "args",
    [("--help",), ("--version",), ("--verison",), ("stas",), ()],
    ids=["help", "version", "mistyped-option", "mistyped-command", "no-arguments"],
)
def test_light_paths_import_no_engine(args: tuple[str, ...]) -> None:
    loaded, proc = _loaded(*args)
    assert loaded == [], f"bvall {' '.join(args)} imported {loaded}"
    if args == ("--verison",):
        assert "No such option: --verison" in proc.stderr
    if args == ("stas",):
        assert "Did you mean 'stats'" in proc.stderr


def test_plan_imports_neither_numpy_nor_pandas() -> None:
    loaded, proc = _loaded(
        "plan", "--regimen", "bv-concurrent", "--start", "2026-12-07", "--weight", "62",
        "--height", "168", "--format", "json",
    )  # fmt: skip
    assert json.loads(proc.stdout)["regimen"]["id"] == "bv-concurrent"
    assert loaded == []


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (("stats", "ci", "11", "12", "--method", "all"), {"numpy", "scipy"}),
        (("stats", "fisher", "3", "1", "1", "3"), {"numpy"}),
        (("stats", "km", "{csv}", "--time", "t", "--event", "e", "--at", "2"), {"numpy"}),
        (("stats", "followup", "{csv}", "--time", "t", "--event", "e"), {"numpy"}),
        (("design", "simon", "--p0", "0.2", "--p1", "0.4"), {"numpy", "scipy"}),
    ],
    ids=["stats-ci", "stats-fisher", "stats-km", "stats-followup", "design-simon"],
)
def test_calculators_import_only_what_they_compute_with(
    args: tuple[str, ...], allowed: set[str], tmp_path: Path
) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("t,e\n1,1\n2,0\n3,1\n4,0\n", encoding="utf-8")
    argv = [a.replace("{csv}", str(csv)) for a in args]
    probe = _PROBE % json.dumps(["scipy.stats", "scipy.optimize", "scipy.signal", *ENGINES])
    probe = probe.replace('m.split(".")[0] for m in sys.modules', "m for m in sys.modules")
    proc = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    line = [x for x in proc.stderr.splitlines() if x.startswith("LOADED ")][-1]
    assert set(json.loads(line.removeprefix("LOADED "))) <= allowed


def test_help_lists_every_command_with_its_help(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for name, entry in COMMANDS.items():
        assert f" {name} {entry.help}" in text


@pytest.mark.parametrize("name", list(COMMANDS))
def test_registry_help_is_the_commands_own(name: str) -> None:
    command = COMMANDS[name].load(name)
    own = " ".join((command.help or "").split("\n\n")[0].split())
    assert own == COMMANDS[name].help


@pytest.mark.parametrize(
    "package", ["bvall.stats", "bvall.design", "bvall.regimen", "bvall.cohort"]
)
def test_lazy_package_exports_every_public_name(package: str) -> None:
    module = importlib.import_module(package)
    exported = {name for names in module._EXPORTS.values() for name in names}
    assert exported == set(module.__all__)
    assert set(module.__all__) <= set(dir(module))
    for name in module.__all__:
        value = getattr(module, name)
        assert getattr(value, "__module__", package).startswith("bvall"), name
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_python_dash_m_bvall_is_the_command() -> None:
    """``python -m bvall`` (and ``spark-submit .../bvall/__main__.py``) runs the command."""
    import bvall

    proc = subprocess.run(
        [sys.executable, "-m", "bvall", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert bvall.__version__ in proc.stdout
