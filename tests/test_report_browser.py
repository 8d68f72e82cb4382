"""Slow checks of the report: the report of a real small run (trained MACE and the EMT oracle) has every
figure and shows the stored numbers, and headless Chromium renders it with no console message; a screenshot
is kept in `test-artifacts/` for a person to look at."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from egraffbench.report.build import ReportFiles, build_report
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.matrix import expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import read_task_file
from test_report_fixtures import FIGURES, read_page
from test_runner_fixtures import TINY_MODE, write_tiny_task

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root in containers
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WINDOW = (1400, 4000)


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


def _chromium(arguments: list[str], profile: Path) -> subprocess.CompletedProcess:
    command = [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _console_messages(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from ``page`` and every console message it logged."""
    result = _chromium(
        ["--enable-logging=stderr", "--v=0", "--log-level=0", "--dump-dom", page.as_uri()], profile
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(real_run: tuple[Path, str, ReportFiles], tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><script>console.error('seen')</script></body></html>")
    _, messages = _console_messages(broken, tmp_path / "profile-control")
    assert any("seen" in line for line in messages)  # the check does see console errors

    report = real_run[2].html
    dom, messages = _console_messages(report, tmp_path / "profile")
    assert messages == []
    assert 'id="leaderboard-tiny-cuau"' in dom and dom.count("<img ") == 7

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report-screenshot.png"
    screenshot.unlink(missing_ok=True)
    window = f"--window-size={WINDOW[0]},{WINDOW[1]}"
    result = _chromium(
        [f"--screenshot={screenshot}", window, "--hide-scrollbars", report.as_uri()], tmp_path / "p2"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert _png_size(screenshot) == WINDOW
    assert screenshot.stat().st_size > 100_000  # a rendered page with figures, not a blank one
