"""Run modes (`dev`, `standard`, `paper`, in `modes.yaml`) and the settings a task's jobs run with in one:
model preset, replicas per test system, and the MD protocol, merged from the mode, the task and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from egraffbench.errors import ConfigError, UnknownNameError
from egraffbench.md.protocol import MDProtocol
from egraffbench.tasks.schema import MODE_NAMES, ModeOverride, TaskSpec

MODES_FILE = Path(__file__).with_name("modes.yaml")


@dataclass(frozen=True)
class RunSettings:
    """What every job of a task runs with in one mode.

    ``temperature_K`` is the MD temperature set explicitly by the task, mode or CLI (None: each test system
    runs at its data's temperature); ``protocol`` holds every other MD field.
    """

    mode: str
    model_preset: str
    replicas: int
    protocol: MDProtocol
    temperature_K: float | None


def validate_protocol(fields: dict[str, Any], source: str, where: str = "md") -> MDProtocol:
    """An MDProtocol from ``fields``; ConfigError naming ``source`` and the field (e.g. `md.steps`)."""
    try:
        return MDProtocol.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join([where, *(str(part) for part in first["loc"])])
        raise ConfigError(f"{source}: field '{field}': {first['msg']}") from error


@lru_cache(maxsize=1)
def shipped_modes() -> dict[str, ModeOverride]:
    """The run modes of `modes.yaml`, each with every setting given."""
    raw = yaml.safe_load(MODES_FILE.read_text(encoding="utf-8"))
    modes = {}
    for name in MODE_NAMES:
        try:
            mode = ModeOverride.model_validate(raw[name])
        except (KeyError, ValidationError) as error:
            raise ConfigError(f"{MODES_FILE}: mode '{name}' is missing or invalid ({error})") from error
        if mode.model_preset is None or mode.replicas is None:
            raise ConfigError(f"{MODES_FILE}: mode '{name}' must set model_preset and replicas")
        validate_protocol(mode.md, str(MODES_FILE), f"{name}.md")
        modes[name] = mode
    return modes


def run_settings(task: TaskSpec, mode: str, overrides: ModeOverride | None = None) -> RunSettings:
    """Settings of ``task`` in ``mode``: the mode's, then the task's `modes.<mode>` section, then
    ``overrides`` (the CLI's --preset/--replicas/--steps); MD fields start from the task's `md` section."""
    if mode not in MODE_NAMES:
        raise UnknownNameError(f"unknown run mode '{mode}'; modes: {', '.join(MODE_NAMES)}")
    layers = [shipped_modes()[mode], task.modes.get(mode), overrides]
    fields: dict[str, Any] = dict(task.md)
    preset, replicas = "", 0
    for layer in layers:
        if layer is None:
            continue
        fields.update(layer.md)
        preset = layer.model_preset or preset
        replicas = layer.replicas or replicas
    temperature = fields.pop("temperature_K", None)
    protocol = validate_protocol(fields, f"task '{task.name}' in mode '{mode}'")
    if temperature is not None:
        validate_protocol({"temperature_K": temperature}, f"task '{task.name}' in mode '{mode}'")
    return RunSettings(mode, preset, replicas, protocol, temperature)
