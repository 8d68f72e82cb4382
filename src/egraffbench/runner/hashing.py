"""Content keys: a stable hash of a stage's inputs, and checksums of data files and folders.

A key changes when anything the stage reads changes (configuration, data bytes, the stage's code version),
and only then; the stage's output is stored under it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from egraffbench import __version__
from egraffbench.errors import DatasetError

# Version of each stage's code: bump one when its results would change for the same inputs (the models and
# trainer included: a change in what a saved model holds means bumping "train"), so that runs recompute that
# stage and the stages after it instead of reusing stale outputs. Keys also hold the package version.
STAGE_VERSIONS: dict[str, int] = {
    "baselines": 1,
    "train": 3,
    "evaluate": 3,
    "simulate": 2,
    "replay": 2,
    "score": 7,
}
# Version of an architecture's numerics, for changes that alter one model's numbers and not the others'
# (so that only its results are recomputed): keyed into its train stage (and a pretrained model's
# identity) only when listed here, which leaves every other architecture's keys as they were.
# 2: TorchScript runs unoptimised (base.py), which removed a first-call difference in the last bits, and,
# for equiformer, a difference made by other models' optimised calls earlier in the same process (e3nn's
# scripted functions are shared between models; torchmdnet uses none and is left unlisted).
# 3 (botnet): the smooth cutoff envelope scales its interaction weights; before, its energy jumped where a
# pair crossed the cutoff (mace_adapter.py, BOTNetForceField). 3 (equiformer): its envelope is evaluated
# factored; the expanded polynomial rounded to negative weights within 1e-5 Å of the cutoff (radial.py).
ARCHITECTURE_VERSIONS: dict[str, int] = {
    "nequip": 2,
    "allegro": 2,
    "mace": 2,
    "botnet": 3,
    "equiformer": 3,
    "pretrained-nequip": 2,
    "pretrained-mace": 2,
}
# Packages whose version can change what a stage computes for the same inputs (numerics of torch, the
# architectures' implementations); each is part of every stage key.
KEYED_PACKAGES = ("torch", "e3nn", "mace-torch", "nequip", "nequip-allegro", "torchmd-net", "ase")
KEY_LENGTH = 20  # hex digits kept in folder names (80 bits)
_CHUNK = 1 << 20
_file_digests: dict[tuple[str, int, int], str] = {}


def stable_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys), shortened to KEY_LENGTH hex digits."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


@cache
def package_versions() -> dict[str, str | None]:
    """Installed version of each of KEYED_PACKAGES (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in KEYED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def stage_key(stage: str, inputs: dict[str, Any]) -> str:
    """The cache key of ``stage`` for ``inputs``; its code version is the package version and the stage's,
    plus the versions of torch and the model packages."""
    return stable_hash(
        {
            "stage": stage,
            "version": [__version__, STAGE_VERSIONS[stage]],
            "packages": package_versions(),
            "inputs": inputs,
        }
    )


def placement(device: str) -> dict[str, str]:
    """The key entry of where a stage computes: empty on the CPU (so CPU keys are what they always were),
    else the device type ({"device": "cuda"}). Another device sums in another order and draws MD noise from
    its own generator, so its numbers are another result, cached under other keys; devices of one type share
    them (as CPUs of different vector units do)."""
    kind = str(device).partition(":")[0]  # cuda:1 → cuda (as torch.device(...).type)
    return {} if kind == "cpu" else {"device": kind}


def architecture_version(architecture: str) -> dict[str, int]:
    """The key entry of an architecture's numerics version: empty unless ARCHITECTURE_VERSIONS lists it."""
    listed = ARCHITECTURE_VERSIONS.get(architecture)
    return {} if listed is None else {"architecture_version": listed}


def numerics_version(architecture: str) -> int:
    """An architecture's numerics version as results record it: its ARCHITECTURE_VERSIONS entry, 1 where
    unlisted (its numbers never changed)."""
    return ARCHITECTURE_VERSIONS.get(architecture, 1)


def file_checksum(path: Path) -> str:
    """sha256 of a file's bytes, remembered per (path, size, mtime) within the process."""
    status = path.stat()
    memo = (str(path.resolve()), status.st_size, status.st_mtime_ns)
    if memo not in _file_digests:
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        _file_digests[memo] = digest.hexdigest()
    return _file_digests[memo]


def data_checksum(path: Path) -> str:
    """Checksum of a data file, or of every file in a folder (DeePMD layout) with its relative path."""
    if path.is_file():
        return file_checksum(path)
    if not path.is_dir():
        raise DatasetError(f"{path}: data file or folder not found")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return stable_hash({str(p.relative_to(path)): file_checksum(p) for p in files})
