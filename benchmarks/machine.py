"""What the benchmarks print about the machine they ran on."""

from __future__ import annotations

import os

import torch


def describe(device: str) -> str:
    """The GPU's name, or the CPU thread count and load (figures taken under load are upper bounds)."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"CPU, {torch.get_num_threads()} threads, load average {os.getloadavg()[1]:.1f} (5 min)"
