"""Write the published benchmark's numbers into the pages that quote them, from results/standard/ alone:

- README.md: the headline table (from results/standard/report/leaderboard.csv);
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

ROOT = Path(__file__).resolve().parents[1]
STANDARD = ROOT / "results" / "standard"
LEADERBOARD = STANDARD / "report" / "leaderboard.csv"
sys.path.insert(0, str(ROOT / "benchmarks"))  # benchmarks/job_costs.py, a script beside this one

import job_costs  # noqa: E402


def _number(value: str, scale: float = 1.0, digits: str = ".3g") -> str:
    return format(float(value) * scale, digits) if value else "–"


def _interval(row: dict[str, str], column: str, digits: str = ".3g") -> str:
    if not row.get(column):
        return "–"
    low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
    bounds = f" [{_number(low, 1, digits)}, {_number(high, 1, digits)}]" if low and high else ""
    return _number(row[column], 1, digits) + bounds


def headline_table(leaderboard: Path = LEADERBOARD) -> str:
    """One row per task and model, in the leaderboard's order: errors, structure, violation, stability
    (fraction of replicas stable to the task's horizon) and MD speed, with 95 % intervals."""
    with leaderboard.open() as handle:
        rows = list(csv.DictReader(handle))
    columns = ["task", "place", "model", "F MAE meV/Å", "E MAE meV/atom", "WF %", "EV", "FV"]
    columns += ["stable to horizon", "MD steps/s"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [
            row["task"],
            row["place"],
            row["model"],
            _number(row["force_mae"], 1000),
            _number(row["energy_mae_per_atom"], 1000),
            _interval(row, "wf_percent"),
            _interval(row, "ev"),
            _interval(row, "fv"),
            _interval(row, "stable_fraction", ".2f"),
            _number(row["steps_per_s"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
    Block(ROOT / "README.md", "results/standard/report/leaderboard.csv", headline_table),
    Block(
        ROOT / "docs" / "findings.md",
        "results/standard/report/findings.md",
        lambda: (STANDARD / "report" / "findings.md").read_text(),
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
