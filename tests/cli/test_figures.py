"""`bvall figures`: writes the files it says it wrote, and says why figures are omitted."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CliResult


def test_published_writes_two_figures_and_lists_omitted(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result: CliResult = run_cli(
        "figures", "published", "--out", str(tmp_path), "--format", "png,svg", "--dpi", "150"
    )
    assert result.exit_code == 0, result.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "figure-consort.png",
        "figure-consort.svg",
        "figure-timeline.png",
        "figure-timeline.svg",
    ]
    out = " ".join(result.stdout.split())
    assert "Omitted (4)" in out
    for fid in ("figure-os", "figure-rfs", "figure-cir", "figure-swimmer"):
        assert f"{fid}:" in out


def test_unknown_format_is_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("figures", "published", "--out", str(tmp_path), "--format", "gif")
    assert result.exit_code == 1
    assert "'gif'" in result.stderr
    assert not list(tmp_path.iterdir())
