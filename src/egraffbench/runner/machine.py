"""What the machine that computed a result was, as far as its numbers depend on it: the CPU model, its
vector extensions and the ones numpy and torch chose from. numpy and torch pick their loops at run time (AVX2
or AVX-512 kernels round some sums and functions differently; environment variables can pin them), so the
same command gives the same bits with the same vector units (docs/md.md, "What batch independence
guarantees"); a run records them."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

CPUINFO = Path("/proc/cpuinfo")
# Environment variables that make torch or numpy choose other kernels than the CPU offers (docs/md.md)
KERNEL_VARIABLES = ("ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "NPY_ENABLE_CPU_FEATURES")
VECTOR_FLAG_PREFIXES = ("avx", "amx", "fma", "sse", "ssse")
# The cpuinfo flags torch checks before it chooses its kernels of each capability (compute_cpu_capability in
# ATen's native/DispatchStub.cpp); DEFAULT, its scalar kernels, runs everywhere
TORCH_KERNEL_FLAGS = {
    "DEFAULT": (),
    "AVX2": ("avx2", "fma"),
    "AVX512": ("avx512vl", "avx512bw", "avx512dq", "fma"),
}


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


def _numpy_simd() -> dict[str, list[str]]:
    """numpy's SIMD groups: ``baseline`` (built to require), ``found`` (on this CPU, less those disabled)."""
    return np.show_config(mode="dicts").get("SIMD Extensions", {})


def numpy_vector_units() -> list[str]:
    """numpy's baseline SIMD groups and those it found on this CPU: the ones its loops are chosen from."""
    simd = _numpy_simd()
    return [*simd.get("baseline", []), *simd.get("found", [])]


def accelerator_name(device: str | torch.device) -> str | None:
    """The accelerator ``device`` is, as far as a stage's bits depend on it: the GPU model and the CUDA (or
    HIP) version torch was built with; None for the CPU. Stage keys hold only the device type
    (hashing.placement), so a stage begun on one GPU may be continued on another."""
    device = torch.device(device)
    if device.type == "cpu":
        return None
    if device.type != "cuda":
        return device.type
    runtime = f"CUDA {torch.version.cuda}" if torch.version.cuda else f"HIP {torch.version.hip}"
    return f"{torch.cuda.get_device_name(device)} ({runtime})"


def kernel_record(device: str | torch.device = "cpu") -> dict[str, Any]:
    """The kernels this process computes with on ``device``: torch's CPU capability and numpy's vector
    units, and the accelerator (`accelerator_name`) where ``device`` is not the CPU. Two processes with
    the same record compute the same bits from the same inputs (docs/md.md)."""
    record: dict[str, Any] = {
        "torch_kernels": torch.backends.cpu.get_cpu_capability(),
        "numpy_vector_units": numpy_vector_units(),
    }
    name = accelerator_name(device)
    return record if name is None else {**record, "accelerator": name}


def pinning_to(
    kernels: Mapping[str, Any], here: Mapping[str, Any] | None = None, cpuinfo: Path = CPUINFO
) -> dict[str, str] | None:
    """The environment variables (`KERNEL_VARIABLES`) under which a new process here computes with
    ``kernels`` instead of ``here`` (both `kernel_record`s; default: this process's): ATEN_CPU_CAPABILITY
    where torch's differ, NPY_DISABLE_CPU_FEATURES naming the vector units numpy found here beyond them.
    Empty when they are the same; None when this CPU cannot: it lacks some of their units, or numpy's
    baseline is beyond them (a baseline unit cannot be disabled). Variables set in this environment are
    inherited by the new process; NPY_DISABLE_CPU_FEATURES keeps the units it names."""
    here = here or kernel_record()
    if kernels.get("accelerator") != here.get("accelerator"):
        return None  # no variable makes one GPU compute as another
    pins: dict[str, str] = {}
    torch_kernels = kernels["torch_kernels"]
    if torch_kernels != here["torch_kernels"]:
        needed = TORCH_KERNEL_FLAGS.get(torch_kernels)
        if needed is None or not set(needed) <= set(_cpuinfo_field("flags", cpuinfo).split()):
            return None
        pins["ATEN_CPU_CAPABILITY"] = torch_kernels.lower()
    wanted, found = list(kernels["numpy_vector_units"]), here["numpy_vector_units"]
    extra = [unit for unit in found if unit not in wanted]
    baseline = _numpy_simd().get("baseline", [])
    if any(unit not in found for unit in wanted) or any(unit in baseline for unit in extra):
        return None
    if extra:  # with those this environment disables already: the new process inherits it
        disabled = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
        pins["NPY_DISABLE_CPU_FEATURES"] = " ".join(dict.fromkeys([*disabled, *extra]))
    return pins


def kernels_phrase(kernels: Mapping[str, Any]) -> str:
    """A `kernel_record` in words: "torch AVX2, numpy X86_V2 X86_V3", then ", on <accelerator>" if any."""
    cpu = f"torch {kernels['torch_kernels']}, numpy {' '.join(kernels['numpy_vector_units'])}"
    return f"{cpu}, on {kernels['accelerator']}" if kernels.get("accelerator") else cpu


def pinning_phrase(kernels: Mapping[str, Any], here: Mapping[str, Any] | None = None) -> str | None:
    """The variables of `pinning_to` as a shell would set them (`ATEN_CPU_CAPABILITY="avx2" ...`); None
    where this machine cannot compute with ``kernels`` or they are the ones ``here`` has."""
    pins = pinning_to(kernels, here)
    return " ".join(f'{name}="{value}"' for name, value in pins.items()) if pins else None


def cpu_record() -> dict[str, Any]:
    """What a run's numbers were computed on: the CPU model and its vector extensions, the vector units
    numpy's loops and torch's kernels were chosen from in this process, and the environment variables
    (`KERNEL_VARIABLES`) that pinned them, as this process's environment holds them."""
    kernels = kernel_record()
    return {
        "model": cpu_model(),
        "vector_extensions": cpu_vector_extensions(),
        "numpy_vector_units": kernels["numpy_vector_units"],
        "torch_kernels": kernels["torch_kernels"],
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
