"""Shared fixtures: where the offline copies of the real datasets live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_datasets_dir() -> Path:
    """The offline dataset folder: $EGRAFFBENCH_SHARED_DATASETS, else ../shared/datasets beside the repo."""
    return Path(os.environ.get("EGRAFFBENCH_SHARED_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """Path of the offline EGraFFBench datasets; skips the test when that folder is absent."""
    folder = shared_datasets_dir()
    if not folder.is_dir():
        pytest.skip(f"offline datasets not found at {folder} (set EGRAFFBENCH_SHARED_DATASETS)")
    return folder


@pytest.fixture
def data_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty dataset cache folder, set as EGRAFFBENCH_DATA for the test."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("EGRAFFBENCH_DATA", str(cache))
    return cache
