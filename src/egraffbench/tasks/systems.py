"""A task's test system as the stages use it: its frames and the conditions it is simulated and scored at."""

from __future__ import annotations

from dataclasses import dataclass

from ase import Atoms

from egraffbench.tasks.sources import SystemConditions


@dataclass
class SystemData:
    """A test system's frames and conditions."""

    conditions: SystemConditions
    frames: list[Atoms]
