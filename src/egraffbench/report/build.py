"""`build_report`: read a run folder's results store (or those of several folders, merged) and write its
report — `report.html` (self-contained), `report.md`, `leaderboard.csv` and `findings.md` (the paper's
findings checked, `report.paper`) — into the output folder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from egraffbench.errors import ConfigError
from egraffbench.fileio import atomic_write_text
from egraffbench.report.assemble import assemble_report
from egraffbench.report.html import render_html
from egraffbench.report.merge import read_runs
from egraffbench.report.paper.render import write_findings
from egraffbench.report.sensitivity import sensitivity_section
from egraffbench.report.text import report_csv, report_markdown

REPORT_FOLDER = "report"


@dataclass(frozen=True)
class ReportFiles:
    """Where a report was written."""

    html: Path
    markdown: Path
    csv: Path
    findings: Path  # the paper's findings checked against the run (`report.paper`)

    @classmethod
    def in_folder(cls, out_dir: Path) -> ReportFiles:
        """The files of a report written into ``out_dir``."""
        names = ("report.html", "report.md", "leaderboard.csv", "findings.md")
        return cls(*(out_dir / name for name in names))


def build_report(
    run_dir: Path | Sequence[Path],
    out_dir: Path | None = None,
    run_id: str | None = None,
) -> ReportFiles:
    """Write the report of run ``run_id`` (default: the latest) of ``run_dir`` into ``out_dir`` (default
    ``run_dir/report``), from their results stores and the artifacts their stages wrote; given several run
    folders, of their latest runs merged (`report.merge`), and then ``out_dir`` is required."""
    run_dirs = [Path(run_dir)] if isinstance(run_dir, str | Path) else [Path(d) for d in run_dir]
    if out_dir is None and len({d.resolve() for d in run_dirs}) > 1:
        raise ConfigError("a report of several run folders needs --out DIR: it belongs to none of them")
    out_dir = Path(out_dir) if out_dir is not None else run_dirs[0] / REPORT_FOLDER
    view = read_runs(run_dirs, run_id)
    report = assemble_report(view)
    files = ReportFiles.in_folder(out_dir)
    atomic_write_text(files.html, render_html(report))
    atomic_write_text(files.markdown, report_markdown(report))
    atomic_write_text(files.csv, report_csv(report))
    appendix = sensitivity_section(report.sensitivity)
    write_findings(files.findings, report.tasks, f"run {report.view.run_id}", appendix)
    return files
