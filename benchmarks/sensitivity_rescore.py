"""The metric-sensitivity tables of a run scored before score stage v6 (which stores no variant values),
recomputed from its trajectories without writing to the run folder: every finished, ranked job's replicas
scored under each `metrics.sensitivity` variant, then `report.sensitivity` over the models of each task.

    python benchmarks/sensitivity_rescore.py RUN_DIR [--data-root DIR]

Runs scored by v6 or later need none of this: the report computes the tables from the stored values.
"""

from __future__ import annotations

import argparse
import copy
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from egraffbench.report.collect import JobView, read_run
from egraffbench.report.sensitivity import run_sensitivity, sensitivity_markdown
from egraffbench.runner.rollout_scoring import structure_values
from egraffbench.runner.stages import read_rollout
from egraffbench.store.database import ResultsStore
from egraffbench.tasks import load_task
from egraffbench.tasks.sources import load_source


def rescored(job: JobView, data_root: Path) -> dict[str, Any]:
    """A copy of ``job``'s score result whose production replicas carry the variant values."""
    scores = copy.deepcopy(job.scores)
    production = [v for v in scores["replica_values"] if v.get("segment", "production") == "production"]
    for system in load_task(job.task).test:
        frames = load_source(system, data_root)
        positions = np.array([atoms.positions for atoms in frames])
        cells = np.array([atoms.cell.array for atoms in frames])
        members = [i for i, v in enumerate(production) if v["system"] == system.name]
        rollouts = [read_rollout(job.artifacts["trajectory"], i) for i in members]
        periodic = bool(np.all(frames[0].pbc))
        scored, _ = structure_values(rollouts, positions, cells, periodic)
        for i, (_, _, variants) in zip(members, scored, strict=True):
            production[i]["sensitivity"] = variants
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data-root", type=Path, default=Path(os.environ.get("EGRAFFBENCH_DATA", ".")))
    args = parser.parse_args()
    with ResultsStore.open_existing(args.run_dir) as store:
        view = read_run(store)
    view.jobs = [
        replace(job, results={**job.results, "scores": rescored(job, args.data_root)})
        if job.done and not job.is_reference and job.scores and "trajectory" in job.artifacts
        else job
        for job in view.jobs
    ]
    print(sensitivity_markdown(run_sensitivity(view)), end="")


if __name__ == "__main__":
    main()
