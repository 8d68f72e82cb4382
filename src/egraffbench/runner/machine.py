"""What the machine that computed a result was, as far as its numbers depend on it: the CPU model and the
vector extensions numpy found on it. numpy and torch pick their loops at run time from these (AVX2 or
AVX-512 kernels round some sums and functions differently), so the same command gives the same bits on
CPUs with the same vector units (docs/md.md, "What batch independence guarantees"); a run records them."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

CPUINFO = Path("/proc/cpuinfo")


def _processor() -> str:
    """The processor type `platform` knows, else the machine type (`platform.processor()` is often empty)."""
    return platform.processor() or platform.machine()


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name as Linux reports it, else the processor or machine type `platform` knows."""
    try:
        lines = cpuinfo.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return _processor()


def numpy_vector_units() -> list[str]:
    """numpy's baseline SIMD groups and those it found on this CPU: the ones its loops are chosen from."""
    simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    return [*simd.get("baseline", []), *simd.get("found", [])]


def describe_machine() -> dict[str, Any]:
    """Platform, CPU model, core count, Python and numpy's vector units of this machine."""
    return {
        "platform": platform.platform(),
        "processor": _processor(),
        "cpu_model": cpu_model(),
        "numpy_vector_units": numpy_vector_units(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
