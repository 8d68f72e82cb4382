"""The data behind a task of a run: its specification, training frames and test systems, loaded for the
baselines, reference structure, parity and diffusion of the report. A task whose file or data cannot be
found is reported with the reason instead of failing the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ase import Atoms

from egraffbench.errors import EgraffbenchError
from egraffbench.runner.stages import SystemData
from egraffbench.tasks import TaskSpec, load_task
from egraffbench.tasks.sources import load_source, load_sources, system_conditions


@dataclass
class TaskData:
    """A task's specification, training frames and test systems; ``problem`` says why any are missing."""

    name: str
    spec: TaskSpec | None
    train: list[Atoms] = field(default_factory=list)
    systems: dict[str, SystemData] = field(default_factory=dict)
    problem: str | None = None

    @property
    def test_frames(self) -> list[Atoms]:
        """Frames of all test systems, in task order."""
        return [atoms for system in self.systems.values() for atoms in system.frames]


def resolve_task(name: str, given: Mapping[str, TaskSpec]) -> TaskSpec | str:
    """The spec of task ``name``: from ``given`` (the run's own task objects or `--task` files), else the
    shipped task of that name; a sentence saying why not when neither has it."""
    if name in given:
        return given[name]
    try:
        return load_task(name)
    except EgraffbenchError:
        return f"task '{name}' is not a shipped task; pass its task file (--task FILE) to load its data"


def load_task_data(
    name: str, spec: TaskSpec | str, root: Path, temperatures_K: Mapping[str, float]
) -> TaskData:
    """Training frames and test systems of a task from the data root ``root``; ``temperatures_K`` are the MD
    temperatures the run used per test system (they only decide the systems' recorded conditions)."""
    if isinstance(spec, str):
        return TaskData(name, None, problem=spec)
    try:
        train = load_sources(spec.train, root)
        systems = {}
        for system in spec.test:
            frames = load_source(system, root)
            temperature = temperatures_K.get(system.system_name)
            systems[system.system_name] = SystemData(system_conditions(system, frames, temperature), frames)
    except EgraffbenchError as error:
        return TaskData(name, spec, problem=f"data of task '{name}' not available under {root}: {error}")
    return TaskData(name, spec, train, systems)
