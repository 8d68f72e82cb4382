"""Does this code, in this process, reproduce what a run folder stored? For every stored `simulate` stage
whose model was trained in the run, the step-0 forces of all its replicas are recomputed from the stored
model and starting positions, in one batch as the MD engine's first call makes them, and compared bit for
bit with the forces the trajectory stored. With ``--training``, the first epoch of every training the
folder's latest run used is run again (stored configuration, seed and the task's data) and its log record
compared with the stored one, every field but the wall time. With ``--evaluation``, every evaluate stage
the latest run used is computed again from the stored model on the task's test data and compared with its
stored errors, per-structure sums and parity arrays.

    python scripts/check_reproduction.py RUN_DIR [--architecture mace] [--latest-run | --run ID]
        [--training] [--evaluation] [--data-root DIR]

Prints one line per stage (architecture, its `ARCHITECTURE_VERSIONS` entry, test system or task, "same bits"
or what differs) and exits 1 when any differs. A line says too where an MD or training stage was begun with
other CPU kernels than this process has (torch's capability, numpy's vector units: its stored bits come from
those) and the variables that make a rerun compute with them. Run it in a fresh interpreter after a change
that may move an architecture's numbers: an architecture whose stored results it no longer reproduces needs
its `ARCHITECTURE_VERSIONS` entry raised (docs/running.md). MD and training are chaotic, so their start
decides: the same first forces (the same first epoch) and the same code give the same trajectory (the same
model). The check needs the run folder itself (published folders hold no models or trajectories).
``--latest-run`` checks only the MD the folder's latest run used, what `egraffbench publish` would publish:
before publishing, every line should say "same bits". ``--run ID`` does the same for run ID (what `egraffbench
publish --run ID` publishes), and --training and --evaluation then check that run's stages.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from egraffbench.data import data_root
from egraffbench.md.forces import evaluate_forces
from egraffbench.md.neighbours import SkinNeighbourList
from egraffbench.md.state import state_from_structures
from egraffbench.md.trajectory import EV_PER_FORCE_UNIT, read_protocol, read_replica, replica_ids
from egraffbench.models import load_force_field
from egraffbench.models.presets import ModelConfig
from egraffbench.numerics import pin_torch_threads
from egraffbench.runner.machine import kernel_record, kernels_phrase, pinning_phrase, same_kernels
from egraffbench.runner.stage_cache import RESULT_FILE, StageCache, first_attempt_kernels
from egraffbench.runner.stages import MODEL_FOLDER, PARITY_FILE, TRAJECTORY_FILE, evaluate_stage
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import load_task
from egraffbench.tasks.sources import load_sources
from egraffbench.tasks.systems import load_test_systems
from egraffbench.training import train_force_field
from egraffbench.training.trainer import LOG_FILE

TRAINED = "train:"
UNTIMED = frozenset({"wall_seconds"})  # the one field of a training log record that is not a result


@dataclass(frozen=True)
class MDCheck:
    """One stored MD stage: its model's architecture and version, test system, largest |ΔF| at step 0."""

    key: str
    architecture: str
    architecture_version: int
    system: str
    max_force_difference: float  # eV/Å; 0.0: the same bits
    kernels_note: str = ""  # `kernels_note` of the stage

    @property
    def same(self) -> bool:
        return self.max_force_difference == 0.0

    def line(self) -> str:
        verdict = "same bits" if self.same else f"{self.max_force_difference:.3g} eV/Å"
        stage = f"{self.architecture} v{self.architecture_version} {self.system} {self.key}"
        return f"{stage}: {verdict}{self.kernels_note}"


def kernels_note(folder: Path) -> str:
    """Where the first attempt at the stage in ``folder`` computed with other kernels than this process
    (its stored bits come from those), which, and how to compute with them here; empty otherwise."""
    first, here = first_attempt_kernels(folder), kernel_record()
    if first is None or same_kernels(first, here):
        return ""
    pins = pinning_phrase(first, here)
    how = f"rerun with {pins}" if pins else "this machine cannot compute with them"
    return f" (computed with {kernels_phrase(first)}, here {kernels_phrase(here)}: {how})"


def _as_stored(forces: np.ndarray) -> np.ndarray:
    """Forces as a trajectory stores them (float32 in kJ mol⁻¹ Å⁻¹) and reads them back (× the unit)."""
    return (forces / EV_PER_FORCE_UNIT).astype(np.float32) * EV_PER_FORCE_UNIT


def check_stage(cache: StageCache, key: str, architecture: str | None = None) -> MDCheck | None:
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
    replicas = [read_replica(path, replica, frames=slice(0, 1)) for replica in replica_ids(path)]
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
    return MDCheck(
        key=key,
        architecture=train_inputs["config"]["architecture"],
        architecture_version=train_inputs.get("architecture_version", 1),
        system=", ".join(inputs["test"]),
        max_force_difference=float(np.abs(_as_stored(forces.numpy()) - stored).max()),
        kernels_note=kernels_note(folder),
    )


def check_run(
    run_dir: Path, architecture: str | None = None, latest_run: bool = False, run_id: str | None = None
) -> list[MDCheck]:
    """:func:`check_stage` of every stored simulate stage of ``run_dir`` (one architecture's if given; only
    those of the folder's latest run with ``latest_run``, of run ``run_id`` if given)."""
    cache = StageCache(run_dir / "stages")
    keys = sorted(folder.name for folder in cache.folder("simulate", "").iterdir())
    if latest_run or run_id is not None:
        with ResultsStore.open_existing(run_dir) as store:
            chosen = run_id or store.latest_run()
            used = {row["key"] for row in store.stages(chosen) if row["stage"] == "simulate"}
        keys = [key for key in keys if key in used]
    checks = (check_stage(cache, key, architecture) for key in keys)
    return [check for check in checks if check is not None]


@dataclass(frozen=True)
class RecomputedCheck:
    """One stored training (its first epoch) or evaluation, computed again: its model's architecture and
    version, task, and the stored fields that differ."""

    stage: str  # "training" or "evaluation"
    key: str
    architecture: str
    architecture_version: int
    task: str
    differing: tuple[str, ...]  # empty: the same bits
    kernels_note: str = ""  # `kernels_note` of the stage (trainings; evaluations do not resume)

    @property
    def same(self) -> bool:
        return not self.differing

    def line(self) -> str:
        verdict = "same bits" if self.same else f"differs in {', '.join(self.differing)}"
        version = f"v{self.architecture_version}"
        return (
            f"{self.architecture} {version} {self.task} {self.stage} {self.key}: {verdict}{self.kernels_note}"
        )


def _first_record(log: Path) -> dict:
    return json.loads(log.read_text().splitlines()[0])


def _latest_run_stages(run_dir: Path, stage: str, run_id: str | None = None) -> list[tuple[str, str]]:
    """(task, key) of every ``stage`` the folder's latest run (or run ``run_id``) used, sorted."""
    with ResultsStore.open_existing(run_dir) as store:
        run_id = run_id or store.latest_run()
        tasks = {job["job_id"]: job["task"] for job in store.jobs(run_id)}
        used = {(tasks[row["job_id"]], row["key"]) for row in store.stages(run_id) if row["stage"] == stage}
    return sorted(pair for pair in used if pair[1])


def check_training(
    run_dir: Path,
    root: Path,
    architecture: str | None = None,
    task_files: Mapping[str, Path] | None = None,
    run_id: str | None = None,
) -> list[RecomputedCheck]:
    """Epoch 1 of every training the folder's latest run (or run ``run_id``) used, run again here with the
    stored configuration and seed on the task's data (under ``root``; a task that is not shipped is found in
    ``task_files``, name → file), against the stored epoch-1 log record."""
    cache = StageCache(run_dir / "stages")
    checks = []
    for task_name, key in _latest_run_stages(run_dir, "train", run_id):
        folder = cache.folder("train", key)
        if not (folder / "inputs.json").is_file():
            continue  # a pretrained model or a reference potential: nothing trained here
        inputs = json.loads((folder / "inputs.json").read_text())
        config = ModelConfig.model_validate(inputs["config"])
        if architecture not in (None, config.architecture):
            continue
        task = load_task((task_files or {}).get(task_name, task_name))
        one_epoch = config.model_copy(
            update={"training": config.training.model_copy(update={"max_epochs": 1})}
        )
        with tempfile.TemporaryDirectory() as scratch:
            model = Path(scratch) / MODEL_FOLDER
            train, val = load_sources(task.train, root), load_sources(task.val, root)
            train_force_field(one_epoch, train, val, model, seed=inputs["seed"])
            fresh = _first_record(model / LOG_FILE)
        stored = _first_record(folder / MODEL_FOLDER / LOG_FILE)
        differing = tuple(name for name in stored if name not in UNTIMED and fresh.get(name) != stored[name])
        version = inputs.get("architecture_version", 1)
        note = kernels_note(folder)
        checks.append(
            RecomputedCheck("training", key, config.architecture, version, task_name, differing, note)
        )
    return checks


def check_evaluation(
    run_dir: Path,
    root: Path,
    architecture: str | None = None,
    task_files: Mapping[str, Path] | None = None,
    run_id: str | None = None,
) -> list[RecomputedCheck]:
    """Every evaluate stage the folder's latest run (or run ``run_id``) used, computed again from the stored
    model on the task's test data (under ``root``; ``task_files`` as in :func:`check_training`) and compared
    with what it stored, every field but the cost."""
    cache = StageCache(run_dir / "stages")
    checks = []
    for task_name, key in _latest_run_stages(run_dir, "evaluate", run_id):
        folder = cache.folder("evaluate", key)
        inputs = json.loads((folder / "inputs.json").read_text())
        train = cache.folder("train", inputs["model"].removeprefix(TRAINED))
        if not inputs["model"].startswith(TRAINED) or not (train / MODEL_FOLDER).is_dir():
            continue  # a pretrained model or a reference potential: nothing trained here
        train_inputs = json.loads((train / "inputs.json").read_text())
        if architecture not in (None, train_inputs["config"]["architecture"]):
            continue
        task = load_task((task_files or {}).get(task_name, task_name))
        systems = load_test_systems(task.test, root, None)  # evaluate uses their frames and names only
        stored_parity = json.loads((folder / PARITY_FILE).read_text())
        element_energies = {int(z): e for z, e in stored_parity["element_energies"].items()}
        model = load_force_field(train / MODEL_FOLDER)
        with tempfile.TemporaryDirectory() as scratch:
            fresh = evaluate_stage(model, systems, element_energies, Path(scratch))
            fresh_parity = json.loads((Path(scratch) / PARITY_FILE).read_text())
        stored = json.loads((folder / RESULT_FILE).read_text())
        differing = [name for name, value in fresh.items() if stored.get(name) != value]
        differing += ["parity"] if fresh_parity != stored_parity else []
        version = train_inputs.get("architecture_version", 1)
        architecture_name = train_inputs["config"]["architecture"]
        checks.append(
            RecomputedCheck("evaluation", key, architecture_name, version, task_name, tuple(differing))
        )
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--architecture", help="check this architecture's stages only")
    parser.add_argument("--latest-run", action="store_true", help="only the MD the latest run used")
    parser.add_argument("--run", dest="run_id", help="only the MD (and trainings, evaluations) of this run")
    parser.add_argument("--training", action="store_true", help="also rerun each training's first epoch")
    parser.add_argument("--evaluation", action="store_true", help="also recompute each evaluate stage")
    parser.add_argument(
        "--data-root", type=Path, help="dataset folder of --training and --evaluation (default: the cache)"
    )
    args = parser.parse_args()
    pin_torch_threads()  # the thread count every stored result was computed with
    checks: list[MDCheck | RecomputedCheck] = []
    for check in check_run(args.run_dir, args.architecture, args.latest_run, args.run_id):
        print(check.line(), flush=True)
        checks.append(check)
    root = args.data_root or data_root()
    if args.training:
        for check in check_training(args.run_dir, root, args.architecture, run_id=args.run_id):
            print(check.line(), flush=True)
            checks.append(check)
    if args.evaluation:
        for check in check_evaluation(args.run_dir, root, args.architecture, run_id=args.run_id):
            print(check.line(), flush=True)
            checks.append(check)
    same = sum(check.same for check in checks)
    print(f"{same} of {len(checks)} stored results reproduced bit for bit")
    sys.exit(0 if same == len(checks) else 1)


if __name__ == "__main__":
    main()
