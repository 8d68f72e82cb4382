"""Tests on real file systems without root: a tmpfs mounted in the test's own user and mount namespaces
(`unshare -rm`), to fill up or to make read-only. Machines that do not allow such namespaces skip them."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _allowed() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_mount_namespace = pytest.mark.skipif(
    not _allowed(), reason="needs `unshare -rm` (user and mount namespaces) to mount a tmpfs"
)


def run_in_namespace(script: str) -> None:
    """Run the bash ``script`` as root of a new user and mount namespace (its mounts vanish with it)."""
    subprocess.run(["unshare", "-rm", "bash", "-c", script], check=True, capture_output=True)
