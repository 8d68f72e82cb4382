"""Compare a simulated trajectory with a reference one: structure (WF, JSD) and, where they apply, EV/FV.

Periodic trajectories (all three directions periodic) are compared through g(r), molecules (no periodic
direction) through h(r). EV and FV need energies and forces in both trajectories on the same time grid:
the same number of frames, the same atoms in the same order (and equal ``time`` entries where both files
carry one); otherwise they are reported as None with the reason, never estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from ase import Atoms

from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.metrics.accuracy import energy_force_errors
from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.structure import DEFAULT_DR, StructureFunction
from egraffbench.metrics.violation import energy_violation, force_violation, geometric_mean


def structure_kind(frames: Sequence[Atoms]) -> str:
    """ "rdf" when every frame is periodic in 3D with a non-zero cell volume, "hr" when none is periodic."""
    pbc = np.array([atoms.pbc for atoms in frames])
    if pbc.all() and all(atoms.cell.volume > 0 for atoms in frames):
        return "rdf"
    if not pbc.any():
        return "hr"
    raise TrajectoryError("partly periodic frames (slabs, wires) have no g(r) or h(r) convention here")


def _frame_arrays(frames: Sequence[Atoms]) -> tuple[np.ndarray, np.ndarray]:
    """Positions (F, N, 3) and cells (F, 3, 3) in Å of frames with equal atom counts."""
    sizes = {len(atoms) for atoms in frames}
    if len(sizes) != 1:
        raise TrajectoryError(f"frames have different numbers of atoms: {sorted(sizes)}")
    return np.stack([atoms.positions for atoms in frames]), np.stack([atoms.cell.array for atoms in frames])


def frames_structure_function(
    frames: Sequence[Atoms], kind: str, r_max: float | None = None, dr: float = DEFAULT_DR
) -> StructureFunction:
    """g(r) ("rdf") or h(r) ("hr") of frames with equal atom counts on the grid (r_max, dr) in Å; r_max from
    the frames as for a reference (`metrics.scoring`) when not given."""
    return reference_structure(*_frame_arrays(frames), kind, dr=dr, r_max=r_max)


def compare_trajectories(
    simulated: Sequence[Atoms],
    reference: Sequence[Atoms],
    dr: float = DEFAULT_DR,
    r_max: float | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """WF (%), JSD, EV and FV of ``simulated`` against ``reference``, with the grid and reasons.

    ``kind`` "rdf" or "hr" chooses the structure function; None picks it from the periodicity. "hr" also
    suits an isolated molecule stored in a large periodic box (its positions must be whole, not wrapped).
    The grid is the score stage's (`metrics.scoring`): r_max (Å) defaults to :func:`default_r_max` of the
    reference cells (g(r)) or to just above the largest distance in the reference (h(r)).
    """
    if not simulated or not reference:
        raise TrajectoryError("both trajectories need at least one frame")
    if kind not in (None, "rdf", "hr"):
        raise ConfigError(f"structure function kind must be 'rdf' or 'hr', got {kind!r}")
    if kind != "hr":
        detected = structure_kind(reference)
        if structure_kind(simulated) != detected:
            raise TrajectoryError("the simulated and reference trajectories differ in periodicity")
        if kind == "rdf" and detected != "rdf":
            raise TrajectoryError("g(r) needs frames periodic in all three directions with a cell")
        kind = detected
    target = frames_structure_function(reference, kind, r_max, dr)
    scored = score_structure(*_frame_arrays(simulated), target)
    result: dict[str, Any] = {
        "kind": kind,
        "n_frames": len(simulated),
        "n_frames_reference": len(reference),
        "dr": dr,
        "r_max": target.r_max,
        "wf_percent": scored.wf_percent,
        "jsd": scored.jsd,
    }
    result.update(violations(simulated, reference))
    return result


def violations(simulated: Sequence[Atoms], reference: Sequence[Atoms]) -> dict[str, Any]:
    """EV, FV (geometric means over frames) and the energy/force errors along the rollout, or reasons."""
    grid_problem = _time_grid_problem(simulated, reference)
    if grid_problem:
        energies, ev_reason, forces, fv_reason = None, grid_problem, None, grid_problem
    else:
        energies, ev_reason = _paired_results(simulated, reference, "energy", "energies")
        forces, fv_reason = _paired_results(simulated, reference, "forces", "forces")
    result: dict[str, Any] = {
        "ev": None if energies is None else geometric_mean(energy_violation(*energies)),
        "fv": None if forces is None else geometric_mean(force_violation(*forces)),
        "ev_reason": ev_reason,
        "fv_reason": fv_reason,
    }
    if energies is not None and forces is not None:
        errors = energy_force_errors(*energies, *forces)
        result.update({f"rollout_{name}": value for name, value in errors.items()})
    return result


def _time_grid_problem(simulated: Sequence[Atoms], reference: Sequence[Atoms]) -> str | None:
    if len(simulated) != len(reference):
        return f"different numbers of frames ({len(simulated)} simulated, {len(reference)} reference)"
    for index, (ours, theirs) in enumerate(zip(simulated, reference, strict=True)):
        if not np.array_equal(ours.numbers, theirs.numbers):
            return f"frame {index} has different atoms in the two trajectories"
        if "time" in ours.info and "time" in theirs.info and ours.info["time"] != theirs.info["time"]:
            return f"frame {index} is at different times ({ours.info['time']} vs {theirs.info['time']})"
    return None


def _paired_results(
    simulated: Sequence[Atoms], reference: Sequence[Atoms], name: str, what: str
) -> tuple[tuple[np.ndarray, np.ndarray] | None, str | None]:
    """Calculator result ``name`` of every frame of both trajectories as arrays, or None and the reason."""
    found = {"simulated": _results(simulated, name), "reference": _results(reference, name)}
    missing = [label for label, values in found.items() if values is None]
    if missing:
        return None, f"{' and '.join(missing)} trajectory has no {what} in every frame"
    return (np.array(found["simulated"], dtype=float), np.array(found["reference"], dtype=float)), None


def _results(frames: Sequence[Atoms], name: str) -> list[Any] | None:
    """The calculator result ``name`` of every frame, or None when some frame lacks it."""
    values = [atoms.calc.results.get(name) if atoms.calc is not None else None for atoms in frames]
    return None if any(value is None for value in values) else values
