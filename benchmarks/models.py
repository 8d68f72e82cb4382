"""Cost of each force field: parameter count and time of one energy+forces call and one training step.

For every architecture and preset (`dev`, `paper`) and two real systems — aspirin (21 atoms, the first
`md17-aspirin` test frame) and the 200-atom GeTe cell (first `gete` test frame) — it builds the model
(float32, statistics from that frame, the preset's cutoff) and times, after warm-up calls:

- MD call: energy and forces (the forces are −∂E/∂r, so this is a forward and a backward pass);
- train step: the same plus the loss gradient with respect to the parameters (what one training step costs).

Each time is the median of ``--repeats`` calls.

    python benchmarks/models.py [--data ../shared/datasets] [--presets dev paper] [--device cpu] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from ase import Atoms

from egraffbench.data import load_dataset
from egraffbench.models import ARCHITECTURES, AtomicBatch, ForceField
from egraffbench.models.presets import load_preset
from egraffbench.training.examples import build_examples
from egraffbench.training.trainer import untrained_force_field
from machine import describe

SYSTEMS = {"aspirin": "md17-aspirin", "GeTe": "gete"}


@dataclass(frozen=True)
class Cost:
    architecture: str
    preset: str
    system: str
    atoms: int
    edges: int
    parameters: int
    md_call_ms: float
    train_step_ms: float


def synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def median_ms(call, repeats: int, device: str) -> float:
    """Median wall time of ``call()`` in ms, after two warm-up calls."""
    for _ in range(2):
        call()
    synchronise(device)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        synchronise(device)
        times.append(1000.0 * (time.perf_counter() - started))
    return statistics.median(times)


def build(architecture: str, preset: str, frame: Atoms, device: str) -> tuple[ForceField, AtomicBatch]:
    config = load_preset(architecture, preset)
    examples = build_examples([frame], config.cutoff, torch.float32)
    graph, _, _ = examples.batch([0])
    return untrained_force_field(config, [frame], examples).to(device), graph.to(device)


def model_calls(model: ForceField, graph: AtomicBatch) -> tuple[Callable[[], None], Callable[[], None]]:
    """The MD call (energy and forces) and a training step (the same plus the loss gradient) of ``model``."""
    reference = torch.zeros_like(graph.positions)

    def md_call() -> None:
        model(graph)["forces"].sum().item()

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        output = model(graph, training=True)
        loss = output["energy"].square().sum() + (output["forces"] - reference).square().mean()
        loss.backward()

    return md_call, train_step


def measure(architecture: str, preset: str, system: str, frame: Atoms, args: argparse.Namespace) -> Cost:
    torch.manual_seed(0)
    model, graph = build(architecture, preset, frame, args.device)
    md_call, train_step = model_calls(model, graph)
    model.eval()
    md_ms = median_ms(md_call, args.repeats, args.device)
    model.train()
    train_ms = median_ms(train_step, args.repeats, args.device)
    return Cost(
        architecture,
        preset,
        system,
        len(frame),
        int(graph.edge_index.shape[1]),
        sum(p.numel() for p in model.parameters()),
        md_ms,
        train_ms,
    )


def report(costs: list[Cost], args: argparse.Namespace) -> None:
    device = describe(args.device)
    print(f"models: float32; median of {args.repeats} calls; {device}; torch {torch.__version__}")
    header = ("model", "preset", "system", "atoms", "edges", "params", "MD call ms", "train step ms")
    print(f"{header[0]:<11}{header[1]:<10}{header[2]:<8}" + "".join(f"{h:>14}" for h in header[3:]))
    for c in costs:
        values = (c.atoms, c.edges, f"{c.parameters:,}", f"{c.md_call_ms:.1f}", f"{c.train_step_ms:.1f}")
        print(f"{c.architecture:<11}{c.preset:<10}{c.system:<8}" + "".join(f"{v:>14}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/datasets"), help="offline datasets folder"
    )
    parser.add_argument("--models", nargs="+", choices=sorted(ARCHITECTURES), default=sorted(ARCHITECTURES))
    parser.add_argument("--presets", nargs="+", default=["dev", "paper"])
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    frames = {system: load_dataset(SYSTEMS[system], "test", args.data)[0] for system in args.systems}
    costs = []
    for preset in args.presets:
        for architecture in args.models:
            for system, frame in frames.items():
                costs.append(measure(architecture, preset, system, frame, args))
                print(f"  measured {architecture} {preset} {system}", flush=True)
    report(costs, args)


if __name__ == "__main__":
    main()
