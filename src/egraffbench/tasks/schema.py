"""A benchmark task as validated data: where its train/val/test frames come from, its MD protocol, the
metrics it reports, and per-mode overrides. Shipped tasks live in `definitions/*.yaml`; users write their own
files with the same fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from egraffbench.data.loaders import Format
from egraffbench.data.registry import get_dataset_spec
from egraffbench.errors import UnknownNameError
from egraffbench.models.registry import REFERENCE_POTENTIALS

TaskKind = Literal["in-distribution", "ood-temperature", "ood-structure", "ood-composition"]
MetricGroup = Literal["errors", "structure", "violation", "stability", "dynamics"]
METRIC_GROUPS: tuple[str, ...] = ("errors", "structure", "violation", "stability", "dynamics")
MODE_NAMES: tuple[str, ...] = ("dev", "standard", "paper")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSource(_Strict):
    """Frames from a registered dataset split (`dataset` + `split`) or from a file (`file` + `format`),
    optionally only frames [start, stop) of it (`frames`)."""

    dataset: str | None = Field(None, description="registered dataset name (see `egraffbench data list`)")
    split: str | None = Field(None, description="split of `dataset` (train, val, test, ...)")
    file: str | None = Field(None, description="data file or DeePMD folder; relative to the task file")
    format: Format | None = Field(None, description="format of `file`: npz, extxyz or deepmd")
    periodic: bool | None = Field(None, description="for `file`: periodic cell (default: the file's pbc)")
    frames: tuple[int, int] | None = Field(None, description="only frames start … stop − 1 of the source")

    @field_validator("frames")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] < value[1]:
            raise ValueError(f"frames {list(value)} must satisfy 0 ≤ start < stop")
        return value

    @field_validator("dataset")
    @classmethod
    def _registered(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                get_dataset_spec(value)
            except UnknownNameError as error:
                raise ValueError(str(error)) from error
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> DataSource:
        if (self.dataset is None) == (self.file is None):
            raise ValueError("give either 'dataset' (with 'split') or 'file' (with 'format')")
        if self.dataset is not None:
            if self.split is None or self.format is not None or self.periodic is not None:
                raise ValueError(f"dataset '{self.dataset}': needs 'split', and takes no 'format'/'periodic'")
            if self.split not in get_dataset_spec(self.dataset).splits:
                known = ", ".join(get_dataset_spec(self.dataset).splits)
                raise ValueError(f"dataset '{self.dataset}' has no split '{self.split}'; splits: {known}")
        elif self.format is None or self.split is not None:
            raise ValueError(f"file '{self.file}': needs 'format' and takes no 'split'")
        return self

    @property
    def label(self) -> str:
        """Short human name: `dataset:split` or the file name, with the frame range."""
        base = f"{self.dataset}:{self.split}" if self.dataset else str(self.file)
        return base + (f"[{self.frames[0]}:{self.frames[1]}]" if self.frames else "")


class SystemSpec(DataSource):
    """A test source, evaluated, simulated (its first frames start the replicas) and scored on its own."""

    name: str | None = Field(None, description="label in results (default: the source label)")
    temperature_K: float | None = Field(None, gt=0, description="MD temperature, K (default: the data's)")
    oracle: str | None = Field(None, description="reference potential that labels any frame (EV/FV source a)")
    frame_spacing_fs: float | None = Field(
        None, gt=0, description="for `file`: time between frames of a contiguous trajectory (EV/FV source b)"
    )
    replay_horizon_fs: float | None = Field(
        None, gt=0, description="for `file`: EV/FV scoring horizon of reference mode, fs (default 20)"
    )

    @field_validator("oracle")
    @classmethod
    def _known_oracle(cls, value: str | None) -> str | None:
        if value is not None and value not in REFERENCE_POTENTIALS:
            raise ValueError(
                f"unknown reference potential '{value}'; known: {', '.join(REFERENCE_POTENTIALS)}"
            )
        return value

    @model_validator(mode="after")
    def _file_only_spacing(self) -> SystemSpec:
        for field in ("frame_spacing_fs", "replay_horizon_fs"):
            if getattr(self, field) is not None and self.dataset is not None:
                raise ValueError(f"'{field}' is for file sources; a dataset's comes from the registry")
        return self

    @property
    def system_name(self) -> str:
        return self.name or self.label


class ModeOverride(_Strict):
    """Settings of one run mode; in a task file, only the fields to change for that task."""

    model_preset: str | None = Field(None, description="model preset of architectures named on the CLI")
    replicas: int | None = Field(None, ge=1, description="MD replicas per test system (its first frames)")
    md: dict[str, Any] = Field(default_factory=dict, description="MD protocol fields (e.g. steps)")


class TaskSpec(_Strict):
    """One benchmark task; `version` changes whenever its data or splits change."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: int = Field(ge=1)
    kind: TaskKind
    description: str
    train: tuple[DataSource, ...] = Field(min_length=1)
    val: tuple[DataSource, ...] = Field(min_length=1)
    test: tuple[SystemSpec, ...] = Field(min_length=1)
    md: dict[str, Any] = Field(default_factory=dict, description="MD protocol fields shared by all modes")
    metrics: tuple[MetricGroup, ...] = METRIC_GROUPS
    modes: dict[Literal["dev", "standard", "paper"], ModeOverride] = Field(default_factory=dict)
    notes: str = ""

    @model_validator(mode="after")
    def _distinct_systems(self) -> TaskSpec:
        names = [system.system_name for system in self.test]
        if len(set(names)) != len(names):
            raise ValueError(f"test systems need distinct names, got {names}")
        return self
