"""What the machine that computed a result was, as far as its numbers depend on it: the CPU model, its
vector extensions and the ones numpy and torch chose from, the core type numpy's OpenBLAS chose its kernels
for and the processors torch's MKL chose its kernels for. numpy, torch, OpenBLAS and MKL pick their loops at
run time (AVX2 or AVX-512 kernels round some sums and functions differently; environment variables can pin
them), so the same command gives the same bits with the same kernels (docs/md.md, "What batch independence
guarantees"); a run records them."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import threadpoolctl
import torch

CPUINFO = Path("/proc/cpuinfo")
# The variables that make MKL choose other kernels than the CPU's (its conditional numerical reproducibility
# branch; the instruction sets it may use on Intel CPUs)
MKL_VARIABLES = ("MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS")
# Environment variables that make torch or numpy choose other kernels than the CPU offers (docs/md.md)
KERNEL_VARIABLES = (
    "ATEN_CPU_CAPABILITY",
    "NPY_DISABLE_CPU_FEATURES",
    "NPY_ENABLE_CPU_FEATURES",
    "OPENBLAS_CORETYPE",
    *MKL_VARIABLES,
)
VECTOR_FLAG_PREFIXES = ("avx", "amx", "fma", "sse", "ssse")
# The cpuinfo flags torch checks before it chooses its kernels of each capability (compute_cpu_capability in
# ATen's native/DispatchStub.cpp); DEFAULT, its scalar kernels, runs everywhere
TORCH_KERNEL_FLAGS = {
    "DEFAULT": (),
    "AVX2": ("avx2", "fma"),
    "AVX512": ("avx512vl", "avx512bw", "avx512dq", "fma"),
}
_SKYLAKEX = ("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl")
# The cpuinfo flags the x86 OpenBLAS core types numpy reports need (OpenBLAS's dynamic.c); a core type
# not listed is not pinned to
OPENBLAS_CORE_FLAGS = {
    "Sandybridge": ("avx",),
    "Haswell": ("avx2", "fma"),
    "Zen": ("avx2", "fma"),
    "SkylakeX": _SKYLAKEX,
    "Cooperlake": (*_SKYLAKEX, "avx512_bf16"),
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


def blas_core() -> str | None:
    """The core type numpy's OpenBLAS chose its kernels for (its least-squares fits and matrix products, e.g.
    the reference energies a training fits, depend on it; OPENBLAS_CORETYPE pins it); None where numpy uses
    another BLAS or threadpoolctl cannot tell."""
    # numpy's and scipy's OpenBLAS builds detect the CPU alike (tests/test_runner_machine.py)
    for library in threadpoolctl.threadpool_info():
        if library.get("internal_api") == "openblas":
            return library.get("architecture") or None
    return None


class _MKLVersion(ctypes.Structure):
    """MKL's version record (MKLVersion in its mkl_types.h), then room for fields a later MKL may add."""

    _fields_ = [
        ("major", ctypes.c_int),
        ("minor", ctypes.c_int),
        ("update", ctypes.c_int),
        ("patch", ctypes.c_int),
        ("product_status", ctypes.c_char_p),
        ("build", ctypes.c_char_p),
        ("processor", ctypes.c_char_p),
        ("platform", ctypes.c_char_p),
        ("room", ctypes.c_char * 256),
    ]


@functools.cache
def _mkl_processors() -> str | None:
    """The processors MKL's version record names (what it chose its kernels for); None without MKL."""
    # torch links MKL into libtorch_cpu and exposes no account of its choice; MKL's own mkl_get_version is
    # not exported there, its service function that fills the same record is (MKL_VERBOSE's first line
    # names the same processors: tests/test_runner_machine.py)
    library = Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"
    if not torch.backends.mkl.is_available() or not library.is_file():
        return None
    get_version = getattr(ctypes.CDLL(str(library)), "mkl_serv_get_version", None)
    if get_version is None:
        return None
    version = _MKLVersion()
    get_version(ctypes.byref(version))
    return version.processor.decode(errors="replace") if version.processor else None


def mkl_kernels() -> str | None:
    """The processors torch's MKL chose its kernels for (its matrix products), as MKL names them: the
    instruction set on Intel CPUs (e.g. "Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled
    processors"), "Intel(R) Architecture processors" for its one path on other CPUs; then the `MKL_VARIABLES`
    set in this environment, which change its kernels too (an empty one leaves MKL's default, as unset; any
    other value is recorded: even MKL_CBWR=AUTO gives other bits than unset on AMD EPYC). None where torch
    was built without MKL."""
    processors = _mkl_processors()
    if processors is None:
        return None
    variables = [f"{name}={os.environ[name]}" for name in MKL_VARIABLES if os.environ.get(name)]
    return " ".join([processors, *variables])


def _mkl_choice(record: str) -> tuple[str, dict[str, str]]:
    """An `mkl_kernels` record split into the processors MKL names and the variables set with them."""
    words = record.split(" ")
    variables = dict(word.split("=", 1) for word in words if word.split("=", 1)[0] in MKL_VARIABLES)
    return " ".join(w for w in words if w.split("=", 1)[0] not in MKL_VARIABLES), variables


def _mkl_pinning(wanted: str, found: str) -> dict[str, str] | None:
    """The `MKL_VARIABLES` under which a new process here makes MKL's choice ``wanted`` instead of ``found``
    (both `mkl_kernels` records), empty to leave one unset; None where it chose for other processors."""
    processors, variables = _mkl_choice(wanted)
    here_processors, here_variables = _mkl_choice(found)
    if processors != here_processors:
        return None  # MKL's paths differ by CPU vendor and instruction set: no variable moves them here
    return {
        name: variables.get(name, "")
        for name in MKL_VARIABLES
        if variables.get(name) != here_variables.get(name)
    }


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
    units, and where known numpy's OpenBLAS core type (`blas_core`), torch's MKL path (`mkl_kernels`) and
    the accelerator (`accelerator_name`) where ``device`` is not the CPU. Two processes with the same
    record compute the same bits from the same inputs (docs/md.md)."""
    record: dict[str, Any] = {
        "torch_kernels": torch.backends.cpu.get_cpu_capability(),
        "numpy_vector_units": numpy_vector_units(),
    }
    optional = {
        "blas_core": blas_core(),
        "mkl_kernels": mkl_kernels(),
        "accelerator": accelerator_name(device),
    }
    return {**record, **{key: value for key, value in optional.items() if value is not None}}


def same_kernels(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Whether two `kernel_record`s agree on everything both record (a key absent or None is unrecorded):
    a record written before a kind of kernel was recorded (blas_core, then mkl_kernels, from 2026-12-04)
    says nothing of it. The accelerator is compared always: absent, the stage computed on the CPU."""
    recorded = {key for key in first.keys() & second.keys() if None not in (first[key], second[key])}
    agree = all(first[key] == second[key] for key in recorded - {"accelerator"})
    return agree and first.get("accelerator") == second.get("accelerator")


def _cpu_has(flags: tuple[str, ...] | None, cpu_flags: set[str]) -> bool:
    """Whether ``cpu_flags`` (cpuinfo's) include every one of ``flags`` (None: kernels of unknown needs,
    never chosen here)."""
    return flags is not None and set(flags) <= cpu_flags


def pinning_to(
    kernels: Mapping[str, Any], here: Mapping[str, Any] | None = None, cpuinfo: Path = CPUINFO
) -> dict[str, str] | None:
    """The environment variables (`KERNEL_VARIABLES`) under which a new process here computes with
    ``kernels`` instead of ``here`` (both `kernel_record`s; default: this process's): ATEN_CPU_CAPABILITY
    where torch's differ, OPENBLAS_CORETYPE where OpenBLAS's core types do, the `MKL_VARIABLES` where MKL's
    differ by them (empty: unset), NPY_DISABLE_CPU_FEATURES naming the vector units numpy found here beyond
    them. Empty when they are the same; None when this machine cannot: the CPU lacks some of their units,
    numpy's baseline is beyond them (a baseline unit cannot be disabled), torch's MKL chose kernels for other
    processors, or they were computed on another accelerator. Variables set in this environment are
    inherited by the new process; NPY_DISABLE_CPU_FEATURES keeps the units it names."""
    here = here or kernel_record()
    if kernels.get("accelerator") != here.get("accelerator"):
        return None  # no variable makes one GPU compute as another
    pins: dict[str, str] = {}
    cpu_flags = set(_cpuinfo_field("flags", cpuinfo).split())
    torch_kernels = kernels["torch_kernels"]
    if torch_kernels != here["torch_kernels"]:
        if not _cpu_has(TORCH_KERNEL_FLAGS.get(torch_kernels), cpu_flags):
            return None
        pins["ATEN_CPU_CAPABILITY"] = torch_kernels.lower()
    core = kernels.get("blas_core")
    if core is not None and here.get("blas_core") not in (None, core):
        if not _cpu_has(OPENBLAS_CORE_FLAGS.get(core), cpu_flags):
            return None
        pins["OPENBLAS_CORETYPE"] = core
    mkl = kernels.get("mkl_kernels")
    if mkl is not None and here.get("mkl_kernels") not in (None, mkl):
        mkl_pins = _mkl_pinning(mkl, here["mkl_kernels"])
        if mkl_pins is None:
            return None
        pins |= mkl_pins
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
    words = f"torch {kernels['torch_kernels']}, numpy {' '.join(kernels['numpy_vector_units'])}"
    if kernels.get("blas_core"):
        words += f", OpenBLAS {kernels['blas_core']}"
    if kernels.get("mkl_kernels"):
        words += f", MKL for {kernels['mkl_kernels']}"
    return f"{words}, on {kernels['accelerator']}" if kernels.get("accelerator") else words


def pinning_phrase(kernels: Mapping[str, Any], here: Mapping[str, Any] | None = None) -> str | None:
    """The variables of `pinning_to` as a shell would set them (`ATEN_CPU_CAPABILITY="avx2" ...`); None
    where this machine cannot compute with ``kernels`` or they are the ones ``here`` has."""
    pins = pinning_to(kernels, here)
    return " ".join(f'{name}="{value}"' for name, value in pins.items()) if pins else None


def cpu_record() -> dict[str, Any]:
    """What a run's numbers were computed on: the CPU model and its vector extensions, the vector units
    numpy's loops and torch's kernels were chosen from in this process, OpenBLAS's core type and MKL's
    path, and the environment variables (`KERNEL_VARIABLES`) that pinned them, as this process's environment
    holds them."""
    kernels = kernel_record()
    return {
        "model": cpu_model(),
        "vector_extensions": cpu_vector_extensions(),
        "numpy_vector_units": kernels["numpy_vector_units"],
        "torch_kernels": kernels["torch_kernels"],
        "blas_core": kernels.get("blas_core"),
        "mkl_kernels": kernels.get("mkl_kernels"),
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
