"""Content-addressed stage outputs: `<root>/<stage>/<key>/` holds a stage's artifacts, the inputs it was keyed
on (`inputs.json`) and, written last, its `result.json`: a stage is finished exactly when that file exists.

A file lock per key folder lets concurrent workers that need the same stage (e.g. two tasks sharing a
training set) compute it once: the second waits, then reuses the first's result.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from egraffbench.fileio import atomic_write_json

RESULT_FILE = "result.json"
INPUTS_FILE = "inputs.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StageCache:
    """Stage outputs under ``root``, one folder per (stage, key)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, stage: str, key: str) -> Path:
        """Where the outputs of ``stage`` for ``key`` live."""
        return self.root / stage / key

    def result(self, stage: str, key: str) -> dict[str, Any] | None:
        """The finished result of (stage, key), or None."""
        path = self.folder(stage, key) / RESULT_FILE
        return json.loads(path.read_text()) if path.is_file() else None

    def get_or_compute(
        self, stage: str, key: str, inputs: dict[str, Any], compute: Callable[[Path], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """The result of (stage, key) and whether it was reused; ``compute(folder)`` runs if it is missing.

        ``compute`` may find partial outputs of an interrupted earlier attempt in its folder and resume them.
        """
        cached = self.result(stage, key)
        if cached is not None:
            return cached, True
        folder = self.folder(stage, key)
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".lock"):
            cached = self.result(stage, key)
            if cached is not None:
                return cached, True
            atomic_write_json(folder / INPUTS_FILE, inputs)
            result = compute(folder)
            atomic_write_json(folder / RESULT_FILE, result)
        return json.loads((folder / RESULT_FILE).read_text()), False
