"""What unoptimised TorchScript costs: every model call with TorchScript's profiling executor (optimised after
its first calls) vs unoptimised (what `ForceField.forward` runs since the first call's numbers differed).

For every architecture's `standard` preset, on a batch of the first ten `md17-aspirin` test frames (as an MD
step sees ten replicas), float32, it times the MD call (energy and forces) and a training step (the same plus
the loss gradient with respect to the parameters), after two warm-up calls. Each execution runs in its own
fresh interpreter: once a scripted function has an optimised plan, TorchScript uses it even with
optimisation off (docs/md.md), so the two cannot share a process. The interpreters alternate (unoptimised,
optimised, ``--rounds`` times), so load changes affect both alike; the optimised side runs
`ForceField.forward` without its `unoptimised_torchscript` context.

    python benchmarks/torchscript_execution.py [--data ../shared/datasets] [--repeats 9] [--rounds 2]

Prints median ms per call of each execution (over rounds and calls) and their ratio (unoptimised / optimised).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
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


def timed_calls(architecture: str, optimised: bool, data: Path, repeats: int) -> dict[str, list[float]]:
    """ms of each timed MD call and training step of ``architecture`` in this (fresh) interpreter."""
    if optimised:
        base.unoptimised_torchscript = contextlib.nullcontext
    torch.manual_seed(0)
    frames = load_dataset("md17-aspirin", "test", data)[:REPLICAS]
    config = load_preset(architecture, "standard")
    examples = build_examples(frames, config.cutoff, torch.float32)
    graph, _, _ = examples.batch(list(range(len(frames))))
    model = untrained_force_field(config, frames, examples)
    md_call, train_step = model_calls(model, graph)
    times: dict[str, list[float]] = {}
    for name, call, mode in (("md", md_call, model.eval), ("train", train_step, model.train)):
        mode()
        for _ in range(2):
            call()
        times[name] = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times[name].append(1000.0 * (time.perf_counter() - started))
    return times


def measure(architecture: str, args: argparse.Namespace) -> dict[bool, dict[str, float]]:
    """Median ms per call of each execution, from alternating fresh interpreters."""
    pooled: dict[bool, dict[str, list[float]]] = {
        False: {"md": [], "train": []},
        True: {"md": [], "train": []},
    }
    for _ in range(args.rounds):
        for optimised in (False, True):
            command = [sys.executable, __file__, "--child", architecture, "--data", str(args.data)]
            command += ["--repeats", str(args.repeats)] + (["--optimised"] if optimised else [])
            child = subprocess.run(command, capture_output=True, text=True, check=True)
            for name, values in json.loads(child.stdout.strip().splitlines()[-1]).items():
                pooled[optimised][name] += values
    return {mode: {name: statistics.median(v) for name, v in calls.items()} for mode, calls in pooled.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"), help="datasets folder")
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per interpreter")
    parser.add_argument("--rounds", type=int, default=2, help="interpreters per execution")
    parser.add_argument("--child", metavar="ARCHITECTURE", help=argparse.SUPPRESS)
    parser.add_argument("--optimised", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(timed_calls(args.child, args.optimised, args.data, args.repeats)))
        return
    print(
        f"standard presets, {REPLICAS} aspirin frames per call, float32; median of {args.rounds} × "
        f"{args.repeats} calls; {describe('cpu')}; torch {torch.__version__}"
    )
    columns = ("MD unopt", "MD opt", "ratio", "train unopt", "train opt", "ratio")
    print(f"{'model':<11}" + "".join(f"{column:>12}" for column in columns))
    for architecture in args.models:
        medians = measure(architecture, args)
        plain, optimised = medians[False], medians[True]
        cells = [f"{medians[mode][name]:>12.1f}" for name in ("md", "train") for mode in (False, True)]
        ratios = [f"{plain[name] / optimised[name]:>12.2f}" for name in ("md", "train")]
        print(
            f"{architecture:<11}" + "".join(cells[:2] + ratios[:1] + cells[2:] + ratios[1:]),
            flush=True,
        )


if __name__ == "__main__":
    main()
