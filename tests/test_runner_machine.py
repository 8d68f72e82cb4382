"""The machine a run records: the CPU model from Linux's cpuinfo, the vector units numpy chooses from, and the
kernels OpenBLAS and torch's MKL chose."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import threadpoolctl
import torch
from numpy.lib import introspect

from egraffbench.runner.machine import (
    CPUINFO,
    KERNEL_VARIABLES,
    MKL_VARIABLES,
    OPENBLAS_CORE_FLAGS,
    TORCH_KERNEL_FLAGS,
    accelerator_name,
    blas_core,
    cpu_model,
    cpu_record,
    cpu_vector_extensions,
    describe_machine,
    kernel_record,
    kernels_phrase,
    mkl_kernels,
    numpy_vector_units,
    pinning_to,
    same_kernels,
)

CPUINFO_TEXT = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 ssse3 fma sse4_1 avx avx2 avx512f avx512_vnni amx_tile rdrand

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_the_cpu_model_is_the_model_name_linux_reports(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO_TEXT)
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"


def test_without_cpuinfo_the_cpu_model_is_what_platform_knows(tmp_path: Path) -> None:
    fallback = platform.processor() or platform.machine()
    assert cpu_model(tmp_path / "absent") == fallback
    (tmp_path / "arm").write_text("processor\t: 0\nBogoMIPS\t: 50.00\n")  # aarch64 lists no model name
    assert cpu_model(tmp_path / "arm") == fallback


def test_numpys_vector_units_hold_every_loop_numpy_chose_here() -> None:
    """Checked against numpy's other account of its dispatch: the target each float64 loop runs on here."""
    units = numpy_vector_units()
    assert units == list(dict.fromkeys(units)) and units
    chosen = introspect.opt_func_info(func_name="exp|log|sin|cos|arccos|log1p|expm1", signature="float64")
    targets = {
        loop["current"].removeprefix("baseline(").removesuffix(")")
        for signatures in chosen.values()
        for loop in signatures.values()
    }
    assert targets and targets <= set(units), (targets, units)


def test_the_machine_description_names_the_cpu() -> None:
    described = describe_machine()
    assert described["cpu_model"] == cpu_model() and described["numpy_vector_units"] == numpy_vector_units()
    assert described["cpu_vector_extensions"] == cpu_vector_extensions()
    assert described["cpu_count"] >= 1 and described["python"] == platform.python_version()


def test_the_cpus_vector_extensions_are_its_simd_flags_only(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO_TEXT)
    assert cpu_vector_extensions(cpuinfo) == [
        "amx_tile", "avx", "avx2", "avx512_vnni", "avx512f", "fma", "sse", "sse2", "sse4_1", "ssse3"
    ]  # fmt: skip
    assert cpu_vector_extensions(tmp_path / "absent") == []


AVX512_GROUP = set(TORCH_KERNEL_FLAGS["AVX512"])  # what torch's AVX512 kernels need


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not CPUINFO.is_file() or "ATEN_CPU_CAPABILITY" in os.environ,
    reason="x86-64 Linux cpuinfo and torch's own kernel choice needed",
)
def test_the_cpus_vector_extensions_agree_with_the_kernels_torch_chose() -> None:
    """An independent account of the same CPU: torch's run-time detection (cpuid), unpinned."""
    extensions = set(cpu_vector_extensions())
    chosen = torch.backends.cpu.get_cpu_capability()
    if chosen == "AVX512":
        assert extensions >= AVX512_GROUP
    elif chosen == "AVX2":
        assert {"avx2", "fma"} <= extensions and not extensions >= AVX512_GROUP
    else:
        assert not {"avx2", "fma"} <= extensions


def test_a_runs_cpu_record_names_the_variables_that_pinned_its_kernels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in KERNEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert cpu_record()["pinned_by"] == {}
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL AVX512_SPR")
    record = cpu_record()
    assert record["pinned_by"] == {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
    assert record["torch_kernels"] == torch.backends.cpu.get_cpu_capability()
    assert record["model"] == cpu_model() and record["numpy_vector_units"] == numpy_vector_units()


AVX2_HERE = {"torch_kernels": "AVX2", "numpy_vector_units": ["X86_V2", "X86_V3"]}


def _numpy_baseline() -> list[str]:
    """The vector units numpy was built to require (its loops run on them whatever is disabled)."""
    return np.show_config(mode="dicts")["SIMD Extensions"]["baseline"]


def test_pinning_names_the_variables_that_choose_earlier_kernels_where_this_cpu_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO_TEXT)  # avx2 and fma; of AVX-512 only avx512f
    assert pinning_to(AVX2_HERE, AVX2_HERE, cpuinfo) == {}
    scalar = {"torch_kernels": "DEFAULT", "numpy_vector_units": ["X86_V2"]}
    assert pinning_to(scalar, AVX2_HERE, cpuinfo) == {
        "ATEN_CPU_CAPABILITY": "default",
        "NPY_DISABLE_CPU_FEATURES": "X86_V3",
    }
    monkeypatch.setenv("NPY_DISABLE_CPU_FEATURES", "X86_V4,AVX512_ICL")  # inherited: kept
    assert pinning_to(scalar, AVX2_HERE, cpuinfo)["NPY_DISABLE_CPU_FEATURES"] == "X86_V4 AVX512_ICL X86_V3"
    # torch's AVX512 kernels need avx512bw, vl and dq too; numpy cannot enable a unit it did not find
    assert pinning_to({**AVX2_HERE, "torch_kernels": "AVX512"}, AVX2_HERE, cpuinfo) is None
    assert pinning_to({**AVX2_HERE, "numpy_vector_units": ["X86_V2", "X86_V3", "X86_V4"]}, AVX2_HERE) is None
    # nor disable one of its baseline
    baseline = {**AVX2_HERE, "numpy_vector_units": _numpy_baseline()}
    assert pinning_to({**AVX2_HERE, "numpy_vector_units": []}, baseline, cpuinfo) is None


def test_a_gpu_stage_records_its_accelerator_which_no_variable_can_pin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    assert "accelerator" not in kernel_record() and accelerator_name("cpu") is None
    on_gpu = kernel_record("cuda:0")
    assert on_gpu == {**kernel_record(), "accelerator": "NVIDIA H200 (CUDA 12.8)"}
    assert kernels_phrase(on_gpu) == kernels_phrase(kernel_record()) + ", on NVIDIA H200 (CUDA 12.8)"
    assert pinning_to(on_gpu, on_gpu) == {}
    other_gpu = {**on_gpu, "accelerator": "NVIDIA A100-SXM4-80GB (CUDA 12.8)"}
    assert pinning_to(other_gpu, on_gpu) is None and pinning_to(on_gpu, kernel_record()) is None


def test_openblas_core_types_are_pinned_where_the_cpu_has_their_units(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO_TEXT)  # avx2 and fma; of AVX-512 only avx512f
    here = {**AVX2_HERE, "blas_core": "Haswell"}
    assert pinning_to({**AVX2_HERE, "blas_core": "Zen"}, here, cpuinfo) == {"OPENBLAS_CORETYPE": "Zen"}
    assert pinning_to({**AVX2_HERE, "blas_core": "SkylakeX"}, here, cpuinfo) is None  # needs avx512bw, …
    assert pinning_to({**AVX2_HERE, "blas_core": "NoSuchCore"}, here, cpuinfo) is None
    # a record from before core types were recorded says nothing of them: nothing to pin, nothing differs
    assert pinning_to(AVX2_HERE, here, cpuinfo) == {} and same_kernels(AVX2_HERE, here)
    assert not same_kernels({**AVX2_HERE, "blas_core": "Zen"}, here)
    assert same_kernels({**AVX2_HERE, "blas_core": None, "accelerator": None}, here)  # as a stored record
    assert kernels_phrase(here) == "torch AVX2, numpy X86_V2 X86_V3, OpenBLAS Haswell"


def test_the_recorded_openblas_core_is_the_one_numpys_blas_runs() -> None:
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS too)

    cores = [
        library["architecture"]
        for library in threadpoolctl.threadpool_info()
        if library["internal_api"] == "openblas"
    ]
    assert blas_core() == (cores[0] if cores else None)  # None where numpy uses another BLAS
    assert len(set(cores)) <= 1  # numpy's and scipy's builds chose alike


def test_a_process_started_with_the_pins_computes_with_the_earlier_kernels() -> None:
    """The pins for torch's scalar kernels, numpy's baseline loops and OpenBLAS's Haswell kernels (every
    x86-64 CPU with AVX2 can choose them) applied to a fresh interpreter: its kernel record is the one
    asked for."""
    if not set(OPENBLAS_CORE_FLAGS["Haswell"]) <= set(cpu_vector_extensions()):
        pytest.skip("this CPU has no AVX2: OpenBLAS's Haswell kernels cannot run here")
    target = {"torch_kernels": "DEFAULT", "numpy_vector_units": _numpy_baseline(), "blas_core": "Haswell"}
    target |= {"mkl_kernels": mkl_kernels()} if mkl_kernels() else {}  # none of the pins moves MKL
    pins = pinning_to(target)
    assert pins is not None and (pins != {}) == (kernel_record() != target)
    script = "import json, egraffbench.runner.machine as m; print(json.dumps(m.kernel_record()))"
    fresh = subprocess.run(
        [sys.executable, "-c", script], env={**os.environ, **pins}, capture_output=True, text=True, check=True
    )
    assert json.loads(fresh.stdout) == target


def _fresh_process(script: str, **variables: str) -> str:
    """What ``script`` prints in a new interpreter without the MKL variables of this environment, with
    ``variables``."""
    env = {name: value for name, value in os.environ.items() if name not in MKL_VARIABLES}
    fresh = subprocess.run(
        [sys.executable, "-c", script], env=env | variables, capture_output=True, text=True, check=True
    )
    return fresh.stdout


needs_mkl = pytest.mark.skipif(mkl_kernels() is None, reason="torch built without MKL: nothing to record")
# A product of float64 matrices through MKL's dgemm, printed as a hash of its bits and the process's record
PRODUCT = """import hashlib, json, torch
from egraffbench.runner.machine import mkl_kernels
a = torch.linspace(-1, 1, 257 * 301, dtype=torch.float64).reshape(257, 301).sin()
product = (a @ a.T.cos()).numpy().tobytes()
print(json.dumps([mkl_kernels(), hashlib.sha256(product).hexdigest()]))"""


@needs_mkl
def test_the_recorded_mkl_kernels_are_the_processors_mkl_verbose_names() -> None:
    """MKL's other account of its choice: the first line it prints when asked to be verbose."""
    printed = _fresh_process(PRODUCT, MKL_VERBOSE="1").splitlines()
    header = next(line for line in printed if line.startswith("MKL_VERBOSE") and "architecture" in line)
    recorded, _ = json.loads(next(line for line in printed if line.startswith("[")))  # MKL's own lines aside
    assert f"architecture {recorded}," in header, (recorded, header)


@needs_mkl
def test_mkls_variables_are_recorded_with_its_kernels_as_they_change_its_bits() -> None:
    unpinned, its_bits = json.loads(_fresh_process(PRODUCT))
    pinned, other_bits = json.loads(_fresh_process(PRODUCT, MKL_CBWR="COMPATIBLE"))
    assert pinned == f"{unpinned} MKL_CBWR=COMPATIBLE" and other_bits != its_bits
    here = {**AVX2_HERE, "mkl_kernels": unpinned}
    assert not same_kernels({**AVX2_HERE, "mkl_kernels": pinned}, here) and same_kernels(AVX2_HERE, here)
    assert kernels_phrase(here) == f"torch AVX2, numpy X86_V2 X86_V3, MKL for {unpinned}"
    # kernels for other processors: no variable moves MKL there
    assert pinning_to({**AVX2_HERE, "mkl_kernels": "Some Other processors"}, here) is None


@needs_mkl
def test_a_process_started_with_the_mkl_pins_computes_the_recorded_bits() -> None:
    """Between MKL unpinned and under MKL_CBWR (COMPATIBLE, AUTO), both ways: the pins, applied to a fresh
    interpreter started under the one, give the other's record and the other's bits."""
    choices = {
        value: json.loads(_fresh_process(PRODUCT, MKL_CBWR=value)) for value in ("", "COMPATIBLE", "AUTO")
    }
    assert "MKL_CBWR" not in choices[""][0]  # set empty: MKL's default, recorded as unset
    for start, wanted in [("", "COMPATIBLE"), ("COMPATIBLE", ""), ("AUTO", "")]:
        here, target = ({**AVX2_HERE, "mkl_kernels": choices[value][0]} for value in (start, wanted))
        pins = pinning_to(target, here)
        assert pins == {"MKL_CBWR": wanted}
        assert json.loads(_fresh_process(PRODUCT, **({"MKL_CBWR": start} | pins))) == choices[wanted]
