"""MD throughput: the paper's sequential ASE loop vs the batched engine vs the model-only limit.

For each system (10 replicas of aspirin from the `md17-aspirin` test frames, 10 of LiPS from the `lips` val
frames) and the same small MACE (16x0e+16x1o+16x2e, 2 interactions), 200 Langevin steps of 1 fs:

(a) one ASE ``Langevin(atoms, 1 fs, temperature_K=T, friction=5e-3)`` loop per replica, one after another,
    with the model as ASE calculator;
(b) the batched engine (``egraffbench.md.simulate``): all replicas in one model call per step, stability
    watch, neighbour lists with a skin, trajectory written to HDF5 with checkpoints;
(c) the model-only limit: one batched forward+backward of the same replicas, times the number of steps.

Prints (a)/(b), (b)/(c) and the engine overhead ((b) − (c)) / (b).

    python benchmarks/md_throughput.py [--data ../shared/datasets] [--model DIR ...] [--steps 200]

Without ``--model`` the model is untrained (random weights): its cost per step is that of a trained one, but
its dynamics are not physical, so the stability watch is loosened so that no replica is retired mid-benchmark.
A ``--model DIR`` (repeatable) is used for the systems whose elements it knows, with the default watch.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms, units
from ase.md.langevin import Langevin

from egraffbench.data import get_dataset_spec, load_dataset
from egraffbench.md import MDProtocol, simulate
from egraffbench.metrics.stability import StabilityCriteria
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models import (
    ForceField,
    TrainingStatistics,
    batch_from_atoms,
    build_force_field,
    load_force_field,
)

SYSTEMS = {"aspirin": ("md17-aspirin", "test"), "lips": ("lips", "val")}
SMALL_MACE = {"hidden_irreps": "16x0e+16x1o+16x2e", "num_interactions": 2}
CUTOFF = 5.0  # Å
LOOSE_WATCH = StabilityCriteria(
    temperature_factor=1e9, pair_floor=0.01, bond_deviation=1e9, rdf_mae_bound=1e9
)


class TimedModel(ForceField):
    """The model, with the wall time of each call recorded (the model's share of the engine's step)."""

    def __init__(self, inner: ForceField) -> None:
        super().__init__(inner.species, inner.cutoff, inner.statistics)
        self.inner, self.calls = inner, []

    def forward(self, batch, compute_stress: bool = False, training: bool = False) -> dict[str, torch.Tensor]:
        started = time.perf_counter()
        output = self.inner(batch)
        output["forces"].sum().item()  # waits for the device
        self.calls.append(time.perf_counter() - started)
        return output


@dataclass(frozen=True)
class Timing:
    system: str
    replicas: int
    atoms: int
    steps: int
    sequential_s: float  # (a)
    batched_s: float  # (b)
    model_only_s: float  # (c)
    model_in_engine_s: float  # the model calls' share of (b)
    retired: int
    trained: bool

    @property
    def speedup(self) -> float:
        return self.sequential_s / self.batched_s

    @property
    def model_ratio(self) -> float:
        return self.batched_s / self.model_only_s

    @property
    def overhead(self) -> float:
        return (self.batched_s - self.model_only_s) / self.batched_s

    @property
    def overhead_in_run(self) -> float:
        return (self.batched_s - self.model_in_engine_s) / self.batched_s


def untrained_mace(frames: list[Atoms]) -> ForceField:
    """The small MACE with random weights, its statistics taken from ``frames``."""
    species = sorted({int(z) for atoms in frames for z in atoms.numbers})
    batch = batch_from_atoms(frames, CUTOFF)
    statistics = TrainingStatistics(
        avg_num_neighbors=batch.edge_index.shape[1] / len(batch.positions),
        mean_atoms_per_structure=float(np.mean([len(a) for a in frames])),
    )
    torch.manual_seed(0)
    return build_force_field("mace", species, CUTOFF, statistics, SMALL_MACE)


def pick_model(frames: list[Atoms], trained: list[Path]) -> tuple[ForceField, bool]:
    elements = {int(z) for atoms in frames for z in atoms.numbers}
    for folder in trained:
        model = load_force_field(folder)
        if elements <= set(model.species):
            return model, True
    return untrained_mace(frames), False


def sequential_ase(model: ForceField, frames: list[Atoms], protocol: MDProtocol, device: str) -> float:
    """(a): seconds for one ASE Langevin run per replica, one after another (the paper's loop)."""
    calculator = model.as_ase_calculator(dtype=protocol.torch_dtype, device=device)
    rng = np.random.default_rng(protocol.seed)
    total = 0.0
    for start in frames:
        atoms = start.copy()
        atoms.calc = calculator
        sigma = np.sqrt(atoms.get_masses() * units.kB * protocol.temperature_K)[:, None]
        atoms.set_momenta(sigma * rng.standard_normal((len(atoms), 3)))
        dynamics = Langevin(
            atoms,
            protocol.timestep_fs * units.fs,
            temperature_K=protocol.temperature_K,
            friction=protocol.friction,
            fixcm=False,
            rng=rng,
        )
        atoms.get_forces()  # the first force call is set-up, as in (b)
        started = time.perf_counter()
        dynamics.run(protocol.steps)
        total += time.perf_counter() - started
    return total


def batched_engine(
    model: ForceField, frames: list[Atoms], protocol: MDProtocol, periodic: bool, device: str, folder: Path
) -> tuple[float, float, int]:
    """(b): seconds of the engine's loop over ``protocol.steps`` steps, the seconds of its model calls in that
    loop, and how many replicas it retired."""
    reference = None
    if periodic:
        rdf = radial_distribution(
            np.array([a.positions for a in frames]), np.array([a.cell.array for a in frames])
        )
        reference = dict.fromkeys(range(len(frames)), rdf)
    timed = TimedModel(model)
    result = simulate(
        timed,
        frames,
        protocol,
        folder / "trajectory.h5",
        reference_rdfs=reference,
        device=device,
        overwrite=True,
    )
    in_loop = sum(timed.calls[1:])  # the first call gives the initial forces, before the loop
    return result.wall_s, in_loop, sum(o.status == "failed" for o in result.replicas)


def model_only(
    model: ForceField, frames: list[Atoms], protocol: MDProtocol, device: str, calls: int = 20
) -> float:
    """(c): median seconds of one batched forward+backward of all replicas, times ``protocol.steps``."""
    model = model.to(device=device, dtype=protocol.torch_dtype)
    batch = batch_from_atoms(frames, model.cutoff, dtype=protocol.torch_dtype, device=device)
    for _ in range(3):
        model(batch)
    times = []
    for _ in range(calls):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        model(batch)["forces"].sum().item()
        times.append(time.perf_counter() - started)
    return float(np.median(times)) * protocol.steps


def measure(system: str, args: argparse.Namespace, folder: Path) -> Timing:
    name, split = SYSTEMS[system]
    spec = get_dataset_spec(name)
    frames = [
        Atoms(a.numbers, a.positions, cell=a.cell, pbc=a.pbc) for a in load_dataset(name, split, args.data)
    ]
    frames = frames[: args.replicas]
    model, trained = pick_model(frames, args.model)
    protocol = MDProtocol(
        temperature_K=spec.temperature_K,
        steps=args.steps,
        dtype=args.dtype,
        seed=0,
        stability=StabilityCriteria() if trained else LOOSE_WATCH,
    )
    # (c) before and after (b), averaged: other processes on the machine change the speed of all three
    limit_before = model_only(model, frames, protocol, args.device)
    batched, model_share, retired = batched_engine(
        model, frames, protocol, spec.periodic, args.device, folder
    )
    limit = 0.5 * (limit_before + model_only(model, frames, protocol, args.device))
    print(f"{system}: (b) {batched:.1f} s, (c) {limit:.1f} s; running (a) ...", file=sys.stderr, flush=True)
    sequential = sequential_ase(model, frames, protocol, args.device)
    return Timing(
        system,
        len(frames),
        len(frames[0]),
        args.steps,
        sequential,
        batched,
        limit,
        model_share,
        retired,
        trained,
    )


def report(timings: list[Timing], args: argparse.Namespace) -> None:
    if args.device.startswith("cuda"):
        device = torch.cuda.get_device_name()
    else:
        device = f"CPU, {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    print(f"md_throughput: {args.steps} steps of 1 fs, {args.dtype}; {device}; torch {torch.__version__}")
    columns = ("(a) ASE seq s", "(b) batched s", "(c) model s", "(a)/(b)", "(b)/(c)", "overhead", "in-run")
    print(f"{'system':<14}" + "".join(f"{c:>15}" for c in columns))
    for t in timings:
        values = (
            f"{t.sequential_s:.2f}",
            f"{t.batched_s:.2f}",
            f"{t.model_only_s:.2f}",
            f"{t.speedup:.2f}x",
            f"{t.model_ratio:.2f}x",
            f"{100 * t.overhead:.1f}%",
            f"{100 * t.overhead_in_run:.1f}%",
        )
        print(f"{t.system + ' x' + str(t.replicas):<14}" + "".join(f"{v:>15}" for v in values))
    print(
        "overhead = ((b) − (c)) / (b); in-run = the same with (c) replaced by the time of the model calls "
        "inside (b) (same work at the same moment: insensitive to other load on the machine)"
    )
    for t in timings:
        kind = "trained" if t.trained else "untrained (random weights; stability watch loosened)"
        print(f"{t.system}: {t.atoms} atoms per replica; model {kind}; replicas retired: {t.retired}")
    summary = ", ".join(
        f"{t.system} x{t.replicas}: (a)/(b) {t.speedup:.1f}x, overhead {100 * t.overhead:.0f}%"
        for t in timings
    )
    print(f"md_throughput {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/datasets"), help="offline datasets folder"
    )
    parser.add_argument(
        "--model", type=Path, action="append", default=[], help="trained model folder (repeat)"
    )
    parser.add_argument("--systems", nargs="+", choices=list(SYSTEMS), default=list(SYSTEMS))
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        timings = [measure(system, args, Path(folder)) for system in args.systems]
    report(timings, args)


if __name__ == "__main__":
    main()
