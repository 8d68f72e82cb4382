"""Settings of a test run that change the floating-point summation order, so that CI can show the suite does
not depend on one machine (read in conftest.py and by the tests that build batches):

- ``EGRAFFBENCH_TEST_THREADS=N``: torch runs every test with N intra-op threads, also the tests that would
  otherwise pin one thread (MD, runner);
- ``EGRAFFBENCH_TEST_BATCH_ORDER=permuted``: replicas and structures enter the batches of the MD engine and
  model conformance tests rotated by one (1, 2, …, 0), so each sits at another offset of every tensor; the
  tests compare by replica id, so the expected results do not change.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

THREADS_VARIABLE = "EGRAFFBENCH_TEST_THREADS"
ORDER_VARIABLE = "EGRAFFBENCH_TEST_BATCH_ORDER"
ORDERS = ("given", "permuted")

Item = TypeVar("Item")


def configured_threads() -> int | None:
    """$EGRAFFBENCH_TEST_THREADS as a count, None when unset; ValueError when not a positive integer."""
    text = os.environ.get(THREADS_VARIABLE, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{THREADS_VARIABLE} must be a positive integer, got {text!r}")
    return int(text)


def torch_threads(default: int) -> int:
    """Threads a test that would use ``default`` runs with: $EGRAFFBENCH_TEST_THREADS when set."""
    threads = configured_threads()
    return default if threads is None else threads


def batch_order_name() -> str:
    """'given' or 'permuted' from $EGRAFFBENCH_TEST_BATCH_ORDER (default 'given'); ValueError otherwise."""
    name = os.environ.get(ORDER_VARIABLE, "").strip() or "given"
    if name not in ORDERS:
        raise ValueError(f"{ORDER_VARIABLE} must be one of {', '.join(ORDERS)}, got {name!r}")
    return name


def batch_order(count: int) -> list[int]:
    """Indices of ``count`` items in the order they enter a batch in this test run."""
    order = list(range(count))
    return order[1:] + order[:1] if batch_order_name() == "permuted" else order


def in_batch_order(items: Sequence[Item]) -> list[Item]:
    """``items`` in this run's batch order (undo with :func:`in_given_order`)."""
    return [items[index] for index in batch_order(len(items))]


def in_given_order(items: Sequence[Item]) -> list[Item]:
    """Items produced in batch order, put back in the given order."""
    restored: list = [None] * len(items)
    for item, index in zip(items, batch_order(len(items)), strict=True):
        restored[index] = item
    return restored
