"""Does this code, in this process, reproduce the MD a run folder stored? For every stored `simulate` stage
whose model was trained in the run, the step-0 forces of all its replicas are recomputed from the stored
model and starting positions, in one batch as the MD engine's first call makes them, and compared bit for
bit with the forces the trajectory stored.

    python scripts/check_md_reproduction.py RUN_DIR [--architecture mace] [--latest-run]

Prints one line per stage (architecture, its `ARCHITECTURE_VERSIONS` entry, test system, largest force
difference in eV/Å: 0 means the same bits) and exits 1 when any differs. Run it in a fresh interpreter after a
change that may move an architecture's numbers: an architecture whose stored MD it no longer reproduces needs
its `ARCHITECTURE_VERSIONS` entry raised (docs/running.md). MD is chaotic, so step 0 decides: the same
first forces and the same code give the same trajectory. The check needs the run folder itself (published
folders hold no models or trajectories). ``--latest-run`` checks only the MD the folder's latest run used,
what `egraffbench publish` would publish: before publishing, every line should say "same bits".
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from egraffbench.md.forces import evaluate_forces
from egraffbench.md.neighbours import SkinNeighbourList
from egraffbench.md.state import state_from_structures
from egraffbench.md.trajectory import EV_PER_FORCE_UNIT, read_protocol, read_replica, replica_ids
from egraffbench.models import load_force_field
from egraffbench.runner.stage_cache import StageCache
from egraffbench.runner.stages import MODEL_FOLDER, TRAJECTORY_FILE
from egraffbench.store.database import ResultsStore

TRAINED = "train:"


@dataclass(frozen=True)
class StageCheck:
    """One stored MD stage: its model's architecture and version, test system, largest |ΔF| at step 0."""

    key: str
    architecture: str
    architecture_version: int
    system: str
    max_force_difference: float  # eV/Å; 0.0: the same bits

    def line(self) -> str:
        verdict = "same bits" if self.max_force_difference == 0.0 else f"{self.max_force_difference:.3g} eV/Å"
        return f"{self.architecture} v{self.architecture_version} {self.system} {self.key}: {verdict}"


def _as_stored(forces: np.ndarray) -> np.ndarray:
    """Forces as a trajectory stores them (float32 in kJ mol⁻¹ Å⁻¹) and reads them back (× the unit)."""
    return (forces / EV_PER_FORCE_UNIT).astype(np.float32) * EV_PER_FORCE_UNIT


def check_stage(cache: StageCache, key: str, architecture: str | None = None) -> StageCheck | None:
    """The step-0 check of simulate stage ``key``; None when its model was not trained in this run (a
    reference potential, a pretrained file), is not of ``architecture`` (when given), or its trajectory
    holds no frame yet."""
    folder = cache.folder("simulate", key)
    inputs = json.loads((folder / "inputs.json").read_text())
    path = folder / TRAJECTORY_FILE
    train = cache.folder("train", inputs["model"].removeprefix(TRAINED))
    if not inputs["model"].startswith(TRAINED) or not path.is_file() or not (train / MODEL_FOLDER).is_dir():
        return None
    train_inputs = json.loads((train / "inputs.json").read_text())
    if architecture not in (None, train_inputs["config"]["architecture"]):
        return None
    replicas = [read_replica(path, replica) for replica in replica_ids(path)]
    if any(len(replica.forces) == 0 for replica in replicas):
        return None
    dtype = getattr(torch, read_protocol(path)["dtype"])
    model = load_force_field(train / MODEL_FOLDER).to(dtype=dtype).eval()
    structures = [replica.atoms(0) for replica in replicas]
    zero = [np.zeros((len(atoms), 3)) for atoms in structures]
    ids = list(range(len(structures)))
    state = state_from_structures(structures, zero, [0.0] * len(structures), ids, dtype, "cpu")
    neighbours = SkinNeighbourList(state, model.cutoff, inputs["protocol"]["skin"])
    _, forces = evaluate_forces(model, neighbours, state, state.positions)
    stored = np.concatenate([replica.forces[0] for replica in replicas])
    return StageCheck(
        key=key,
        architecture=train_inputs["config"]["architecture"],
        architecture_version=train_inputs.get("architecture_version", 1),
        system=", ".join(inputs["test"]),
        max_force_difference=float(np.abs(_as_stored(forces.numpy()) - stored).max()),
    )


def check_run(run_dir: Path, architecture: str | None = None, latest_run: bool = False) -> list[StageCheck]:
    """:func:`check_stage` of every stored simulate stage of ``run_dir`` (one architecture's if given; only
    those of the folder's latest run with ``latest_run``)."""
    cache = StageCache(run_dir / "stages")
    keys = sorted(folder.name for folder in cache.folder("simulate", "").iterdir())
    if latest_run:
        with ResultsStore.open_existing(run_dir) as store:
            used = {row["key"] for row in store.stages(store.latest_run()) if row["stage"] == "simulate"}
        keys = [key for key in keys if key in used]
    checks = (check_stage(cache, key, architecture) for key in keys)
    return [check for check in checks if check is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--architecture", help="check this architecture's stages only")
    parser.add_argument("--latest-run", action="store_true", help="only the MD the latest run used")
    args = parser.parse_args()
    torch.set_num_threads(1)
    checks = check_run(args.run_dir, args.architecture, args.latest_run)
    for check in checks:
        print(check.line(), flush=True)
    differing = sum(check.max_force_difference != 0.0 for check in checks)
    print(f"{len(checks) - differing} of {len(checks)} stored MD runs reproduced bit for bit at step 0")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
