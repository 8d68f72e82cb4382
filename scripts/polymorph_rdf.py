"""How far apart the LiPS20 polymorphs' structures are early and late in their 3000 K reference runs, which
decides how unseen lips20-unseen-structure's test structures are (docs/findings.md, finding 3): Wright's
factor between the total g(r) of two systems, each averaged over every 10th frame of a window of its
reference frames, on one grid for every pair, up to the r_max every cell allows
(`metrics.structure.default_r_max`), so that the pairs compare with one another.

Reads the datasets only (no run); writes results/standard/lips20-polymorphs.json and prints a markdown
table. `--check` writes nothing and exits 1 when the committed file differs from what the data give.

    python scripts/polymorph_rdf.py [--data-root DIR] [--check]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from egraffbench.data import load_dataset
from egraffbench.fileio import atomic_write_json
from egraffbench.metrics.similarity import wright_factor
from egraffbench.metrics.structure import DEFAULT_DR, default_r_max, rdf_frames

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "results" / "standard" / "lips20-polymorphs.json"
WINDOWS = {"frames 0-90": range(0, 100, 10), "frames 500-990": range(500, 1000, 10)}
# (reference, other): the unseen-structure task trains on Li2PS3-hex and beta-Li3PS4 and tests the others
PAIRS = (
    ("Li2PS3-hex", "Li2PS3-orth"),
    ("Li2PS3-hex", "Li4P2S6"),
    ("Li2PS3-orth", "Li4P2S6"),
    ("beta-Li3PS4", "gamma-Li3PS4"),
)
RELATIVE_TOLERANCE = 1e-6  # --check: summation order may differ between numpy builds


def _frames(system: str, data_root: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions (frames, atoms, 3) and cells (frames, 3, 3) of every reference frame of a LiPS20 system."""
    atoms = load_dataset(f"lips20/{system}", "all", data_root)
    return np.stack([a.positions for a in atoms]), np.stack([np.asarray(a.cell) for a in atoms])


def distances(data_root: Path | None = None) -> dict:
    """The WF (%) between each pair of PAIRS per window, and the grid."""
    frames = {system: _frames(system, data_root) for pair in PAIRS for system in pair}
    r_max = min(default_r_max(cells) for _, cells in frames.values())
    rows = []
    for reference, other in PAIRS:
        row = {"reference": reference, "other": other, "wf_percent": {}}
        for window, chosen in WINDOWS.items():
            curves = [
                rdf_frames(frames[s][0][list(chosen)], frames[s][1][list(chosen)], r_max=r_max).mean(axis=0)
                for s in (reference, other)
            ]
            row["wf_percent"][window] = wright_factor(curves[1], curves[0])
        rows.append(row)
    windows = {window: [r.start, r.stop, r.step] for window, r in WINDOWS.items()}
    return {"r_max": r_max, "dr": DEFAULT_DR, "windows": windows, "pairs": rows}


def same(found: object, committed: object) -> bool:
    """True when two results agree: floats to RELATIVE_TOLERANCE, everything else exactly."""
    if isinstance(found, dict) and isinstance(committed, dict):
        return found.keys() == committed.keys() and all(same(found[k], committed[k]) for k in found)
    if isinstance(found, list) and isinstance(committed, list):
        return len(found) == len(committed) and all(map(same, found, committed))
    if isinstance(found, float) and isinstance(committed, float):
        return math.isclose(found, committed, rel_tol=RELATIVE_TOLERANCE)
    return found == committed


def table(result: dict) -> str:
    """The result as a markdown table: one row per pair, one column per window."""
    windows = list(result["windows"])
    lines = [
        f"WF (%) between total g(r), r_max {result['r_max']:.2f} Å, bins of {result['dr']} Å",
        "",
        "| reference | other | " + " | ".join(windows) + " |",
        "|---|---|" + "---|" * len(windows),
    ]
    for row in result["pairs"]:
        values = " | ".join(f"{row['wf_percent'][w]:.2f}" for w in windows)
        lines.append(f"| {row['reference']} | {row['other']} | {values} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=None, help="data root (default: egraffbench's)")
    parser.add_argument("--check", action="store_true", help="compare with the committed file, write nothing")
    arguments = parser.parse_args()
    result = distances(arguments.data_root)
    print(table(result))
    if arguments.check:
        committed = json.loads(OUTPUT.read_text()) if OUTPUT.is_file() else None
        if not same(result, committed):
            print(f"{OUTPUT.relative_to(ROOT)}: differs from what the data give", file=sys.stderr)
            return 1
        return 0
    atomic_write_json(OUTPUT, result)
    print(f"written: {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
