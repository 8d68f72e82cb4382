"""`build_report`: read a run folder's results store and write its report — `report.html` (self-contained),
`report.md` and `leaderboard.csv` — into the output folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from egraffbench.fileio import atomic_write_text
from egraffbench.report.assemble import assemble_report
from egraffbench.report.collect import read_run
from egraffbench.report.html import render_html
from egraffbench.report.text import report_csv, report_markdown
from egraffbench.store.database import ResultsStore

REPORT_FOLDER = "report"


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    html: Path
    markdown: Path
    csv: Path


def build_report(
    run_dir: Path,
    out_dir: Path | None = None,
    run_id: str | None = None,
) -> ReportFiles:
    """Write the report of run ``run_id`` (default: the latest) of ``run_dir`` into ``out_dir`` (default
    ``run_dir/report``), from its results store and the artifacts its stages wrote."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir / REPORT_FOLDER
    with ResultsStore.open_existing(run_dir) as store:
        view = read_run(store, run_id)
    report = assemble_report(view)
    files = ReportFiles(out_dir / "report.html", out_dir / "report.md", out_dir / "leaderboard.csv")
    atomic_write_text(files.html, render_html(report))
    atomic_write_text(files.markdown, report_markdown(report))
    atomic_write_text(files.csv, report_csv(report))
    return files
