"""What computing every result with one torch thread costs (docs/decisions.md, "Every result is computed with
one torch thread"): per architecture, the time of one MD call (energy and forces of 10 replicas batched) and
of one training step on the same batch, with 1 and with 2 torch threads, measured side by side (each repeat
times both counts in turn, so a change of load hits both), and their ratio.

The batch is the first 10 `md17-aspirin` test frames (21 atoms each), the `standard` preset, float32,
untrained weights. Run it on an idle machine with at least 2 cores: with other work on the cores a second
thread waits for them and the ratio says nothing.

    python benchmarks/threads.py [--data ../shared/datasets] [--models mace nequip] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from egraffbench.data import load_dataset
from egraffbench.models import ARCHITECTURES, AtomicBatch, ForceField
from egraffbench.models.presets import load_preset
from egraffbench.training.examples import build_examples
from egraffbench.training.trainer import untrained_force_field
from models import model_calls

THREAD_COUNTS = (1, 2)
REPLICAS = 10


def batched(architecture: str, frames: list) -> tuple[ForceField, AtomicBatch]:
    config = load_preset(architecture, "standard")
    examples = build_examples(frames, config.cutoff, torch.float32)
    graph, _, _ = examples.batch(list(range(len(frames))))
    return untrained_force_field(config, frames, examples), graph


def side_by_side(call: Callable[[], None], repeats: int) -> dict[int, float]:
    """Median ms of ``call()`` per thread count, the counts alternating within each repeat (after warm-up)."""
    times: dict[int, list[float]] = {n: [] for n in THREAD_COUNTS}
    for n in THREAD_COUNTS:
        torch.set_num_threads(n)
        call()
        call()
    for _ in range(repeats):
        for n in THREAD_COUNTS:
            torch.set_num_threads(n)
            started = time.perf_counter()
            call()
            times[n].append(1000.0 * (time.perf_counter() - started))
    return {n: statistics.median(values) for n, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="offline datasets")
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    frames = load_dataset("md17-aspirin", "test", args.data)[:REPLICAS]
    load = os.getloadavg()[0]
    rows = []
    for architecture in args.models:
        torch.manual_seed(0)
        model, graph = batched(architecture, frames)
        md_call, train_step = model_calls(model, graph)
        model.eval()
        md = side_by_side(md_call, args.repeats)
        model.train()
        train = side_by_side(train_step, args.repeats)
        rows.append((architecture, md, train))
        print(f"  measured {architecture}", flush=True)
    print(
        f"threads: md17-aspirin, {REPLICAS} frames batched, standard preset, float32; median of "
        f"{args.repeats}; {os.cpu_count()} cores, load average {load:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after; torch {torch.__version__}"
    )
    header = ("model", "MD call ms, 1 thread", "2 threads", "1 / 2", "train step ms, 1 thread", "2 threads")
    print("| " + " | ".join(header) + " | 1 / 2 |")
    print("|---|---|---|---|---|---|---|")
    for architecture, md, train in rows:
        print(
            f"| {architecture} | {md[1]:.1f} | {md[2]:.1f} | {md[1] / md[2]:.2f} | {train[1]:.1f} | "
            f"{train[2]:.1f} | {train[1] / train[2]:.2f} |"
        )


if __name__ == "__main__":
    main()
