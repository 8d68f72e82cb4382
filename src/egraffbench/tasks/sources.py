"""Turning a task's data sources into files and frames, and a test system into its MD conditions
(temperature, periodicity, and which reference can score energy/force violations)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ase import Atoms

from egraffbench.data import fetch_dataset, get_dataset_spec, load_dataset
from egraffbench.data.dataset import split_available, split_paths
from egraffbench.data.loaders import load_frames
from egraffbench.errors import ConfigError, DatasetError
from egraffbench.tasks.schema import DataSource, SystemSpec


def source_files(source: DataSource, root: Path) -> list[Path]:
    """The files (or DeePMD folders) ``source`` reads; registry paths are under the data root ``root``."""
    if source.file is not None:
        return [Path(source.file)]
    return split_paths(get_dataset_spec(source.dataset), source.split, root)


def ensure_available(source: DataSource, root: Path, may_download: bool) -> bool:
    """Make the files of ``source`` present under ``root``; True if something had to be fetched.

    A generated dataset is generated; a registered one is downloaded only when ``may_download`` (the
    default data root), else a DatasetError says what is missing. A file source must exist.
    """
    if source.file is not None:
        if not Path(source.file).exists():
            raise DatasetError(f"{source.file}: data file of the task not found")
        return False
    spec = get_dataset_spec(source.dataset)
    if split_available(spec, source.split, root):
        return False
    if spec.generator is None and not may_download:
        missing = next(path for path in split_paths(spec, source.split, root) if not path.exists())
        raise DatasetError(
            f"{source.dataset} split '{source.split}' is not in {root} ({missing.name} missing); "
            f"run `egraffbench data fetch {source.dataset}` or use another --data-root"
        )
    fetch_dataset(source.dataset, root=root)
    if not split_available(spec, source.split, root):
        raise DatasetError(f"{source.dataset} split '{source.split}' is still missing after fetching it")
    return True


def load_source(source: DataSource, root: Path) -> list[Atoms]:
    """The frames of ``source`` (energies eV, forces eV/Å attached)."""
    if source.file is not None:
        path = Path(source.file)
        return load_frames(path, source.format, source.periodic, source.frames)
    frames = load_dataset(source.dataset, source.split, root=root)
    if source.frames is None:
        return frames
    start, stop = source.frames
    if stop > len(frames):
        raise DatasetError(
            f"{source.dataset} split '{source.split}' holds {len(frames)} frames; "
            f"the task asks for frames {start}–{stop - 1}"
        )
    return frames[start:stop]


def load_sources(sources: tuple[DataSource, ...], root: Path) -> list[Atoms]:
    """The frames of several sources, concatenated in order."""
    return [atoms for source in sources for atoms in load_source(source, root)]


@dataclass(frozen=True)
class SystemConditions:
    """How a test system is simulated and scored."""

    name: str
    temperature_K: float
    periodic: bool
    oracle: str | None  # reference potential that can label any simulated frame
    frame_spacing_fs: float | None  # spacing of the test frames when they are one contiguous trajectory
    replay_horizon_fs: float | None = None  # reference mode: EV/FV scoring horizon τ (runner.replay)


def system_conditions(
    system: SystemSpec, frames: list[Atoms], md_temperature_K: float | None
) -> SystemConditions:
    """Conditions of ``system``: temperature from the system, else the run settings, else the data."""
    if not frames:
        raise DatasetError(f"test system '{system.system_name}' has no frames")
    if system.dataset is not None:
        spec = get_dataset_spec(system.dataset)
        split = spec.split(system.split)
        data_temperature = split.temperature_K or spec.temperature_K
        periodic = spec.periodic
        oracle = system.oracle or spec.oracle
        spacing = spec.test_frame_spacing_fs if split.contiguous else None
        horizon = spec.replay_horizon_fs
    else:
        data_temperature = None
        periodic = bool(frames[0].pbc.all())
        oracle, spacing, horizon = system.oracle, system.frame_spacing_fs, system.replay_horizon_fs
    temperature = system.temperature_K or md_temperature_K or data_temperature
    if temperature is None:
        raise ConfigError(f"test system '{system.system_name}': no MD temperature (set its temperature_K)")
    return SystemConditions(system.system_name, float(temperature), periodic, oracle, spacing, horizon)
