"""The job matrix: models × tasks × seeds, each job with the settings of its task in the run mode."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from egraffbench.errors import ConfigError
from egraffbench.models.presets import ModelConfig, load_model_config
from egraffbench.models.pretrained import PretrainedModel, load_declaration
from egraffbench.models.registry import ARCHITECTURES, REFERENCE_POTENTIALS, architecture_class
from egraffbench.tasks.modes import RunSettings, run_settings
from egraffbench.tasks.schema import ModeOverride, TaskSpec


@dataclass(frozen=True)
class ModelChoice:
    """A model of the matrix: a trainable architecture with its config, a reference potential, or a
    pretrained model (trained elsewhere: not trained here)."""

    name: str  # as shown in results: the architecture, reference potential, config file stem or given name
    config: ModelConfig | None  # None for a reference potential or a pretrained model
    source: str  # preset name or config file path
    pretrained: PretrainedModel | None = None

    @property
    def is_reference(self) -> bool:
        return self.config is None and self.pretrained is None


@dataclass(frozen=True)
class JobSpec:
    """One job: a model on a task with a seed, in a run mode; ``data_root`` None is the dataset cache;
    ``device`` the torch device its training, evaluation and MD run on (reference potentials: the CPU)."""

    model: ModelChoice
    task: TaskSpec
    seed: int
    settings: RunSettings
    data_root: Path | None = None
    device: str = "cpu"

    @property
    def job_id(self) -> str:
        return f"{self.model.name}/{self.task.name}/seed{self.seed}"


def _model_file(path: Path) -> ModelChoice:
    """A user's model YAML: a pretrained model (`kind: pretrained`, named by its `name`), or a model config
    whose `architecture` field picks the adapter and whose file stem names it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read model config ({error})") from error
    if isinstance(raw, dict) and raw.get("kind") == "pretrained":
        model = load_declaration(path)
        return ModelChoice(model.name, None, str(path), model)
    architecture = raw.get("architecture") if isinstance(raw, dict) else None
    if not isinstance(architecture, str):
        raise ConfigError(
            f"{path}: field 'architecture': required, one of {', '.join(ARCHITECTURES)} "
            "(or `kind: pretrained` for a model trained elsewhere)"
        )
    architecture_class(architecture)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem)
    return ModelChoice(name, load_model_config(architecture, path), str(path))


def resolve_models(names: Sequence[str | PretrainedModel], preset: str) -> list[ModelChoice]:
    """``names``: architectures (with ``preset``), reference potentials, model-config or pretrained-model
    YAML files, `all` (the six architectures), or pretrained models declared from Python."""
    expanded = [a for name in names for a in (ARCHITECTURES if name == "all" else [name])]
    choices = []
    for name in dict.fromkeys(expanded):
        if isinstance(name, PretrainedModel):
            choices.append(ModelChoice(name.name, None, "python", name))
        elif name in REFERENCE_POTENTIALS:
            choices.append(ModelChoice(name, None, "reference potential"))
        elif Path(name).suffix in {".yaml", ".yml"}:
            choices.append(_model_file(Path(name)))
        else:
            choices.append(ModelChoice(name, load_model_config(name, preset), preset))
    labels = [choice.name for choice in choices]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(
            f"--models: several models are named {', '.join(repeated)}; give them distinct names"
        )
    return choices


def expand_jobs(
    models: Sequence[str | PretrainedModel],
    tasks: Sequence[TaskSpec],
    seeds: int,
    mode: str,
    overrides: ModeOverride | None = None,
    data_root: Path | None = None,
    device: str = "cpu",
    first_seed: int = 0,
) -> list[JobSpec]:
    """Every (model, task, seed) job, seeds ``first_seed`` … ``first_seed`` + seeds − 1, ordered task by task,
    to run on ``device``."""
    jobs = []
    chosen_seeds = range(first_seed, first_seed + seeds)
    for task in tasks:
        settings = run_settings(task, mode, overrides)
        for model in resolve_models(models, settings.model_preset):
            placed = "cpu" if model.is_reference else device
            jobs.extend(JobSpec(model, task, seed, settings, data_root, placed) for seed in chosen_seeds)
    return jobs
