"""Unpacking verified downloads (bz2, tar, zip) atomically, refusing members that would land outside."""

from __future__ import annotations

import bz2
import shutil
import tarfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Literal

from egraffbench.data.cache import atomic_path
from egraffbench.errors import DatasetError

ArchiveKind = Literal["bz2", "tar", "zip"]


def unpack(archive: Path, kind: ArchiveKind, target: Path) -> None:
    """Decompress (bz2) to the file `target`, or extract (tar/zip) into the folder `target`.

    Nothing appears at `target` unless the whole archive unpacked cleanly.
    """
    with atomic_path(target) as temporary:
        if kind == "bz2":
            _decompress_bz2(archive, temporary)
        elif kind == "tar":
            _extract_tar(archive, temporary)
        else:
            _extract_zip(archive, temporary)


def _decompress_bz2(archive: Path, output: Path) -> None:
    try:
        with bz2.open(archive, "rb") as source, output.open("wb") as destination:
            shutil.copyfileobj(source, destination, 1 << 20)
    except (OSError, EOFError, ValueError) as error:
        raise DatasetError(f"{archive.name}: not a valid bz2 file ({error})") from error


def _extract_tar(archive: Path, folder: Path) -> None:
    folder.mkdir()
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")  # rejects absolute paths, '..', links leaving the folder
    except tarfile.FilterError as error:
        raise DatasetError(f"{archive.name}: unsafe member rejected ({error})") from error
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetError(f"{archive.name}: unreadable tar archive ({error})") from error


def _extract_zip(archive: Path, folder: Path) -> None:
    folder.mkdir()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                parts = PurePosixPath(member.replace("\\", "/")).parts
                if member.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise DatasetError(
                        f"{archive.name}: unsafe member {member!r} would be written outside {folder}"
                    )
            zipped.extractall(folder)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise DatasetError(f"{archive.name}: unreadable zip archive ({error})") from error
