"""What the metric-sensitivity variants add to the score stage's structure scores (docs/performance.md):
seconds of WF/JSD under the default grid alone and with every `metrics.sensitivity` variant, for the same
replicas against the same reference.

    python benchmarks/sensitivity_cost.py TASK [TRAJECTORY] [--data-root DIR] [--frames N] [--repeats R]

With an `egraffbench simulate` TRAJECTORY (.h5), its replicas are scored against the first test system of
TASK; without one, the first N test frames of that system are scored as one replica (a g(r) of a periodic
task at the cost of a real rollout of N frames).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from egraffbench.md.trajectory import replica_ids
from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.runner.rollout_scoring import Rollout, structure_values
from egraffbench.runner.stages import read_rollout
from egraffbench.tasks import load_task
from egraffbench.tasks.sources import load_source


def _rollouts(args: argparse.Namespace, positions: np.ndarray, cells: np.ndarray) -> list[Rollout]:
    if args.trajectory is None:
        count = min(args.frames, len(positions))
        return [Rollout(positions[:count], cells[:count], np.zeros(0), np.zeros(count), *[None] * 4)]
    return [read_rollout(args.trajectory, index) for index in replica_ids(args.trajectory)]


def _default_only(rollouts: list[Rollout], positions: np.ndarray, cells: np.ndarray, periodic: bool) -> None:
    reference = reference_structure(positions, cells, "rdf" if periodic else "hr")
    for rollout in rollouts:
        score_structure(rollout.positions, rollout.cells, reference)


def _best_of(repeats: int, work) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task")
    parser.add_argument("trajectory", nargs="?", type=Path)
    parser.add_argument("--data-root", type=Path, default=Path(os.environ.get("EGRAFFBENCH_DATA", ".")))
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    system = load_task(args.task).test[0]
    frames = load_source(system, args.data_root)
    positions = np.array([atoms.positions for atoms in frames])
    cells = np.array([atoms.cell.array for atoms in frames])
    periodic = bool(np.all(frames[0].pbc))
    rollouts = _rollouts(args, positions, cells)
    default = _best_of(args.repeats, lambda: _default_only(rollouts, positions, cells, periodic))
    variants = _best_of(args.repeats, lambda: structure_values(rollouts, positions, cells, periodic))
    shape = f"{len(rollouts)} replica(s) × {len(rollouts[0].positions)} frames × {positions.shape[1]} atoms"
    print(f"{args.task} ({'g(r)' if periodic else 'h(r)'}, {shape}; reference {len(frames)} frames)")
    ratio = variants / default
    print(f"default grid only: {default:.2f} s; with every variant: {variants:.2f} s ({ratio:.1f}×)")


if __name__ == "__main__":
    main()
