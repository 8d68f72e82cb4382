"""What computing a stage costs: wall and CPU time of the attempt, torch threads and machine load around it,
plus the seconds of interrupted earlier attempts that the stage reports as carried by its checkpoint."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from egraffbench.store.schema import StageCost

CARRIED = "earlier_seconds"  # key of a stage's result: seconds of earlier attempts its checkpoint carried
CARRIED_CPU = "earlier_cpu_seconds"  # their CPU seconds; None where the checkpoint did not carry them


def measured(compute: Callable[[Path], dict[str, Any]], folder: Path) -> dict[str, Any]:
    """``compute(folder)``'s result with its ``cost`` (a StageCost as JSON); the result's CARRIED and
    CARRIED_CPU entries, if any, move into the cost."""
    load_start, threads = os.getloadavg()[0], torch.get_num_threads()
    clock, cpu = time.perf_counter(), time.process_time()
    result = dict(compute(folder))
    attempt, cpu_seconds = time.perf_counter() - clock, time.process_time() - cpu
    earlier, earlier_cpu = float(result.pop(CARRIED, 0.0)), result.pop(CARRIED_CPU, 0.0)
    cost = StageCost(
        compute_seconds=attempt + earlier,
        attempt_seconds=attempt,
        earlier_seconds=earlier,
        earlier_cpu_seconds=earlier_cpu,
        cpu_seconds=cpu_seconds,
        torch_threads=threads,
        load_start=load_start,
        load_end=os.getloadavg()[0],
    )
    return {**result, "cost": cost.model_dump(mode="json")}
