"""Write the published benchmark's numbers into the pages that quote them, from results/standard/ alone:

- README.md: the verdict on each of the paper's findings (results/standard/report/findings.md's first table)
  and the headline table (from results/standard/report/leaderboard.csv);
- results/standard/README.md: which shipped task × architecture is published, with how many seeds (the same);
- docs/findings.md: the generated findings (results/standard/report/findings.md, verbatim);
- docs/performance.md: what every published job cost (`benchmarks/job_costs.py results/standard/runs/*`).

Each block sits between an opening marker naming its source and `<!-- end ... -->`; text around the blocks
is written by hand and left alone. `--check` changes nothing and exits 1, naming the stale blocks, when a page
differs from what the committed results give (tests/test_published_results.py runs it).

    python scripts/sync_published_docs.py [--check]
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from egraffbench.store.catalog import COLUMN_BY_KEY, Column, format_interval, format_number

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "results" / "standard"
LEADERBOARD = STANDARD / "report" / "leaderboard.csv"
FINDINGS = STANDARD / "report" / "findings.md"
sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/job_costs.py, a script beside this one

import job_costs  # noqa: E402

HEADLINE_COLUMNS = (
    "force_mae",
    "energy_mae_per_atom",
    "wf_percent",
    "ev",
    "fv",
    "stable_fraction",
    "live_steps_per_s",
)


def _float(text: str | None) -> float | None:
    return float(text) if text else None


def _cell(row: dict[str, str], column: Column) -> str:
    """The value as the report shows it, with its 95 % interval where it has one."""
    value = _float(row.get(column.key))
    interval = format_interval(
        value, _float(row.get(f"{column.key}_low")), _float(row.get(f"{column.key}_high")), column
    )
    text = format_number(value, column)
    return text if interval is None else f"{text} {interval}"


def headline_table(leaderboard: Path = LEADERBOARD) -> str:
    """One row per task and model, in the leaderboard's order: errors, structure, violation, stability
    (fraction of replicas stable to the task's horizon) and MD speed, with 95 % intervals, formatted as the
    report formats them."""
    with leaderboard.open() as handle:
        rows = list(csv.DictReader(handle))
    columns = [COLUMN_BY_KEY[key] for key in HEADLINE_COLUMNS]
    headers = ["task", "place", "model"] + [f"{c.header} {c.unit}".strip() for c in columns]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [row["task"], row["place"], row["model"]] + [_cell(row, column) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def verdict_table(findings: Path = FINDINGS) -> str:
    """The generated findings' first table: each of the paper's findings and its verdict."""
    lines = findings.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def coverage_table(leaderboard: Path = LEADERBOARD) -> str:
    """Per shipped task (rows) and architecture (columns): the seeds its published jobs pooled, "—" where
    none is published; then how many of the cells are published, and with how many seeds."""
    from egraffbench.models import ARCHITECTURES
    from egraffbench.tasks.loader import list_tasks, load_task

    with leaderboard.open() as handle:
        seeds = {(row["task"], row["model"]): int(row["seeds"]) for row in csv.DictReader(handle)}
    tasks, architectures = list_tasks(), list(ARCHITECTURES)
    lines = [
        "| task | kind | " + " | ".join(architectures) + " |",
        "|" + "---|" * (len(architectures) + 2),
    ]
    for task in tasks:
        cells = [str(seeds[(task, model)]) if (task, model) in seeds else "—" for model in architectures]
        lines.append(f"| {task} | {load_task(task).kind} | " + " | ".join(cells) + " |")
    published = [seeds[cell] for cell in seeds if cell[0] in tasks and cell[1] in architectures]
    by_count = ", ".join(
        f"{published.count(count)} with {count} seed{'s' if count > 1 else ''}"
        for count in sorted(set(published))
    )
    shape = f"{len(tasks)} shipped tasks × {len(architectures)} architectures"
    summary = f"{len(published)} of the {len(tasks) * len(architectures)} cells ({shape}) published"
    return "\n".join(lines) + f"\n\n{summary}: {by_count or 'none'}.\n"


def cost_tables(runs: list[Path] | None = None) -> str:
    """`benchmarks/job_costs.py` over the published run folders."""
    runs = runs if runs is not None else sorted(p for p in (STANDARD / "runs").glob("*") if p.is_dir())
    return job_costs.markdown([row for run in runs for row in job_costs.job_rows(run)]) + "\n"


@dataclass(frozen=True)
class Block:
    page: Path
    source: str  # what the opening marker names
    text: Callable[[], str]

    @property
    def start(self) -> str:
        return f"<!-- generated: {self.source} -->\n"


BLOCKS = (
    Block(ROOT / "README.md", "verdicts, results/standard/report/findings.md", verdict_table),
    Block(ROOT / "README.md", "results/standard/report/leaderboard.csv", headline_table),
    Block(
        STANDARD / "README.md",
        "seeds per task and architecture, results/standard/report/leaderboard.csv",
        coverage_table,
    ),
    Block(
        ROOT / "docs" / "findings.md",
        "results/standard/report/findings.md",
        FINDINGS.read_text,
    ),
    Block(
        ROOT / "docs" / "performance.md",
        "python benchmarks/job_costs.py results/standard/runs/*",
        cost_tables,
    ),
)
END = "<!-- end generated -->"


def sync(check: bool = False) -> list[str]:
    """Rewrite every block (or, with ``check``, only compare); the blocks that were stale."""
    stale = []
    for block in BLOCKS:
        page = block.page.read_text()
        if block.start not in page:
            raise SystemExit(f"error: {block.page}: no `{block.start.strip()}` marker")
        begin = page.index(block.start) + len(block.start)
        end = page.index(END, begin)
        wanted = block.text()
        if page[begin:end] != wanted:
            stale.append(f"{block.page.relative_to(ROOT)} ({block.source})")
            if not check:
                block.page.write_text(page[:begin] + wanted + page[end:])
    return stale


if __name__ == "__main__":
    checking = "--check" in sys.argv[1:]
    changed = sync(check=checking)
    for name in changed:
        print(("stale: " if checking else "updated: ") + name)
    sys.exit(1 if checking and changed else 0)
