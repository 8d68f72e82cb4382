"""A report's independent calls — its figures (a `report.plots` function returning PNG bytes; matplotlib draws
on one core) and its leaderboard rows' summaries (one per model and task, bootstrap intervals) — made in
worker processes when the machine has spare cores, else in this process. The results are the same either
way: the same function runs on the same data."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


# The calls of the running call_all, which forked workers inherit: they are sent an index, not the call, so
# a call's data (a summary's job results: every test structure's errors) is never pickled.
_calls: Sequence[Callable[[], Any]] = ()


def _call_at(index: int) -> Any:
    return _calls[index]()


def _workers(count: int) -> int:
    """Processes worth starting for ``count`` calls: one per core this process may use, at most one per
    call. 1 (draw here) where fork is not available (it shares the imported matplotlib for free), or where
    forking is unsafe: a process with other threads or with torch loaded (its thread pools), such as
    `egraffbench run` writing its report at the end; `egraffbench report` has neither."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1 or "torch" in sys.modules:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, count))


def call_all(calls: Sequence[Callable[[], T]], workers: int | None = None) -> list[T]:
    """What every call returns, in order (results must pickle when there are workers; calls need not)."""
    global _calls
    workers = _workers(len(calls)) if workers is None else workers
    if workers <= 1:
        return [call() for call in calls]
    _calls = calls
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_call_at, range(len(calls))))
    finally:
        _calls = ()
