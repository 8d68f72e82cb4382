"""The dataset registry: `datasets.yaml` (shipped beside this module) validated into `DatasetSpec` objects.

A dataset is data, not code: its sources (URL, checksums), splits (which file, which frames), units,
periodicity, MD temperature and provenance all live in the YAML. A *family* (LiPS20) expands into one
dataset per system, named `family/system`, plus the family itself as the union of its systems.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from ase.data import atomic_numbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from egraffbench.data.loaders import Format
from egraffbench.errors import ConfigError, UnknownNameError

REGISTRY_FILE = Path(__file__).with_name("datasets.yaml")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader reads the registry 10× faster
_HEX = {64: re.compile(r"^[0-9a-f]{64}$"), 40: re.compile(r"^[0-9a-f]{40}$")}


def _relative_path(value: str) -> str:
    """A forward-slash path inside the data root: not absolute, no `..`."""
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"{value!r} must be a relative path inside the data root, without '..'")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Units(_Model):
    """Units of every stored quantity; loaders never convert, so these are fixed."""

    energy: Literal["eV"] = "eV"
    forces: Literal["eV/Å"] = "eV/Å"
    length: Literal["Å"] = "Å"


class SourceSpec(_Model):
    """One public file: where to get it, where it lands in the data root, and how to verify it."""

    file: str = Field(description="path of the verified download inside the data root")
    url: str
    sha256: str | None = None
    sha256_from: Literal["published", "public-file", "offline-copy"] | None = Field(
        None,
        description="published by the source; computed from the public file; or computed from an offline "
        "copy whose git blob SHA-1 equals the public one (byte-identical)",
    )
    git_blob_sha1: str | None = Field(None, description="SHA-1 of the git blob in the public repository tree")
    bytes: int | None = Field(None, ge=0)
    unpack: Literal["bz2", "tar", "zip"] | None = None
    unpack_to: str | None = Field(None, description="bz2: the decompressed file; tar/zip: the folder to fill")

    @field_validator("file", "unpack_to")
    @classmethod
    def _inside_root(cls, value: str | None) -> str | None:
        return None if value is None else _relative_path(value)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceSpec:
        for name, length in (("sha256", 64), ("git_blob_sha1", 40)):
            value = getattr(self, name)
            if value is not None and not _HEX[length].match(value):
                raise ValueError(f"{name} must be {length} lower-case hex digits, got {value!r}")
        if self.sha256 is None and self.git_blob_sha1 is None:
            raise ValueError(
                f"{self.file}: needs sha256 or git_blob_sha1; unverified downloads are not allowed"
            )
        if (self.sha256 is None) != (self.sha256_from is None):
            raise ValueError(f"{self.file}: sha256 and sha256_from go together")
        if (self.unpack is None) != (self.unpack_to is None):
            raise ValueError(f"{self.file}: unpack and unpack_to go together")
        return self

    @property
    def output(self) -> str:
        """What the loaders read: the unpacked file/folder, else the download itself."""
        return self.unpack_to or self.file


class SplitPart(_Model):
    """A file (or DeePMD folder) of a split, optionally only frames [start, stop)."""

    path: str
    format: Format
    frame_range: tuple[int, int] | None = None

    @field_validator("path")
    @classmethod
    def _inside_root(cls, value: str) -> str:
        return _relative_path(value)

    @field_validator("frame_range")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 0 <= value[0] < value[1]:
            raise ValueError(f"frame_range {value} must satisfy 0 ≤ start < stop")
        return value


class SplitSpec(_Model):
    """A named split; in YAML `path`/`format`/`frame_range` for one file, or `parts` for several."""

    parts: tuple[SplitPart, ...]
    frames: int | None = Field(None, ge=1, description="expected number of frames (checked on load) if known")
    contiguous: bool = Field(False, description="consecutive frames of one trajectory, in time order")
    temperature_K: float | None = Field(None, gt=0, description="temperature the frames were sampled at")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _single_part(cls, data: object) -> object:
        if isinstance(data, dict) and "path" in data:
            data = dict(data)
            part = {key: data.pop(key) for key in ("path", "format", "frame_range") if key in data}
            data["parts"] = [part]
        return data


class DatasetSpec(_Model):
    """Everything egraffbench knows about one dataset."""

    name: str
    description: str
    periodic: bool = Field(description="periodic boundary conditions; molecules in a box are not periodic")
    temperature_K: float = Field(gt=0, description="temperature of the benchmark MD for this dataset")
    temperature_note: str = ""
    test_frame_spacing_fs: float | None = Field(
        None, gt=0, description="time between test frames when the test split is one contiguous trajectory"
    )
    replay_horizon_fs: float | None = Field(
        None, gt=0, description="EV/FV scoring horizon of reference-trajectory mode, fs (docs/metrics.md)"
    )
    oracle: str | None = Field(None, description="reference potential that generated the data, if any")
    elements: tuple[str, ...]
    atoms_per_frame: int | None = Field(None, ge=1)
    splits: dict[str, SplitSpec]
    sources: tuple[SourceSpec, ...] = ()
    members: tuple[str, ...] = Field((), description="datasets this one is the union of (a family)")
    generator: Literal["embedded"] | None = Field(None, description="generated locally instead of downloaded")
    origin: tuple[str, ...] = Field((), description="provenance URLs (original publications of the data)")
    citation: str
    licence: str
    units: Units = Units()
    notes: str = ""

    @field_validator("elements")
    @classmethod
    def _known_elements(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [symbol for symbol in value if atomic_numbers.get(symbol, 0) < 1]
        if unknown:
            raise ValueError(f"unknown element symbol(s) {unknown}")
        return value

    @model_validator(mode="after")
    def _has_data(self) -> DatasetSpec:
        if not self.splits:
            raise ValueError(f"{self.name}: no splits")
        if not self.sources and self.generator is None:
            raise ValueError(f"{self.name}: needs sources or a generator")
        return self

    @property
    def split_names(self) -> list[str]:
        """Names of the splits, in registry order."""
        return list(self.splits)

    def split(self, name: str) -> SplitSpec:
        """The split called `name`; UnknownNameError listing the available ones otherwise."""
        if name not in self.splits:
            raise UnknownNameError(
                f"dataset '{self.name}' has no split '{name}'; available: {', '.join(self.splits)}"
            )
        return self.splits[name]


class _FamilySystem(_Model):
    path: str
    elements: tuple[str, ...]
    atoms_per_frame: int
    sources: tuple[SourceSpec, ...]
    description: str = ""


class _FamilyEntry(_Model):
    """Fields shared by every system of a family, plus the systems and their frame-range splits."""

    description: str
    periodic: bool
    temperature_K: float
    temperature_note: str = ""
    test_frame_spacing_fs: float | None = None
    format: Format
    split_frames: dict[str, tuple[int, int]]
    split_description: str = ""
    citation: str
    licence: str
    origin: tuple[str, ...] = ()
    notes: str = ""
    systems: dict[str, _FamilySystem]


class _RegistryFile(_Model):
    version: Literal[1]
    datasets: dict[str, DatasetSpec]
    families: dict[str, _FamilyEntry] = {}


def _expand_family(name: str, family: _FamilyEntry) -> list[DatasetSpec]:
    """One DatasetSpec per system (`name/system`) and one for the whole family."""
    shared = family.model_dump(
        include={
            "periodic",
            "temperature_K",
            "temperature_note",
            "test_frame_spacing_fs",
            "citation",
            "licence",
        }
        | {"origin", "notes"}
    )
    members = []
    for system_name, system in family.systems.items():
        splits = {
            split: SplitSpec(
                parts=(SplitPart(path=system.path, format=family.format, frame_range=frames),),
                frames=frames[1] - frames[0],
                description=family.split_description,
            )
            for split, frames in family.split_frames.items()
        }
        description = f"{family.description}: {system_name}" + (
            f" ({system.description})" if system.description else ""
        )
        members.append(
            DatasetSpec(
                name=f"{name}/{system_name}",
                description=description,
                elements=system.elements,
                atoms_per_frame=system.atoms_per_frame,
                splits=splits,
                sources=system.sources,
                **shared,
            )
        )
    union_splits = {
        split: SplitSpec(
            parts=tuple(part for member in members for part in member.splits[split].parts),
            frames=sum(member.splits[split].frames or 0 for member in members),
            description=family.split_description,
        )
        for split in family.split_frames
    }
    elements = sorted({e for member in members for e in member.elements}, key=lambda s: atomic_numbers[s])
    whole = DatasetSpec(
        name=name,
        description=f"{family.description}: all {len(members)} systems",
        elements=tuple(elements),
        splits=union_splits,
        sources=tuple(source for member in members for source in member.sources),
        members=tuple(member.name for member in members),
        **shared,
    )
    return [*members, whole]


class Registry:
    """Datasets by name, with close-match suggestions for unknown names."""

    def __init__(self, specs: list[DatasetSpec]) -> None:
        self._specs = {spec.name: spec for spec in specs}

    def names(self) -> list[str]:
        """All dataset names, in registry order."""
        return list(self._specs)

    def get(self, name: str) -> DatasetSpec:
        """The spec of `name`; UnknownNameError naming close matches otherwise."""
        if name in self._specs:
            return self._specs[name]
        close = difflib.get_close_matches(name, self._specs, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UnknownNameError(
            f"unknown dataset '{name}'; {hint}see `egraffbench data list` ({len(self._specs)} known)"
        )


def load_registry(path: Path = REGISTRY_FILE) -> Registry:
    """Read and validate a registry YAML file; ConfigError naming the field if it is invalid."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read dataset registry ({error})") from error
    if isinstance(raw, dict):
        for key, entry in (raw.get("datasets") or {}).items():
            if isinstance(entry, dict):
                entry.setdefault("name", key)
    try:
        parsed = _RegistryFile.model_validate(raw)
        specs = list(parsed.datasets.values())
        for name, family in parsed.families.items():
            specs.extend(_expand_family(name, family))
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(item) for item in first["loc"])
        raise ConfigError(
            f"{path}: field '{where}': {first['msg']} ({error.error_count()} problem(s))"
        ) from error
    return Registry(specs)


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """The registry shipped with egraffbench (read once)."""
    return load_registry()


def get_dataset_spec(name: str) -> DatasetSpec:
    """The registered dataset `name` (e.g. `md17-aspirin`, `lips20/Li7P3S11`); UnknownNameError otherwise."""
    return default_registry().get(name)


def list_datasets() -> list[str]:
    """Names of all registered datasets."""
    return default_registry().names()
