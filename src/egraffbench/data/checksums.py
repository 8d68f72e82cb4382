"""Verifying a file against the checksums the registry records (sha256, git blob SHA-1, size)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from egraffbench.data.registry import SourceSpec
from egraffbench.errors import ChecksumError

_CHUNK = 1 << 20


def file_digests(path: Path) -> tuple[str, str]:
    """(sha256, git blob SHA-1) of a file, read once; the blob hash is SHA-1 of `blob <size>\\0` + content."""
    sha256 = hashlib.sha256()
    git_sha1 = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha256.update(chunk)
            git_sha1.update(chunk)
    return sha256.hexdigest(), git_sha1.hexdigest()


def verify_file(path: Path, source: SourceSpec) -> None:
    """ChecksumError unless `path` matches every checksum `source` records; `path` may be a temporary copy."""
    size = path.stat().st_size
    if source.bytes is not None and size != source.bytes:
        raise ChecksumError(f"{source.file}: size {size} bytes, expected {source.bytes} (from {source.url})")
    sha256, git_sha1 = file_digests(path)
    if source.sha256 is not None and sha256 != source.sha256:
        raise ChecksumError(f"{source.file}: sha256 {sha256}, expected {source.sha256} (from {source.url})")
    if source.git_blob_sha1 is not None and git_sha1 != source.git_blob_sha1:
        raise ChecksumError(
            f"{source.file}: git blob SHA-1 {git_sha1}, expected {source.git_blob_sha1} (from {source.url})"
        )


def is_verified(path: Path, source: SourceSpec) -> bool:
    """True if `path` exists and matches `source`'s checksums."""
    if not path.is_file():
        return False
    try:
        verify_file(path, source)
    except ChecksumError:
        return False
    return True
