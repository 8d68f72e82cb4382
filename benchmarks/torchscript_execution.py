"""What unoptimised TorchScript costs: every model call with TorchScript's profiling executor (optimised after
its first calls) vs unoptimised (what `ForceField.forward` runs since the first call's numbers differed).

For every architecture's `standard` preset, on a batch of the first ten `md17-aspirin` test frames (as an MD
step sees ten replicas), float32, it times the MD call (energy and forces) and a training step (the same plus
the loss gradient with respect to the parameters). The two executions alternate call by call after warm-up
calls, so load changes affect both alike; the optimised side is obtained by running `ForceField.forward`
without its `unoptimised_torchscript` context.

    python benchmarks/torchscript_execution.py [--data ../shared/datasets] [--repeats 9]

Prints median ms per call of each execution and their ratio (unoptimised / optimised).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from egraffbench.data import load_dataset
from egraffbench.models import ARCHITECTURES, base
from egraffbench.models.presets import load_preset
from egraffbench.training.examples import build_examples
from egraffbench.training.trainer import untrained_force_field
from machine import describe
from models import model_calls

REPLICAS = 10


def alternating_medians(call: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Median ms of ``call`` unoptimised and optimised, alternating, after two warm-up calls of each."""
    unoptimised = base.unoptimised_torchscript
    times: dict[bool, list[float]] = {True: [], False: []}
    for index in range(2 * (repeats + 2)):
        optimised = index % 2 == 1
        base.unoptimised_torchscript = contextlib.nullcontext if optimised else unoptimised
        try:
            started = time.perf_counter()
            call()
            elapsed = 1000.0 * (time.perf_counter() - started)
        finally:
            base.unoptimised_torchscript = unoptimised
        if index >= 4:
            times[optimised].append(elapsed)
    return statistics.median(times[False]), statistics.median(times[True])


def measure(architecture: str, frames: list, repeats: int) -> tuple[float, float, float, float]:
    torch.manual_seed(0)
    config = load_preset(architecture, "standard")
    examples = build_examples(frames, config.cutoff, torch.float32)
    graph, _, _ = examples.batch(list(range(len(frames))))
    model = untrained_force_field(config, frames, examples)
    md_call, train_step = model_calls(model, graph)
    model.eval()
    md = alternating_medians(md_call, repeats)
    model.train()
    train = alternating_medians(train_step, repeats)
    return (*md, *train)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="datasets folder")
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--repeats", type=int, default=9, help="timed calls of each execution")
    args = parser.parse_args()
    frames = load_dataset("md17-aspirin", "test", args.data)[:REPLICAS]
    print(
        f"standard presets, {REPLICAS} aspirin frames per call, float32; median of {args.repeats} calls; "
        f"{describe('cpu')}; torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    columns = ("MD unopt", "MD opt", "ratio", "train unopt", "train opt", "ratio")
    print(f"{'model':<11}" + "".join(f"{column:>12}" for column in columns))
    for architecture in args.models:
        md_u, md_o, train_u, train_o = measure(architecture, frames, args.repeats)
        print(
            f"{architecture:<11}{md_u:>12.1f}{md_o:>12.1f}{md_u / md_o:>12.2f}"
            f"{train_u:>12.1f}{train_o:>12.1f}{train_u / train_o:>12.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
