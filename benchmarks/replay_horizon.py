"""How long an exact replay of an MD17 reference trajectory stays on it: the scoring horizon τ of
reference-trajectory mode (docs/metrics.md).

Three measurements per molecule, on its test split (the first 1000 frames of the MD17 trajectory, 0.5 fs
apart):

(1) Verlet residual r_k = x_{k+1} − 2x_k + x_{k−1} − Δt² F_k/m of the reference frames with their own
    forces: what separates the reference from velocity Verlet at Δt on the labelled potential (thermostat,
    labels computed differently from the forces that drove the AIMD, stored precision), as a fraction of
    Δt² |F/m|; and the error of the central-difference velocity against the continuous one,
    Δt²/6 · |d³x/dt³| with d³x/dt³ from differences of F/m, as a fraction of the rms velocity.
(2) Open loop, no model: a replay on the exact potential that stayed on the reference would see the
    reference's forces; the reference then leaves it by e_n with e_{n+1} = 2e_n − e_{n−1} − r_{k+n} (the
    residuals summed twice, no restoring forces, no chaos). Converted to FV with the stiffness
    κ = median ‖F_{k+1} − F_k‖ / ‖x_{k+1} − x_k‖ along the reference: FV_n ≈ κ‖e_n‖ / 2‖F‖.
(3) With ``--model``, a trained model stands in for the exact potential (which cannot be integrated):
    replay A is Störmer–Verlet on the model from frames k−1, k (velocity Verlet with the central-difference
    velocity); replay B is the same plus, at every step n, the reference's residual r_{k+n} (what the
    reference does that exact dynamics does not). FV between A's and B's forces is how fast two
    trajectories that differ only by the reference's own deviations part, restoring forces and chaos
    included. Replay A's FV against the reference forces (the model's own replay score) is printed beside.

Curves are medians over the start frames; printed: when they first exceed 0.01 and the fidelity threshold.

    python benchmarks/replay_horizon.py --data ../shared/datasets [--model DIR] [--molecule ethanol]
        [--starts 10] [--steps 120]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from ase import units
from ase.data import atomic_masses

from egraffbench.metrics.violation import force_violation
from egraffbench.models.graph import batch_from_arrays
from egraffbench.models.storage import load_force_field
from egraffbench.runner.rollout_scoring import FIDELITY_THRESHOLD

SPACING_FS = 0.5


def verlet_residuals(positions: np.ndarray, forces: np.ndarray, masses: np.ndarray, dt: float) -> np.ndarray:
    """r_k for k = 1 … F−2, shape (F−2, N, 3) Å."""
    second = positions[2:] - 2 * positions[1:-1] + positions[:-2]
    return second - dt**2 * forces[1:-1] / masses[None, :, None]


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(values**2)))


def _model_forces(model, positions: np.ndarray, numbers: np.ndarray) -> np.ndarray:
    count = len(positions)
    batch = batch_from_arrays(
        list(positions),
        [numbers] * count,
        [np.zeros((3, 3))] * count,
        [np.zeros(3, bool)] * count,
        cutoff=model.cutoff,
        dtype=torch.float64,
    )
    return model(batch)["forces"].detach().numpy().reshape(positions.shape)


def paired_replays(model, data: dict, starts: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """FV(A, B) and FV(A, reference) per step and start frame, shape (steps + 1, S)."""
    positions, forces = data["pos"], data["forces"]
    numbers, masses = data["atomic_numbers"], atomic_masses[data["atomic_numbers"]]
    dt = SPACING_FS * units.fs
    residual = verlet_residuals(positions, forces, masses, dt)  # residual[k − 1] belongs to frame k
    previous = np.concatenate([positions[starts - 1]] * 2)
    current = np.concatenate([positions[starts]] * 2)
    half = len(starts)
    between, against = [], []
    for n in range(steps + 1):
        model_forces = _model_forces(model, current, numbers)
        between.append(force_violation(model_forces[:half], model_forces[half:]))
        against.append(force_violation(model_forces[:half], forces[starts + n]))
        if n == steps:
            break
        following = 2 * current - previous + dt**2 * model_forces / masses[None, :, None]
        following[half:] += residual[starts + n - 1]
        previous, current = current, following
    return np.array(between), np.array(against)


def open_loop_fv(data: dict, starts: np.ndarray, steps: int) -> np.ndarray:
    """Estimated FV of an exact replay against the reference, (steps + 1, S), from the residuals alone."""
    positions, forces = data["pos"], data["forces"]
    masses = atomic_masses[data["atomic_numbers"]]
    residual = verlet_residuals(positions, forces, masses, SPACING_FS * units.fs)
    moves = np.linalg.norm(np.diff(positions, axis=0).reshape(len(positions) - 1, -1), axis=1)
    changes = np.linalg.norm(np.diff(forces, axis=0).reshape(len(forces) - 1, -1), axis=1)
    stiffness = np.median(changes / moves)
    scale = 2 * np.mean(np.linalg.norm(forces.reshape(len(forces), -1), axis=1))
    previous, current = (
        np.zeros((len(starts), *positions.shape[1:])),
        np.zeros((len(starts), *positions.shape[1:])),
    )
    curve = [np.zeros(len(starts))]
    for n in range(steps):
        previous, current = current, 2 * current - previous - residual[starts + n - 1]
        curve.append(stiffness * np.linalg.norm(current.reshape(len(starts), -1), axis=1) / scale)
    return np.array(curve)


def _first_above(curve: np.ndarray, threshold: float) -> str:
    above = np.nonzero(curve > threshold)[0]
    return f"{above[0] * SPACING_FS:g} fs" if above.size else f"> {(len(curve) - 1) * SPACING_FS:g} fs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--model", type=Path, help="a trained model folder of this molecule (measurement 3)")
    parser.add_argument("--molecule", default="ethanol")
    parser.add_argument("--starts", type=int, default=10)
    parser.add_argument("--steps", type=int, default=120)
    args = parser.parse_args()
    data = dict(np.load(args.data / "md17" / args.molecule / "test.npz"))
    masses = atomic_masses[data["atomic_numbers"]]
    dt = SPACING_FS * units.fs
    residual = verlet_residuals(data["pos"], data["forces"], masses, dt)
    kick = dt**2 * data["forces"][1:-1] / masses[None, :, None]
    velocity = (data["pos"][2:] - data["pos"][:-2]) / (2 * dt)
    acceleration = data["forces"] / masses[None, :, None]
    jerk = (acceleration[2:] - acceleration[:-2]) / (2 * dt)
    ratio = _rms(residual) / _rms(kick)
    print(f"{args.molecule}: Verlet residual / Δt²|F/m| = {ratio:.4f} (rms, {_rms(residual):.2e} Å)")
    print(f"central-difference velocity error / rms velocity = {_rms(dt**2 / 6 * jerk) / _rms(velocity):.4f}")
    last = len(data["pos"]) - args.steps - 2
    starts = np.linspace(1, last, args.starts).round().astype(int)
    curves = [("open-loop exact-replay FV", np.median(open_loop_fv(data, starts, args.steps), axis=1))]
    if args.model is not None:
        model = load_force_field(args.model).double().eval()
        between, against = paired_replays(model, data, starts, args.steps)
        curves += [
            ("exact-replay proxy FV(A, B)", np.median(between, axis=1)),
            ("model FV(A, ref)", np.median(against, axis=1)),
        ]
    for label, curve in curves:
        print(
            f"{label}: first > 0.01 at {_first_above(curve, 0.01)}, "
            f"> {FIDELITY_THRESHOLD} at {_first_above(curve, FIDELITY_THRESHOLD)}; "
            + ", ".join(
                f"{t:g} fs: {curve[int(t / SPACING_FS)]:.3g}"
                for t in (5, 10, 20, 40, 80, 120, 160, 200)
                if int(t / SPACING_FS) < len(curve)
            )
        )


if __name__ == "__main__":
    main()
