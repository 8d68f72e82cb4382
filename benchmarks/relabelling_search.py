"""What the stability watch's relabelling costs: the identity bond check vs the relabelling search, per frame.

On acetylacetone's reference test trajectory (`acac` test split; its enol proton sits on either oxygen), every
frame is checked against the bonds of the task's first MD start frame (test frame 150), as the MD watch checks
a replica: the identity check (``check_stability`` without atomic numbers) on every frame, and the
relabelling search (``relabelled_bonds``) on the frames the identity check flags — which the watch searches
once per check. Both are timed on the same frame, one after the other, so load changes affect both alike.

    python benchmarks/relabelling_search.py [--data ../shared/datasets] [--repeats 5]

Prints the frames flagged, how many relabelling mends, and median and maximum seconds of each kind of check.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from egraffbench.data import load_dataset
from egraffbench.metrics import bonded_pairs, check_stability, relabelled_bonds

START_FRAME = 150  # the acac task's first test frame (tasks/definitions/acac.yaml)
TOLERANCE = 0.5  # Å, StabilityCriteria.bond_deviation


def _best_of(repeats: int, work) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--repeats", type=int, default=5, help="best of N timings per frame and check")
    args = parser.parse_args()
    frames = load_dataset("acac", "test", root=args.data)
    start = frames[START_FRAME]
    bonds = bonded_pairs(start.positions, start.numbers)
    lengths = np.linalg.norm(start.positions[bonds[:, 1]] - start.positions[bonds[:, 0]], axis=1)
    identity_s, search_s, mended = [], [], 0
    for atoms in frames:

        def identity(atoms=atoms) -> list[str | None]:
            return check_stability(
                atoms.positions,
                np.zeros(len(atoms), int),
                [0.0],
                initial_positions=start.positions,
                bonds=bonds,
            )

        seconds, reasons = _best_of(args.repeats, identity)
        identity_s.append(seconds)
        if reasons[0] != "bond-deviation":
            continue
        seconds, found = _best_of(
            args.repeats,
            lambda atoms=atoms: relabelled_bonds(atoms.positions, atoms.numbers, bonds, lengths, TOLERANCE),
        )
        search_s.append(seconds)
        mended += found is not None
    print(
        f"acac test frames: {len(frames)}; flagged by the identity check: {len(search_s)}; mended: {mended}"
    )
    for name, seconds in (("identity check", identity_s), ("relabelling search", search_s)):
        if seconds:
            print(f"{name}: median {np.median(seconds) * 1e3:.2f} ms, max {np.max(seconds) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
