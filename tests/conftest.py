"""Shared fixtures: where the offline copies of the real datasets live; the summation-order settings of the
run (torch threads, batch order: see summation_order.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from summation_order import batch_order_name, configured_threads

REPO_ROOT = Path(__file__).resolve().parents[1]
FOREIGN_TORCHSCRIPT_TESTS = "test_models_pretrained.py"


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


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a malformed summation-order setting before any test runs."""
    try:
        configured_threads()
        batch_order_name()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of foreign TorchScript models run last: nequip's own calculator must run its frozen model
    optimised, and once a scripted function has an optimised plan TorchScript keeps using it with
    optimisation off, which changes the last bits of later model calls in the process (docs/md.md) that the
    bitwise rerun comparisons of the runner tests would see."""
    items.sort(key=lambda item: item.path.name == FOREIGN_TORCHSCRIPT_TESTS)  # stable: order kept otherwise


def pytest_report_header(config: pytest.Config) -> str:
    threads = configured_threads() or "default"
    kernels = os.environ.get("ATEN_CPU_CAPABILITY") or "native"
    order = batch_order_name()
    return f"summation order: torch threads {threads}, batch order {order}, CPU kernels {kernels}"


@pytest.fixture(autouse=True)
def configured_torch_threads() -> None:
    """With $EGRAFFBENCH_TEST_THREADS set, every test starts with that many torch threads (a test that set
    its own count, e.g. through a job's executor, does not leak it into the next)."""
    threads = configured_threads()
    if threads is not None:
        import torch  # only then: most test modules need no torch

        torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def unoptimised_torchscript_in_tests() -> Iterator[None]:
    """The whole session runs TorchScript unoptimised, as egraffbench runs every model call: a test or
    fixture that calls e3nn, nequip or mace code directly (a layer's equivariance, a package's own
    calculator) would otherwise run it optimised, which changes the last bits of later model calls in the
    process (docs/md.md)."""
    from egraffbench.models import unoptimised_torchscript

    with unoptimised_torchscript():
        yield
