"""The Python API: benchmark models (an ASE calculator, a mace-torch model, a ForceField, or anything the
CLI takes by name) from a notebook or script, and read any run's leaderboard as a pandas DataFrame.

    from ase.calculators.emt import EMT
    from egraffbench.results import benchmark

    table = benchmark({"my-emt": EMT(), "mace": "mace"}, task="emt-cu3au", steps=200)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from egraffbench.models.pretrained import PretrainedModel, declare
from egraffbench.report.leaderboard import job_rows, summary_rows
from egraffbench.runner.benchmark import run_benchmark
from egraffbench.runner.executors import InProcessExecutor
from egraffbench.runner.matrix import expand_jobs
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import ModeOverride, load_task


def to_dataframe(
    run_dir: str | Path, run_id: str | None = None, jobs: bool = False, system: str = ""
) -> pd.DataFrame:
    """The leaderboard of a run (default: the latest in ``run_dir``) in store units (eV, Å, ps, s): one
    row per model and task over its seeds, or per job with ``jobs``; ``system`` "" pools the test systems."""
    with ResultsStore.open_existing(Path(run_dir)) as store:
        chosen = run_id or store.latest_run()
        rows = job_rows(store, chosen, system) if jobs else summary_rows(store, chosen, system)
    return pd.DataFrame(rows)


def _model(name: str, model: Any) -> str | PretrainedModel:
    """A model of the matrix: a name or YAML path as the CLI takes it, else an in-memory model."""
    if isinstance(model, str | Path):
        return str(model)
    return model if isinstance(model, PretrainedModel) else declare(model, name)


def benchmark(
    models: Mapping[str, Any] | Sequence[str],
    task: str | Path = "emt-cu3au",
    mode: str = "dev",
    seeds: int = 1,
    out: str | Path = "egraffbench-results",
    replicas: int | None = None,
    steps: int | None = None,
    data_root: str | Path | None = None,
    device: str = "cpu",
    first_seed: int = 0,
) -> pd.DataFrame:
    """Run the benchmark (in this process, stages cached in ``out`` as by `egraffbench run`) and return its
    leaderboard (see :func:`to_dataframe`).

    ``models``: names as `--models` takes them (architectures, `emt`, model YAML files), or a mapping of
    leaderboard name → model, where a model is such a name, an ASE calculator, a mace-torch model or a
    ForceField. In-memory models count as pretrained: they skip training, and their cache key is their class
    and weights (torch) or parameters (ASE calculator). ``device`` (cpu, cuda, cuda:N, mps) is where training,
    evaluation and MD run, as `--device` of `egraffbench run`; seeds are ``first_seed`` … ``first_seed`` +
    ``seeds`` − 1, as `--first-seed` and `--seeds`.
    """
    named = models.items() if isinstance(models, Mapping) else [(str(m), m) for m in models]
    chosen = [_model(name, model) for name, model in named]
    overrides = ModeOverride(replicas=replicas, md={"steps": steps} if steps else {})
    root = None if data_root is None else Path(data_root)
    jobs = expand_jobs(chosen, [load_task(str(task))], seeds, mode, overrides, root, device, first_seed)
    result = run_benchmark(jobs, Path(out), InProcessExecutor(), command="egraffbench.results.benchmark")
    return to_dataframe(out, result.run_id)
