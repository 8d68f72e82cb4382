"""What the machine that computed a result was, as far as its numbers depend on it: the CPU model, its
vector extensions and the ones numpy and torch chose from. numpy and torch pick their loops at run time (AVX2
or AVX-512 kernels round some sums and functions differently; environment variables can pin them), so the
same command gives the same bits with the same vector units (docs/md.md, "What batch independence
guarantees"); a run records them."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import torch

CPUINFO = Path("/proc/cpuinfo")
# Environment variables that make torch or numpy choose other kernels than the CPU offers (docs/md.md)
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")
VECTOR_FLAG_PREFIXES = ("avx", "amx", "fma", "sse", "ssse")


def _processor() -> str:
    """The processor type `platform` knows, else the machine type (`platform.processor()` is often empty)."""
    return platform.processor() or platform.machine()


def _cpuinfo_field(key: str, cpuinfo: Path) -> str:
    """The first non-empty value of ``key`` in Linux's cpuinfo; empty where the file or the key is absent."""
    try:
        lines = cpuinfo.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == key and value.strip():
            return value.strip()
    return ""


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU's model name as Linux reports it, else the processor or machine type `platform` knows."""
    return _cpuinfo_field("model name", cpuinfo) or _processor()


def cpu_vector_extensions(cpuinfo: Path = CPUINFO) -> list[str]:
    """The x86 vector extensions (SSE, AVX, FMA, AMX flags) Linux lists for the CPU, whatever the kernels
    chosen; empty where cpuinfo is absent or lists none (other architectures)."""
    flags = _cpuinfo_field("flags", cpuinfo).split()
    return sorted(flag for flag in flags if flag.startswith(VECTOR_FLAG_PREFIXES))


def numpy_vector_units() -> list[str]:
    """numpy's baseline SIMD groups and those it found on this CPU: the ones its loops are chosen from."""
    simd = np.show_config(mode="dicts").get("SIMD Extensions", {})
    return [*simd.get("baseline", []), *simd.get("found", [])]


def cpu_record() -> dict[str, Any]:
    """What a run's numbers were computed on: the CPU model and its vector extensions, the vector units
    numpy's loops and torch's kernels were chosen from in this process, and the environment variables
    (`KERNEL_VARIABLES`) that pinned them, as this process's environment holds them."""
    return {
        "model": cpu_model(),
        "vector_extensions": cpu_vector_extensions(),
        "numpy_vector_units": numpy_vector_units(),
        "torch_kernels": torch.backends.cpu.get_cpu_capability(),
        "pinned_by": {name: os.environ[name] for name in KERNEL_VARIABLES if name in os.environ},
    }


def describe_machine() -> dict[str, Any]:
    """Platform, CPU model and vector extensions, core count, Python and numpy's vector units here."""
    return {
        "platform": platform.platform(),
        "processor": _processor(),
        "cpu_model": cpu_model(),
        "cpu_vector_extensions": cpu_vector_extensions(),
        "numpy_vector_units": numpy_vector_units(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
