"""The batched MD loop: all live replicas advance together, one model call per step; each is watched every k
steps and retired (frozen, removed from the batch) when it fails; frames go to HDF5 in chunks; checkpoints
make a killed run resumable with no lost or duplicated frames."""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from ase import Atoms, units

from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.md.checkpoint import (
    Checkpoint,
    checkpoint_path,
    read_checkpoint,
    run_fingerprint,
    write_checkpoint,
)
from egraffbench.md.forces import evaluate_forces
from egraffbench.md.frames import FrameBuffer
from egraffbench.md.integrators import integrator_for
from egraffbench.md.neighbours import SkinNeighbourList
from egraffbench.md.noise import ReplicaNoise
from egraffbench.md.protocol import MDProtocol
from egraffbench.md.state import select_replicas, state_from_structures
from egraffbench.md.trajectory import (
    ReplicaOutcome,
    append_frames,
    create_trajectory,
    read_header,
    read_outcomes,
    truncate_frames,
    write_outcomes,
)
from egraffbench.md.watch import StabilityWatch
from egraffbench.metrics.structure import StructureFunction
from egraffbench.models.base import ForceField


@dataclass(frozen=True)
class SimulationProgress:
    """Where a running simulation stands after ``step`` (reported to the callback after every step)."""

    step: int
    steps: int
    live: int
    retired: int
    steps_per_s: float
    simulated_ps: float
    checkpointed: bool  # a checkpoint was written at this step


@dataclass(frozen=True)
class SimulationResult:
    """Outcome of :func:`simulate`: per-replica status and the speed of the steps run in this call."""

    path: Path
    replicas: list[ReplicaOutcome]
    steps_run: int
    wall_s: float
    resumed_from: int | None  # step of the checkpoint this call continued from
    resumed_wall_s: float = 0.0  # wall time of the earlier attempts up to that checkpoint
    resumed_cpu_s: float | None = 0.0  # their CPU time; None where the checkpoint did not carry it

    @property
    def steps_per_s(self) -> float:
        return self.steps_run / self.wall_s if self.wall_s > 0 else 0.0


def simulate(
    model: ForceField,
    structures: Sequence[Atoms],
    protocol: MDProtocol,
    out_path: Path,
    *,
    temperatures_K: Sequence[float] | None = None,
    replica_ids: Sequence[int] | None = None,
    reference_rdfs: Mapping[int, StructureFunction] | None = None,
    device: torch.device | str = "cpu",
    model_name: str = "",
    callback: Callable[[SimulationProgress], None] | None = None,
    overwrite: bool = False,
) -> SimulationResult:
    """Run ``protocol`` for every structure (one replica each) in one batch, writing ``out_path`` (HDF5).

    Initial momenta come from a structure's ``momenta`` array (or ``velocities``, Å per ASE time unit) when
    it has one, else are drawn from the Maxwell–Boltzmann distribution at the replica's temperature with its
    own random stream. ``temperatures_K`` overrides ``protocol.temperature_K`` per replica; ``replica_ids``
    (default 0..R−1) name the replicas' random streams and records, so a replica draws the same random numbers
    and gets the same forces (to rounding, see docs/md.md) whatever else shares its batch; ``reference_rdfs``
    (by replica id) enable the g(r) drift check of periodic replicas. An existing ``out_path`` of the same run
    is resumed from its checkpoint (or returned if complete); one of another run is a ConfigError unless
    ``overwrite``. ``model`` is moved to ``device`` and the protocol dtype.
    """
    out_path = Path(out_path)
    setup = _Setup.create(model, structures, protocol, temperatures_K, replica_ids, device)
    checkpoint = _resume_point(out_path, setup.fingerprint, overwrite, setup.device)
    if checkpoint == "complete":
        return SimulationResult(out_path, list(read_outcomes(out_path).values()), 0, 0.0, None)
    run = _Run(setup, out_path, reference_rdfs, model_name, callback)
    try:
        if checkpoint is None:
            run.start()
        else:
            run.restore(checkpoint)
        return run.loop()
    except Exception:
        _keep_only_if_resumable(out_path)
        raise


def _keep_only_if_resumable(out_path: Path) -> None:
    """After a failed run (a model error, a full disk): keep the trajectory only if a checkpoint can resume
    it and it still reads; otherwise remove it, so that no empty or damaged file blocks the next run."""
    saved = checkpoint_path(out_path)
    if saved.is_file():
        try:
            read_outcomes(out_path)
            return
        except (TrajectoryError, OSError, KeyError):
            pass
    out_path.unlink(missing_ok=True)
    saved.unlink(missing_ok=True)


@dataclass
class _Setup:
    """Validated inputs of a run: model on device, per-replica temperatures, ids, initial momenta."""

    model: ForceField
    structures: list[Atoms]
    protocol: MDProtocol
    temperatures: list[float]
    replica_ids: list[int]
    momenta: list[np.ndarray | None]
    device: torch.device
    fingerprint: str

    @classmethod
    def create(
        cls,
        model: ForceField,
        structures: Sequence[Atoms],
        protocol: MDProtocol,
        temperatures_K: Sequence[float] | None,
        replica_ids: Sequence[int] | None,
        device: torch.device | str,
    ) -> _Setup:
        structures = list(structures)
        if not structures:
            raise ConfigError("simulate: no structures given (expected at least one replica)")
        temperatures = (
            [protocol.temperature_K] * len(structures) if temperatures_K is None else list(temperatures_K)
        )
        ids = list(range(len(structures))) if replica_ids is None else [int(r) for r in replica_ids]
        if len(temperatures) != len(structures) or len(ids) != len(structures):
            raise ConfigError(
                f"simulate: {len(structures)} structures but {len(temperatures)} temperatures "
                f"and {len(ids)} replica ids"
            )
        if len(set(ids)) != len(ids):
            raise ConfigError(f"simulate: replica ids must be distinct, got {ids}")
        if any(t <= 0 for t in temperatures):
            raise ConfigError(f"simulate: temperatures must be positive (K), got {temperatures}")
        momenta = [_initial_momenta(atoms) for atoms in structures]
        model = model.to(device=device, dtype=protocol.torch_dtype).eval()
        fingerprint = run_fingerprint(model, structures, momenta, temperatures, ids, protocol)
        return cls(model, structures, protocol, temperatures, ids, momenta, torch.device(device), fingerprint)


def _initial_momenta(atoms: Atoms) -> np.ndarray | None:
    if atoms.has("momenta"):
        return np.array(atoms.get_momenta(), dtype=np.float64)
    if "velocities" in atoms.arrays:
        return np.asarray(atoms.arrays["velocities"], dtype=np.float64) * atoms.get_masses()[:, None]
    return None


def _resume_point(
    out_path: Path, fingerprint: str, overwrite: bool, device: torch.device
) -> Checkpoint | str | None:
    """The checkpoint to continue from, "complete" for a finished file of this run, or None to start over."""
    saved = checkpoint_path(out_path)
    if not out_path.exists() or overwrite:
        saved.unlink(missing_ok=True)
        return None
    try:
        header = read_header(out_path)
    except TrajectoryError as error:
        raise ConfigError(
            f"{out_path}: exists and is not a trajectory of this run ({error}); pass overwrite"
        ) from error
    if header.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"{out_path}: exists and was written by another run (model, structures or protocol differ); "
            "choose another output or overwrite it"
        )
    if header.get("complete"):
        return "complete"
    checkpoint = read_checkpoint(saved, device)
    if checkpoint is None or checkpoint.fingerprint != fingerprint:
        saved.unlink(missing_ok=True)
        return None
    return checkpoint


class _Run:
    """The mutable machinery of one run: state, neighbour lists, random streams, watch, frame buffer."""

    def __init__(
        self,
        setup: _Setup,
        out_path: Path,
        reference_rdfs: Mapping[int, StructureFunction] | None,
        model_name: str,
        callback: Callable[[SimulationProgress], None] | None,
    ) -> None:
        self.setup, self.out_path, self.protocol = setup, out_path, setup.protocol
        self.model_name, self.callback = model_name, callback
        protocol = setup.protocol
        self.integrator = integrator_for(protocol)
        self.noise = ReplicaNoise(protocol.seed, setup.replica_ids, setup.device)
        by_id = dict(zip(setup.replica_ids, setup.structures, strict=True))
        self.watch = StabilityWatch(protocol.stability, by_id, reference_rdfs)
        self.buffer = FrameBuffer()
        self.outcomes = {
            r: ReplicaOutcome(replica=r, n_atoms=len(atoms), temperature_K=t, status="running")
            for r, atoms, t in zip(setup.replica_ids, setup.structures, setup.temperatures, strict=True)
        }
        self.frame_counts = dict.fromkeys(setup.replica_ids, 0)
        self.step = 0
        self.resumed_from: int | None = None
        self.resumed_wall_s = 0.0
        self.resumed_cpu_s: float | None = 0.0

    def start(self) -> None:
        """Initial state, forces and thermostat; frame 0 recorded and checked."""
        setup, structures = self.setup, self.setup.structures
        dtype = self.protocol.torch_dtype
        momenta = [
            p if p is not None else self._draw_momenta(replica, atoms, temperature)
            for p, replica, atoms, temperature in zip(
                setup.momenta, setup.replica_ids, structures, setup.temperatures, strict=True
            )
        ]
        header = {
            "protocol": self.protocol.model_dump_json(),
            "model": self.model_name,
            "fingerprint": setup.fingerprint,
        }
        create_trajectory(
            self.out_path,
            header,
            dict(zip(setup.replica_ids, structures, strict=True)),
            dict(zip(setup.replica_ids, setup.temperatures, strict=True)),
            np.dtype("float64" if dtype == torch.float64 else "float32"),
        )
        state = state_from_structures(
            structures, momenta, setup.temperatures, setup.replica_ids, dtype, setup.device
        )
        self.neighbours = SkinNeighbourList(state, setup.model.cutoff, self.protocol.skin)
        energy, forces = evaluate_forces(setup.model, self.neighbours, state, state.positions)
        self.state = self.integrator.init(replace(state, energy=energy, forces=forces))
        self.layout = list(zip(setup.replica_ids, (len(a) for a in structures), strict=True))
        self._record()
        self._check()

    def _draw_momenta(self, replica: int, atoms: Atoms, temperature: float) -> np.ndarray:
        normal = self.noise.normal([(replica, len(atoms))], self.protocol.torch_dtype).cpu().double().numpy()
        return normal * np.sqrt(atoms.get_masses() * units.kB * temperature)[:, None]

    def restore(self, checkpoint: Checkpoint) -> None:
        """Continue from ``checkpoint``: drop frames written after it, restore streams, lists and watch."""
        truncate_frames(self.out_path, checkpoint.frame_counts)
        self.state = checkpoint.state
        self.noise.set_state(checkpoint.noise)
        self.watch.set_state(checkpoint.watch)
        self.outcomes = dict(checkpoint.outcomes)
        self.frame_counts = dict(checkpoint.frame_counts)
        self.step = self.resumed_from = checkpoint.step
        self.resumed_wall_s = checkpoint.wall_seconds
        self.resumed_cpu_s = checkpoint.cpu_seconds
        self.neighbours = SkinNeighbourList(
            self.state, self.setup.model.cutoff, self.protocol.skin, reference=checkpoint.neighbour_reference
        )
        counts = self.state.atom_counts.tolist()
        self.layout = list(zip(self.state.replica_id.tolist(), counts, strict=True))

    def loop(self) -> SimulationResult:
        """Integrate to the protocol's horizon (``steps``, or ``stability_steps`` when longer); returns the
        per-replica outcomes."""
        protocol, model = self.protocol, self.setup.model
        horizon = protocol.horizon_steps
        first = self.step
        started = self.started = time.perf_counter()
        self.started_cpu = time.process_time()
        while self.step < horizon and self.layout:
            self.step += 1
            compute = functools.partial(evaluate_forces, model, self.neighbours, self.state)
            self.state = self.integrator.step(self.state, compute, self._noise)
            self._record()
            self._check()
            checkpointed = self.step % protocol.checkpoint_every == 0 and self.step < horizon and self.layout
            if checkpointed:
                self._checkpoint()
            if self.callback is not None:
                elapsed = time.perf_counter() - started
                self.callback(
                    SimulationProgress(
                        step=self.step,
                        steps=horizon,
                        live=len(self.layout),
                        retired=len(self.outcomes) - len(self.layout),
                        steps_per_s=(self.step - first) / elapsed if elapsed > 0 else 0.0,
                        simulated_ps=self.step * protocol.timestep_fs / 1000.0,
                        checkpointed=bool(checkpointed),
                    )
                )
        wall = time.perf_counter() - started
        self._finish()
        return SimulationResult(
            self.out_path,
            list(self.outcomes.values()),
            self.step - first,
            wall,
            self.resumed_from,
            self.resumed_wall_s,
            self.resumed_cpu_s,
        )

    def _noise(self) -> torch.Tensor:
        return self.noise.normal(self.layout, self.protocol.torch_dtype)

    def _record(self) -> None:
        if self.step % self.protocol.stride != 0:
            return
        if self.step <= self.protocol.steps:  # past `steps`, replicas run only to find their failures
            self.buffer.record(self.state, self.step, self.step * self.protocol.timestep_fs, self.layout)
        if self.watch.needs_frames:
            positions = self.state.positions.detach().cpu().double().numpy()
            bounds = np.cumsum([0] + [count for _, count in self.layout])
            self.watch.observe(
                [replica for replica, _ in self.layout],
                [positions[a:b] for a, b in itertools.pairwise(bounds)],
                self.state.cell.detach().cpu().double().numpy(),
            )

    def _check(self) -> None:
        last = (self.protocol.steps, self.protocol.horizon_steps)  # last recorded step, last step
        if self.step % self.protocol.check_every != 0 and self.step not in last:
            return
        ids = [replica for replica, _ in self.layout]
        reasons = self.watch.check(self.state, ids)
        if not any(reasons):
            return
        time_fs = self.step * self.protocol.timestep_fs
        for replica, reason in zip(ids, reasons, strict=True):
            if reason is not None:
                self.outcomes[replica] = replace(
                    self.outcomes[replica],
                    status="failed",
                    failure_step=self.step,
                    failure_time_fs=time_fs,
                    failure_reason=reason,
                )
        keep = [reason is None for reason in reasons]
        self.layout = [entry for entry, kept in zip(self.layout, keep, strict=True) if kept]
        if self.layout:
            mask = torch.tensor(keep, device=self.state.positions.device)
            self.state = select_replicas(self.state, mask)
            self.neighbours.select(mask, self.state)

    def _flush(self) -> None:
        frames = self.buffer.drain()
        if frames:
            append_frames(self.out_path, frames)
        for replica, fields in frames.items():
            self.frame_counts[replica] += len(fields["step"])
        self.outcomes = {r: replace(o, frames=self.frame_counts[r]) for r, o in self.outcomes.items()}

    def _checkpoint(self) -> None:
        self._flush()
        write_outcomes(self.out_path, self.outcomes, complete=False)
        write_checkpoint(
            checkpoint_path(self.out_path),
            Checkpoint(
                fingerprint=self.setup.fingerprint,
                step=self.step,
                state=self.state,
                neighbour_reference=self.neighbours.reference,
                noise=self.noise.get_state(),
                watch=self.watch.get_state(),
                outcomes=self.outcomes,
                frame_counts=self.frame_counts,
                wall_seconds=self.resumed_wall_s + time.perf_counter() - self.started,
                cpu_seconds=None
                if self.resumed_cpu_s is None
                else self.resumed_cpu_s + time.process_time() - self.started_cpu,
            ),
        )

    def _finish(self) -> None:
        self._flush()
        live = {replica for replica, _ in self.layout}
        self.outcomes = {
            r: replace(o, status="completed") if r in live else o for r, o in self.outcomes.items()
        }
        write_outcomes(self.out_path, self.outcomes, complete=True)
        checkpoint_path(self.out_path).unlink(missing_ok=True)
