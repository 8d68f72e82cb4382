"""Slow checks of the report: the report of a real small run (trained MACE and the EMT oracle) has every
figure and shows the stored numbers, and headless Chromium renders it with every image decoded and no console
message; a screenshot is kept in `test-artifacts/` for a person to look at."""

from __future__ import annotations

from pathlib import Path

import pytest

from egraffbench.report.build import ReportFiles, build_report
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.matrix import expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import read_task_file
from headless_chromium import CHROMIUM, SKIP_REASON, png_size, render
from test_report_fixtures import FIGURES, read_page
from test_runner_fixtures import TINY_MODE, write_tiny_task

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, ReportFiles]:
    """A real run of MACE (test preset, trained) and EMT on the tiny Cu–Au task, and its report."""
    folder = tmp_path_factory.mktemp("real-run")
    task = read_task_file(write_tiny_task(folder / "task"))
    jobs = expand_jobs(["mace", "emt"], [task], 1, "dev", TINY_MODE)
    result = run_benchmark(jobs, folder / "run")
    assert not result.failed, [r.error for r in result.records]
    files = build_report(folder / "run", folder / "report")
    return folder / "run", result.run_id, files


def test_report_of_a_real_run(real_run: tuple[Path, str, ReportFiles]) -> None:
    run_dir, run_id, files = real_run
    text, page = read_page(files.html)
    assert {f"tiny-cuau-{name}" for name in FIGURES} <= page.ids
    assert "missing:" not in text  # every artifact the report draws was stored by the run
    with ResultsStore.open_existing(run_dir) as store:
        stored = {(r["model"], r["name"]): r["value"] for r in store.summaries(run_id)}
    shown = {(cell["model"], cell["metric"]): float(cell["value"]) for cell in page.cells if cell["value"]}
    assert shown[("mace", "force_mae")] == stored[("mace", "force_mae")]
    assert all(stored[key] == value for key, value in shown.items() if key in stored)


@pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)
def test_report_renders_in_headless_chromium(real_run: tuple[Path, str, ReportFiles], tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><img src='missing.png'><script>console.error('seen')</script>"
    )
    control = render(broken, tmp_path / "profile-control")
    assert any("seen" in line for line in control.console)  # the check does see console errors
    assert control.broken_images == ["missing.png"]  # and images that did not decode

    page = render(real_run[2].html, tmp_path / "profile")
    assert page.console == []
    assert "leaderboard-tiny-cuau" in page.element_ids
    assert len(page.images) == 7 and page.broken_images == []

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report-screenshot.png"
    screenshot.write_bytes(page.screenshot_png)
    width, height = png_size(page.screenshot_png)
    assert width == 1400 and height > 2000  # the whole page: table and seven figures, not a blank viewport
