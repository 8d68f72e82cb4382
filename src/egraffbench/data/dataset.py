"""Loading a registered dataset split from the data root as validated `ase.Atoms` frames."""

from __future__ import annotations

from pathlib import Path

from ase import Atoms

from egraffbench.data.cache import data_root
from egraffbench.data.embedded import ensure_embedded
from egraffbench.data.loaders import count_frames, load_frames
from egraffbench.data.registry import DatasetSpec, get_dataset_spec
from egraffbench.errors import DatasetError


def split_paths(spec: DatasetSpec, split: str, root: Path) -> list[Path]:
    """Files (or DeePMD folders) under `root` that make up `split`."""
    return [root / part.path for part in spec.split(split).parts]


def split_available(spec: DatasetSpec, split: str, root: Path) -> bool:
    """True if every file of `split` is present under `root`."""
    return all(path.exists() for path in split_paths(spec, split, root))


def split_frame_count(spec: DatasetSpec, split: str, root: Path) -> int:
    """Number of frames of a present split, read cheaply from the files."""
    total = 0
    for part in spec.split(split).parts:
        start, stop = part.frame_range or (0, count_frames(root / part.path, part.format))
        total += stop - start
    return total


def _ensure_generated(spec: DatasetSpec, root: Path) -> None:
    if spec.generator == "embedded":
        ensure_embedded({split: root / spec.split(split).parts[0].path for split in spec.splits})


def _check_split(spec: DatasetSpec, split: str, frames: list[Atoms]) -> None:
    """Frame count, elements and atoms per frame against what the registry promises."""
    expected = spec.split(split).frames
    if expected is not None and len(frames) != expected:
        raise DatasetError(f"{spec.name} split '{split}': {len(frames)} frames, expected {expected}")
    symbols = {symbol for atoms in frames for symbol in atoms.symbols.species()}
    foreign = sorted(symbols - set(spec.elements))
    if foreign:
        raise DatasetError(
            f"{spec.name} split '{split}': elements {foreign} not in the registry's {spec.elements}"
        )
    if spec.atoms_per_frame is not None:
        sizes = {len(atoms) for atoms in frames}
        if sizes != {spec.atoms_per_frame}:
            found = sorted(sizes)
            raise DatasetError(
                f"{spec.name} split '{split}': frames of {found} atoms, expected {spec.atoms_per_frame}"
            )


def load_dataset(name: str, split: str = "train", root: Path | None = None) -> list[Atoms]:
    """Frames of `split` of the registered dataset `name`, reference energy (eV) and forces (eV/Å) attached.

    Reads from `root` (a folder laid out like the data root), else from the data root. The embedded dataset
    is generated there on first use. Missing data gives a DatasetError saying how to fetch it.
    """
    spec = get_dataset_spec(name)
    spec.split(split)
    root = data_root() if root is None else Path(root)
    _ensure_generated(spec, root)
    missing = [path for path in split_paths(spec, split, root) if not path.exists()]
    if missing:
        raise DatasetError(
            f"{name} split '{split}' is not in {root} ({missing[0].relative_to(root)} missing); "
            f"run `egraffbench data fetch {name}` (or add `--from DIR` for a local copy)"
        )
    frames: list[Atoms] = []
    for part in spec.split(split).parts:
        frames.extend(load_frames(root / part.path, part.format, spec.periodic, part.frame_range))
    _check_split(spec, split, frames)
    return frames
