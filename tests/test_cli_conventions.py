"""CLI conventions: --version, choice lists, the output-flag convention with deprecated aliases, the lists of
tasks and models, help without importing torch, plain progress lines off a terminal, export to ASE formats,
and `analyze` on a simulated .h5 directly."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk
from rich.console import Console
from typer.testing import CliRunner

from egraffbench import __version__
from egraffbench.cli.main import COMMANDS, cli, load_command
from egraffbench.cli.progress import PlainProgress, format_rate
from egraffbench.errors import EgraffbenchError
from egraffbench.md import read_replica
from egraffbench.models.registry import ARCHITECTURES
from egraffbench.tasks import list_tasks
from test_md_support import one_thread  # noqa: F401

pytestmark = pytest.mark.usefixtures("one_thread")


def invoke(*args: object) -> tuple[int, str]:
    """(exit code, output); a typed error counts as exit code 2 with its message (as `app()` prints it)."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if isinstance(result.exception, EgraffbenchError):
        return 2, result.output + str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def trajectory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    structure = folder / "cu.extxyz"
    ase.io.write(structure, bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2))
    out = folder / "run.h5"
    code, output = invoke(
        "simulate",
        "--model",
        "emt",
        "--structure",
        structure,
        "--replicas",
        "2",
        "--steps",
        "10",
        "--dtype",
        "float64",
        "-o",
        out,
    )
    assert code == 0, output
    return out


def test_version_and_the_lists_of_tasks_and_models() -> None:
    assert invoke("--version") == (0, f"egraffbench {__version__}\n")
    code, output = invoke("tasks", "list")
    assert code == 0 and all(name in output for name in list_tasks())
    code, output = invoke("models", "list")
    assert code == 0 and all(name in output for name in ARCHITECTURES) and "reference potential" in output


def test_every_option_has_help_and_enumerated_options_refuse_other_values(trajectory: Path) -> None:
    def leaves(command: Any, path: str) -> Iterator[tuple[str, Any]]:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                yield from leaves(child, f"{path} {name}")
        else:
            yield path, command

    for name in COMMANDS:
        for path, command in leaves(load_command(name), name):
            for parameter in command.params:
                if not getattr(parameter, "hidden", False):
                    assert getattr(parameter, "help", None), (path, parameter.name)
    code, output = invoke("simulate", "--model", "emt", "--structure", "x", "-o", "y.h5", "--ensemble", "npt")
    assert code == 2 and "'npt' is not one of" in output
    code, output = invoke("simulate", "--model", "emt", "--structure", "x", "-o", "y.h5", "--device", "gpu7")
    assert code == 2 and "not a device" in output
    code, output = invoke("export", trajectory, "-o", "x.abc", "--format", "nonsense")
    assert code == 2 and "nonsense" in output


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device: nothing to refuse")
def test_run_refuses_a_device_this_machine_lacks_before_running_anything(tmp_path: Path) -> None:
    code, output = invoke("run", "--device", "cuda", "--out", tmp_path / "out")
    assert code == 2 and "--device 'cuda': torch" in output and "sees no CUDA device" in output
    assert not (tmp_path / "out").exists()


def test_run_starts_the_seeds_at_first_seed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, int]] = []

    def stop_after_expanding(jobs: list[Any], *args: object) -> None:
        asked.extend((job.model.name, job.seed) for job in jobs)
        raise KeyboardInterrupt

    monkeypatch.setattr("egraffbench.cli.run_command.run_benchmark", stop_after_expanding)
    invoke("run", "--models", "emt", "--first-seed", "2", "--seeds", "3", "--out", tmp_path / "run")
    assert asked == [("emt", 2), ("emt", 3), ("emt", 4)]


def test_help_does_not_import_torch() -> None:
    """`egraffbench --help` lists the commands without importing them (torch alone takes seconds)."""
    probe = (
        "import sys, egraffbench.cli.main as m; m.cli(['--help'], standalone_mode=False); "
        "print('torch' in sys.modules)"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False") and "simulate" in result.stdout


def test_old_output_spelling_still_works_with_a_warning(tmp_path: Path, trajectory: Path) -> None:
    report = tmp_path / "metrics.json"
    code, output = invoke("analyze", trajectory, "--reference", trajectory, "--json", report)
    assert code == 0 and report.is_file() and "--json is deprecated; use -o/--output" in output
    code, output = invoke("analyze", trajectory, "--reference", trajectory, "--json", report, "-o", report)
    assert code == 2 and "give -o/--output only" in output


def test_analyze_reads_a_simulated_h5_directly(tmp_path: Path, trajectory: Path) -> None:
    code, output = invoke(
        "analyze", trajectory, "--reference", trajectory, "--replica", "1", "-o", tmp_path / "m.json"
    )
    assert code == 0, output
    assert '"wf_percent": 0.0' in (tmp_path / "m.json").read_text()  # a trajectory against itself


def test_export_to_formats_ase_writes(tmp_path: Path, trajectory: Path) -> None:
    written = read_replica(trajectory, 1)
    for name, extra in (
        ("all.traj", []),
        ("all.json", []),
        ("last.vasp", ["--replica", "1", "--frame", "-1"]),
    ):
        code, output = invoke("export", trajectory, "-o", tmp_path / name, *extra)
        assert code == 0, output
    frames = ase.io.read(tmp_path / "all.traj", ":")
    assert len(frames) == 22 == len(ase.io.read(tmp_path / "all.json", ":"))
    np.testing.assert_allclose(frames[11 + 4].get_forces(), written.forces[4], atol=1e-10)
    last = ase.io.read(tmp_path / "last.vasp")
    np.testing.assert_allclose(last.positions, written.positions[-1], atol=1e-6)
    code, output = invoke("export", trajectory, "-o", tmp_path / "many.vasp")
    assert code != 0 and not (tmp_path / "many.vasp").exists()


def test_plain_progress_lines_are_timestamped_and_rate_limited() -> None:
    stream = io.StringIO()
    progress = PlainProgress(Console(file=stream, width=200), interval_s=3600.0)
    task = progress.add_task("mace-emt-cu3au-0", total=None, status="train: running")
    for step in range(1, 101):
        progress.update(task, total=100, completed=step, status="MD 10 steps/s")
    progress.update(task, status="score: running")
    lines = stream.getvalue().splitlines()
    # start, the MD stage (with a total), the end of the MD, the score stage: not one line per step
    assert len(lines) == 4
    assert all(line[:4].isdigit() and line[19] == "Z" and "mace-emt-cu3au-0" in line for line in lines)
    assert "step 100/100" in lines[2] and "score: running" in lines[3]


def test_rates_keep_three_significant_figures() -> None:
    # a CPU's MD runs at a fraction of a step per second: its rate must not print as 0
    assert [format_rate(r) for r in (0.41234, 0.0005, 7.25, 99.94, 1234.6)] == [
        "0.412",
        "0.0005",
        "7.25",
        "99.9",
        "1235",
    ]


def test_shell_completion_offers_commands_and_choices() -> None:
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "_EGRAFFBENCH_COMPLETE": "complete_bash",
    }
    probe = "from egraffbench.cli.main import cli; cli(prog_name='egraffbench')"

    def complete(words: str) -> list[str]:
        env = {**environment, "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        return result.stdout.split()

    assert complete("egraffbench si") == ["simulate"]
    assert complete("egraffbench simulate --ensemble n") == ["nvt-langevin", "nvt-nose-hoover", "nve"]
