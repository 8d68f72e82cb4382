"""Finding and reading task files: the shipped ones by name (`definitions/<name>.yaml`) or a user's file by
path; a bad file gives a ConfigError naming the file and the field."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from egraffbench.errors import ConfigError, UnknownNameError
from egraffbench.tasks.modes import validate_protocol
from egraffbench.tasks.schema import TaskSpec

TASK_FOLDER = Path(__file__).with_name("definitions")


def list_tasks() -> list[str]:
    """Names of the shipped tasks."""
    return sorted(path.stem for path in TASK_FOLDER.glob("*.yaml"))


def _is_path(reference: str | Path) -> bool:
    text = str(reference)
    return Path(text).suffix in {".yaml", ".yml"} or ("/" in text and Path(text).exists())


def load_task(reference: str | Path) -> TaskSpec:
    """A shipped task by name (e.g. `md17-ethanol`) or a task file by path."""
    if _is_path(reference):
        return read_task_file(Path(reference))
    path = TASK_FOLDER / f"{reference}.yaml"
    if not path.is_file():
        close = difflib.get_close_matches(str(reference), list_tasks(), n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UnknownNameError(f"unknown task '{reference}'; {hint}known: {', '.join(list_tasks())}")
    return read_task_file(path)


def _absolute_files(raw: dict[str, Any], folder: Path) -> None:
    """Make `file:` entries relative to the task file's folder absolute (in place)."""
    for group in ("train", "val", "test"):
        for entry in raw.get(group) or []:
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                entry["file"] = str((folder / entry["file"]).expanduser().resolve())


def _check_protocols(task: TaskSpec, source: str) -> None:
    validate_protocol(task.md, source, "md")
    for mode, override in task.modes.items():
        validate_protocol({**task.md, **override.md}, source, f"modes.{mode}.md")
    if "temperature_K" in task.md:
        return
    for index, system in enumerate(task.test):
        if system.file is not None and system.temperature_K is None:
            raise ConfigError(
                f"{source}: field 'test.{index}.temperature_K': required for a file source "
                "(or set md.temperature_K)"
            )


def read_task_file(path: Path) -> TaskSpec:
    """Read and validate one task file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read task file ({error})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of task fields, got {type(raw).__name__}")
    _absolute_files(raw, path.resolve().parent)
    try:
        task = TaskSpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{path}: field '{where}': {message}") from error
    _check_protocols(task, str(path))
    return task
