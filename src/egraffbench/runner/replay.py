"""The EV/FV scoring segment of reference-trajectory mode (test systems without an oracle whose test frames
are one contiguous trajectory of known spacing): deterministic NVE replays that start *on* the reference
trajectory, so that a perfect model stays on it for as long as the reference itself is reproducible.

A replay starts at test frame k with its positions and velocities: the data's own momenta/velocities where
the frames carry them, else central differences v_k = (x_{k+1} − x_{k−1}) / 2Δt at the frame spacing Δt. For a
reference written every velocity-Verlet step this *is* the integrator's velocity (Verlet is the Störmer
scheme with central-difference velocities), and it differs from the exact velocity by Δt²/6 · d³x/dt³
(about 0.5 % of the rms velocity on MD17, docs/metrics.md). The replay is integrated with velocity Verlet,
no thermostat and no random forces, at the frame spacing divided by the smallest whole number that makes the
step no longer than the protocol's, and a frame is recorded on every reference frame, for the dataset's
scoring horizon τ.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms, units
from ase.geometry import find_mic

from egraffbench.md.engine import SimulationProgress, simulate
from egraffbench.md.protocol import MDProtocol
from egraffbench.models.base import ForceField
from egraffbench.runner.cost import CARRIED, CARRIED_CPU
from egraffbench.runner.rollout_scoring import (
    ScoredSegment,
    composition_energy,
    fidelity_time,
    violation_trace,
    violation_values,
)
from egraffbench.runner.stages import read_rollout, trajectory_reference
from egraffbench.store.schema import ReplayResult, ReplicaValues
from egraffbench.tasks.sources import SystemConditions
from egraffbench.tasks.systems import SystemData

REPLAY_FILE = "replay.h5"
DEFAULT_HORIZON_FS = 20.0  # for file sources that do not state replay_horizon_fs (docs/metrics.md)


@dataclass(frozen=True)
class ReplayStart:
    """One replay: its test system, start frame and where its initial velocities came from."""

    system: str
    frame: int
    velocities: str  # "data" or "central-difference"


def reference_mode(conditions: SystemConditions) -> bool:
    """EV/FV of this system are scored on replays: no oracle, and a contiguous test trajectory."""
    return conditions.oracle is None and bool(conditions.frame_spacing_fs)


def horizon_fs(conditions: SystemConditions) -> float:
    """The scoring horizon τ of a reference-mode system: its dataset's, else DEFAULT_HORIZON_FS."""
    return conditions.replay_horizon_fs or DEFAULT_HORIZON_FS


def horizon_frames(conditions: SystemConditions) -> int:
    """Reference frames spanned by the horizon (at least one)."""
    return max(1, round(horizon_fs(conditions) / conditions.frame_spacing_fs))


def _has_velocities(atoms: Atoms) -> bool:
    return atoms.has("momenta") or "velocities" in atoms.arrays


def start_frames(frames: Sequence[Atoms], replicas: int, span: int) -> list[int]:
    """Up to ``replicas`` start frames spread evenly over the trajectory, each with ``span`` reference frames
    after it (and, without stored velocities, one before it for the central difference)."""
    first = 0 if _has_velocities(frames[0]) else 1
    last = len(frames) - 1 - span
    if last < first:
        return []
    return sorted({int(k) for k in np.linspace(first, last, min(replicas, last - first + 1)).round()})


def start_structure(frames: Sequence[Atoms], frame: int, spacing_fs: float) -> tuple[Atoms, str]:
    """Frame ``frame`` as a replay start (momenta set) and the source of its velocities."""
    atoms = frames[frame]
    start = Atoms(atoms.numbers, atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    if atoms.has("momenta"):
        start.set_momenta(atoms.get_momenta())
        return start, "data"
    if "velocities" in atoms.arrays:
        start.set_velocities(atoms.arrays["velocities"])
        return start, "data"
    step = frames[frame + 1].positions - frames[frame - 1].positions
    if atoms.pbc.any():
        step, _ = find_mic(step, atoms.cell, atoms.pbc)
    start.set_velocities(step / (2.0 * spacing_fs * units.fs))
    return start, "central-difference"


def replay_protocol(protocol: MDProtocol, spacing_fs: float, span: int) -> MDProtocol:
    """NVE velocity Verlet over ``span`` reference frames with a step that divides the frame spacing (no
    longer than ``protocol``'s), recording every reference frame and ending there (no stability horizon past
    it); stability checks as ``protocol``'s."""
    substeps = max(1, math.ceil(spacing_fs / protocol.timestep_fs - 1e-9))
    return protocol.model_copy(
        update={
            "ensemble": "nve",
            "timestep_fs": spacing_fs / substeps,
            "steps": substeps * span,
            "stride": substeps,
            "stability_steps": None,
            "seed": 0,
        }
    )


def replay_plan(systems: Sequence[SystemData], replicas: int) -> dict[str, Any]:
    """Start frames and protocol fields of every reference-mode system (what the replay stage hashes)."""
    plan = {}
    for system in systems:
        conditions = system.conditions
        if reference_mode(conditions):
            span = horizon_frames(conditions)
            plan[conditions.name] = {
                "frames": start_frames(system.frames, replicas, span),
                "spacing_fs": conditions.frame_spacing_fs,
                "horizon_fs": span * conditions.frame_spacing_fs,
                "span": span,
            }
    return plan


def replay_stage(
    model: ForceField,
    model_name: str,
    systems: Sequence[SystemData],
    plan: dict[str, Any],
    protocol: MDProtocol,
    folder: Path,
    on_md: Callable[[SimulationProgress], None] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Every replay of ``plan`` (one batch per system, since the time step follows its frame spacing) on
    ``device``, written to ``folder/<system>-replay.h5``; the result lists the replicas of each file."""
    by_name = {system.conditions.name: system for system in systems}
    results, carried, carried_cpu = {}, 0.0, 0.0
    for name, entry in plan.items():
        system = by_name[name]
        if not entry["frames"]:
            continue
        starts = [start_structure(system.frames, k, entry["spacing_fs"]) for k in entry["frames"]]
        segment = replay_protocol(protocol, entry["spacing_fs"], entry["span"])
        path = folder / f"{len(results)}-{REPLAY_FILE}"
        outcome = simulate(
            model,
            [atoms for atoms, _ in starts],
            segment,
            path,
            temperatures_K=[system.conditions.temperature_K] * len(starts),
            model_name=model_name,
            callback=on_md,
            device=device,
        )
        carried += outcome.resumed_wall_s
        if carried_cpu is not None:  # unknown once one file's checkpoint did not carry it
            carried_cpu = None if outcome.resumed_cpu_s is None else carried_cpu + outcome.resumed_cpu_s
        results[name] = {
            "file": path.name,
            "horizon_fs": entry["horizon_fs"],
            "steps_per_s": outcome.steps_per_s,
            "protocol": segment.model_dump(mode="json"),
            "replicas": [
                ReplayStart(name, k, source).__dict__
                for k, (_, source) in zip(entry["frames"], starts, strict=True)
            ],
        }
    return {"systems": results, CARRIED: carried, CARRIED_CPU: carried_cpu}


def replay_scores(
    folder: Path, result: ReplayResult, systems: Sequence[SystemData], element_energies: dict[int, float]
) -> ScoredSegment:
    """EV, FV (energies relative to E0), errors and fidelity time of every replay of ``result`` (the replay
    stage's, files under ``folder``) against the reference frames at the same time, and each replay's EV/FV
    per frame (the report's figure)."""
    by_name = {system.conditions.name: system for system in systems}
    scored = ScoredSegment()
    for name, entry in result.systems.items():
        system = by_name[name]
        for index, start in enumerate(entry.replicas):
            rollout = read_rollout(folder / entry.file, index)
            value = ReplicaValues(
                system=name,
                failure_time_fs=rollout.failure_time_fs,
                failure_reason=rollout.failure_reason,
                segment="replay",
                horizon_fs=entry.horizon_fs,
            )
            compared = trajectory_reference(
                rollout, system.frames, start.frame, system.conditions.frame_spacing_fs
            )
            offset = composition_energy(rollout.numbers, element_energies)
            trace = violation_trace(*compared, offset, name, "reference-trajectory", "replay")
            if trace is not None:  # some frame with finite energy and forces
                for key, item in violation_values(*compared, offset).items():
                    setattr(value, key, item)
                value.violation_reference = "reference-trajectory"
                value.fidelity_time_fs = fidelity_time(*compared, entry.horizon_fs)
                scored.traces.append(trace)
            scored.values.append(value)
    return scored
