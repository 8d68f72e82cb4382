"""Model configurations as validated data: architecture hyperparameters plus the training protocol.

Each architecture ships `presets/<name>.yaml` holding named presets (`paper`: the EGraFFBench authors'
settings; `dev`: trains in about a minute on 2 CPU cores; `test`: tiny, for unit tests). A user file
holds one configuration with the same fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from egraffbench.errors import ConfigError, UnknownNameError

PRESET_FOLDER = Path(__file__).with_name("presets")
MAX_CUTOFF_A = 15.0  # neighbours per atom grow as cutoff³: ~1000 in a dense solid at 15 Å
MAX_LEARNING_RATE = 1.0


class TrainingConfig(BaseModel):
    """One training protocol for every model (loss on per-atom energy and force components)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    energy_weight: float = Field(1.0, ge=0)
    force_weight: float = Field(100.0, ge=0)
    learning_rate: float = Field(1e-2, gt=0)
    batch_size: int = Field(5, ge=1)
    max_epochs: int = Field(100, ge=1)
    optimizer: Literal["adam", "amsgrad", "adamw"] = "amsgrad"
    weight_decay: float = Field(0.0, ge=0)
    ema_decay: float | None = Field(0.99, ge=0, lt=1)
    scheduler_patience: int = Field(5, ge=1)
    scheduler_factor: float = Field(0.8, gt=0, lt=1)
    early_stopping_patience: int = Field(30, ge=1)
    gradient_clip: float | None = Field(100.0, gt=0)
    max_train_frames: int | None = Field(None, ge=1)
    max_val_frames: int | None = Field(None, ge=1)
    max_wall_seconds: float | None = Field(None, gt=0)

    @field_validator("learning_rate")
    @classmethod
    def _bounded_learning_rate(cls, value: float) -> float:
        if value > MAX_LEARNING_RATE:
            raise ValueError(f"above {MAX_LEARNING_RATE:g}, where any of these models' losses diverge")
        return value


class ModelConfig(BaseModel):
    """Architecture, cutoff (Å), hyperparameters and training protocol of one model."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    architecture: str
    cutoff: float = Field(5.0, gt=0)
    dtype: Literal["float32", "float64"] = "float32"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    training: TrainingConfig = Field(default_factory=TrainingConfig)

    @field_validator("cutoff")
    @classmethod
    def _bounded_cutoff(cls, value: float) -> float:
        if value > MAX_CUTOFF_A:
            raise ValueError(
                f"above {MAX_CUTOFF_A:g} Å: neighbour lists grow as cutoff³ and would not fit in memory"
            )
        return value

    @field_validator("architecture")
    @classmethod
    def _known_architecture(cls, name: str) -> str:
        from egraffbench.models.registry import architecture_class

        architecture_class(name)
        return name


def _validated(data: Any, source: str) -> ModelConfig:
    try:
        return ModelConfig.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: field '{where}': {first['msg']}") from error


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read YAML ({error})") from error


def preset_names(architecture: str) -> list[str]:
    """Presets shipped for ``architecture``."""
    path = PRESET_FOLDER / f"{architecture}.yaml"
    return sorted(_read_yaml(path)) if path.is_file() else []


def load_preset(architecture: str, preset: str = "dev") -> ModelConfig:
    """A shipped preset (``paper``, ``dev``, ``test``) of ``architecture``."""
    path = PRESET_FOLDER / f"{architecture}.yaml"
    if not path.is_file():
        raise UnknownNameError(f"no presets for model '{architecture}' (looked for {path.name})")
    presets = _read_yaml(path)
    if preset not in presets:
        raise UnknownNameError(
            f"model '{architecture}' has no preset '{preset}'; presets: {', '.join(presets)}"
        )
    return _validated({"architecture": architecture, **presets[preset]}, f"{path.name}:{preset}")


def load_model_config(architecture: str, config: str | Path = "dev") -> ModelConfig:
    """``config`` is a preset name or a YAML file with one configuration (its `architecture` must match)."""
    path = Path(config)
    if path.suffix in {".yaml", ".yml"} or path.is_file():
        if not path.is_file():
            raise ConfigError(f"{path}: model config file not found")
        data = _read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of config fields, got {type(data).__name__}")
        data.setdefault("architecture", architecture)
        model_config = _validated(data, str(path))
        if model_config.architecture != architecture:
            raise ConfigError(
                f"{path}: field 'architecture' is '{model_config.architecture}', expected '{architecture}'"
            )
        return model_config
    return load_preset(architecture, str(config))
