"""Drawing a report's figures: each is a call of a `report.plots` function that returns PNG bytes, made in
worker processes when the machine has spare cores (matplotlib draws on one core; the seven figures of a task
are independent), else in this process. The bytes are the same either way: the same function runs on the
same data."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

Drawing = Callable[[], bytes]


def _draw(drawing: Drawing) -> bytes:
    return drawing()


def _workers(count: int) -> int:
    """Processes worth starting for ``count`` figures: one per core this process may use, at most one per
    figure. 1 (draw here) where fork is not available (it shares the imported matplotlib for free), or where
    forking is unsafe: a process with other threads or with torch loaded (its thread pools), such as
    `egraffbench run` writing its report at the end; `egraffbench report` has neither."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if threading.active_count() > 1 or "torch" in sys.modules:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, count))


def draw_all(drawings: Sequence[Drawing], workers: int | None = None) -> list[bytes]:
    """The PNG bytes of every drawing, in order."""
    workers = _workers(len(drawings)) if workers is None else workers
    if workers <= 1:
        return [drawing() for drawing in drawings]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_draw, drawings))
