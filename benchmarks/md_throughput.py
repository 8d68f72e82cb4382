"""MD throughput: the paper's sequential ASE loop vs the batched engine vs the model-only limit.

For each system (10 replicas of aspirin from the `md17-aspirin` test frames, 10 of LiPS from the `lips` val
frames) and the same small MACE (16x0e+16x1o+16x2e, 2 interactions), 200 Langevin steps of 1 fs:

(a) the paper's way: ASE ``Langevin(atoms, 1 fs, temperature_K=T, friction=5e-3)`` per replica, with the model
    as ASE calculator (one single-replica model call per replica and step);
(b) the batched engine (``egraffbench.md.simulate``): all replicas in one model call per step, stability
    watch, neighbour lists with a skin, trajectory written to HDF5 with checkpoints;
(c) the model-only limit: one batched forward+backward of the same replicas per step.

Prints (a)/(b), (b)/(c) and the engine overhead ((b) − (c)) / (b), plus the overhead measured inside (b)
(the time of (b)'s own model calls in place of (c)).

The three are measured interleaved: after each engine step (from its progress callback) every ASE replica
advances one step and one model-only call is made, each timed on its own and taken out of (b). Each ASE
replica is an independent ``Langevin`` object, so advancing them in turn costs what running them one after
another costs; interleaving makes the ratios immune to other processes changing the machine's speed during
the run (a shared 2-core machine otherwise moves them by tens of percent).

    python benchmarks/md_throughput.py [--data ../shared/datasets] [--model DIR ...] [--steps 200]

Without ``--model`` the model is untrained (random weights): its cost per step is that of a trained one, but
its dynamics are not physical, so the stability watch is loosened so that no replica is retired mid-benchmark.
A ``--model DIR`` (repeatable) is used for the systems whose elements it knows, with the default watch.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from ase import Atoms, units
from ase.md.langevin import Langevin

from egraffbench.data import get_dataset_spec, load_dataset
from egraffbench.md import MDProtocol, SimulationProgress, simulate
from egraffbench.metrics.stability import StabilityCriteria
from egraffbench.metrics.structure import radial_distribution
from egraffbench.models import (
    ForceField,
    TrainingStatistics,
    batch_from_atoms,
    build_force_field,
    load_force_field,
)
from machine import describe

SYSTEMS = {"aspirin": ("md17-aspirin", "test"), "lips": ("lips", "val")}
SMALL_MACE = {"hidden_irreps": "16x0e+16x1o+16x2e", "num_interactions": 2}
CUTOFF = 5.0  # Å
LOOSE_WATCH = StabilityCriteria(
    temperature_factor=1e9, pair_floor=0.01, bond_deviation=1e9, rdf_mae_bound=1e9
)


def wait(output: dict[str, torch.Tensor]) -> None:
    """Block until the device has finished ``output`` (a no-op on CPU)."""
    output["forces"].sum().item()


class TimedModel(ForceField):
    """The model, with the wall time of each call recorded (the model's share of the engine's step)."""

    def __init__(self, inner: ForceField) -> None:
        super().__init__(inner.species, inner.cutoff, inner.statistics)
        self.inner, self.calls = inner, []

    def forward(self, batch, compute_stress: bool = False, training: bool = False) -> dict[str, torch.Tensor]:
        started = time.perf_counter()
        output = self.inner(batch)
        wait(output)
        self.calls.append(time.perf_counter() - started)
        return output


class Interleaved:
    """Engine callback: after each engine step, one step of each ASE replica (a) and one batched call (c)."""

    def __init__(self, model: ForceField, frames: list[Atoms], protocol: MDProtocol, device: str) -> None:
        self.model = model
        self.batch = batch_from_atoms(frames, model.cutoff, dtype=protocol.torch_dtype, device=device)
        calculator = model.as_ase_calculator(dtype=protocol.torch_dtype, device=device)
        rng = np.random.default_rng(protocol.seed)
        self.dynamics = []
        for start in frames:
            atoms = start.copy()
            atoms.calc = calculator
            sigma = np.sqrt(atoms.get_masses() * units.kB * protocol.temperature_K)[:, None]
            atoms.set_momenta(sigma * rng.standard_normal((len(atoms), 3)))
            self.dynamics.append(
                Langevin(
                    atoms,
                    protocol.timestep_fs * units.fs,
                    temperature_K=protocol.temperature_K,
                    friction=protocol.friction,
                    fixcm=False,
                    rng=rng,
                )
            )
        self.sequential_s = self.model_only_s = self.spent_s = 0.0

    def warm_up(self) -> None:
        """First calls (one-time set-up in torch and e3nn) and each replica's initial forces, not timed."""
        for _ in range(3):
            wait(self.model(self.batch))
        for dynamics in self.dynamics:
            dynamics.atoms.get_forces(md=True)

    def __call__(self, progress: SimulationProgress) -> None:
        entered = time.perf_counter()
        for dynamics in self.dynamics:
            dynamics.step()
        between = time.perf_counter()
        wait(self.model(self.batch))
        left = time.perf_counter()
        self.sequential_s += between - entered
        self.model_only_s += left - between
        self.spent_s += left - entered


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


def measure(system: str, args: argparse.Namespace, folder: Path) -> Timing:
    name, split = SYSTEMS[system]
    spec = get_dataset_spec(name)
    loaded = load_dataset(name, split, args.data)[: args.replicas]
    frames = [Atoms(a.numbers, a.positions, cell=a.cell, pbc=a.pbc) for a in loaded]
    model, trained = pick_model(frames, args.model)
    protocol = MDProtocol(
        temperature_K=spec.temperature_K,
        steps=args.steps,
        dtype=args.dtype,
        seed=0,
        stability=StabilityCriteria() if trained else LOOSE_WATCH,
    )
    reference = None
    if spec.periodic:
        positions, cells = np.array([a.positions for a in loaded]), np.array([a.cell.array for a in loaded])
        reference = dict.fromkeys(range(len(frames)), radial_distribution(positions, cells))
    model = model.to(device=args.device, dtype=protocol.torch_dtype)
    others = Interleaved(model, frames, protocol, args.device)
    others.warm_up()
    timed = TimedModel(model)
    result = simulate(
        timed,
        frames,
        protocol,
        folder / f"{system}.h5",
        reference_rdfs=reference,
        device=args.device,
        callback=others,
        overwrite=True,
    )
    return Timing(
        system=system,
        replicas=len(frames),
        atoms=len(frames[0]),
        steps=result.steps_run,
        sequential_s=others.sequential_s,
        batched_s=result.wall_s - others.spent_s,
        model_only_s=others.model_only_s,
        model_in_engine_s=sum(timed.calls[1:]),  # the first call gives the initial forces, before the loop
        retired=sum(o.status == "failed" for o in result.replicas),
        trained=trained,
    )


def report(timings: list[Timing], args: argparse.Namespace) -> None:
    device = describe(args.device)
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
    print("overhead = ((b) − (c)) / (b); in-run: the same with (c) replaced by the time of (b)'s model calls")
    for t in timings:
        kind = "trained" if t.trained else "untrained (random weights; stability watch loosened)"
        print(f"{t.system}: {t.atoms} atoms per replica; model {kind}; replicas retired: {t.retired}")
    summary = ", ".join(
        f"{t.system} x{t.replicas}: (a)/(b) {t.speedup:.1f}x, overhead {100 * t.overhead:.0f}% "
        f"(in-run {100 * t.overhead_in_run:.1f}%)"
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
        timings = []
        for system in args.systems:
            timings.append(measure(system, args, Path(folder)))
            print(f"  measured {system}: {timings[-1]}", flush=True)
    report(timings, args)


if __name__ == "__main__":
    main()
