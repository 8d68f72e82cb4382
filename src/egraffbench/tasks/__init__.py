"""Benchmark tasks as data: datasets and splits, MD protocol, metrics, and run modes."""

from egraffbench.tasks.loader import list_tasks, load_task, read_task_file
from egraffbench.tasks.modes import RunSettings, run_settings
from egraffbench.tasks.schema import DataSource, ModeOverride, SystemSpec, TaskSpec

__all__ = [
    "DataSource",
    "ModeOverride",
    "RunSettings",
    "SystemSpec",
    "TaskSpec",
    "list_tasks",
    "load_task",
    "read_task_file",
    "run_settings",
]
