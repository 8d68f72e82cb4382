"""A task's test system as the stages use it: its frames and the conditions it is simulated and scored at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from egraffbench.tasks.schema import SystemSpec
from egraffbench.tasks.sources import SystemConditions, load_source, system_conditions


@dataclass
class SystemData:
    """A test system's frames and conditions."""

    conditions: SystemConditions
    frames: list[Atoms]


def load_test_systems(
    systems: Sequence[SystemSpec], root: Path, md_temperature_K: float | None
) -> list[SystemData]:
    """Each test system's frames (from the data under ``root``) and conditions (``md_temperature_K``: the
    run settings' temperature, used where neither the system nor its data give one)."""
    loaded = []
    for system in systems:
        frames = load_source(system, root)
        loaded.append(SystemData(system_conditions(system, frames, md_temperature_K), frames))
    return loaded
