"""Torch's intra-op thread count is part of a result's numerics: with more threads torch splits sums and
matrix products differently, so one model's training gradients (torchmdnet, mace) and MD forces (mace) on
md17-aspirin differ in the last bits between 1 and 2 threads, and training and MD, being chaotic, turn that
into other models and other trajectories. Every computation that produces a stored number runs with
:data:`RESULT_TORCH_THREADS` threads, whatever the machine's core count; parallelism comes from running
jobs side by side (`egraffbench run --workers N`), never from splitting one job's sums."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

RESULT_TORCH_THREADS = 1


def pin_torch_threads(threads: int = RESULT_TORCH_THREADS) -> None:
    """Set torch's intra-op threads of this process to ``threads`` (the results' count by default)."""
    torch.set_num_threads(threads)


@contextmanager
def result_threads(threads: int = RESULT_TORCH_THREADS) -> Iterator[None]:
    """Torch's intra-op threads set to ``threads`` inside, restored after (a library call must not leave
    its caller's process single-threaded)."""
    previous = torch.get_num_threads()
    pin_torch_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
