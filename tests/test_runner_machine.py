"""The machine a run records: the CPU model from Linux's cpuinfo and the vector units numpy chooses from."""

from __future__ import annotations

import platform
from pathlib import Path

from numpy.lib import introspect

from egraffbench.runner.machine import cpu_model, describe_machine, numpy_vector_units

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_the_cpu_model_is_the_model_name_linux_reports(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
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
    assert described["cpu_count"] >= 1 and described["python"] == platform.python_version()
