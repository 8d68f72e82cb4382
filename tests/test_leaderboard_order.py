"""One leaderboard definition: the ranking rule on hand-made rows (direction, ties, missing values, costs,
reference potentials), the catalog's columns against the stored metrics, and a crafted run whose console
table, `results.csv`/`results.json` and report (HTML, markdown, `leaderboard.csv`) rank the models in the same
order — an order the console's former rule (most stable first, then lowest WF) would have got wrong."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.report.build import build_report
from egraffbench.report.leaderboard import print_leaderboard, summary_rows, write_results
from egraffbench.report.ranking import Standing, order, standings
from egraffbench.report.table import build_leaderboard
from egraffbench.runner.flatten import ERROR_UNITS, RUN_UNITS, SCORE_UNITS
from egraffbench.store.catalog import COLUMNS, STORED, Column
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord, MetricValue

LOWER = Column("error", "err", "", 1.0, "lower", True, "accuracy and structure", "an error")
HIGHER = Column("stable", "st", "", 1.0, "higher", True, "violation and stability", "a fraction")
COST = Column("speed", "sp", "", 1.0, "higher", False, "cost", "a speed")


def _standings(rows: list[dict], reference: list[bool] | None = None) -> list[Standing]:
    return standings(rows, reference or [False] * len(rows), (LOWER, HIGHER, COST))


def test_each_column_ranks_in_its_direction_with_ties_sharing_the_best_rank() -> None:
    rows = [
        {"error": 0.3, "stable": 0.5, "speed": 10.0},
        {"error": 0.1, "stable": 0.5, "speed": 30.0},
        {"error": 0.3, "stable": 0.9, "speed": 20.0},
    ]
    found = _standings(rows)
    assert [s.ranks["error"] for s in found] == [2, 1, 2]  # lower is better; the tie shares rank 2
    assert [s.ranks["stable"] for s in found] == [2, 2, 1]  # higher is better
    assert [s.ranks["speed"] for s in found] == [3, 1, 2]  # a cost: ranked ...
    assert [s.mean_rank for s in found] == [2.0, 1.5, 1.5]  # ... but not in the mean rank
    assert [s.place for s in found] == [3, 1, 1]  # equal mean ranks share the place
    assert order(["c", "b", "a"], found, [False] * 3) == [2, 1, 0]  # then by name: a (2), b (1), c (0)


def test_a_missing_quality_value_counts_as_ranked_after_every_model_that_has_one() -> None:
    rows = [
        {"error": 0.1, "stable": 1.0},
        {"error": 0.2, "stable": 0.9},
        {"error": None, "stable": 0.8},  # e.g. failed before a structure could be scored
        {"error": 0.3, "stable": float("nan")},
    ]
    found = _standings(rows)
    assert "error" not in found[2].ranks and "stable" not in found[3].ranks  # no rank shown for n/a
    # error ranks 1, 2, (4), 3; stable ranks 1, 2, 3, (4): skipping n/a would have put row 2 at 3.0
    assert [s.mean_rank for s in found] == [1.0, 2.0, 3.5, 3.5]
    assert [s.place for s in found] == [1, 2, 3, 3]


def test_a_missing_cost_does_not_count() -> None:
    found = _standings([{"error": 0.1, "speed": None}, {"error": 0.2, "speed": 5.0}])
    assert [s.mean_rank for s in found] == [1.0, 2.0] and found[1].ranks["speed"] == 1


def test_reference_potentials_are_shown_but_not_ranked() -> None:
    rows = [{"error": 0.0, "stable": 1.0}, {"error": 0.2, "stable": 0.5}, {"error": 0.1, "stable": 0.5}]
    reference = [True, False, False]
    found = _standings(rows, reference)
    assert found[0] == Standing({})  # no rank, no mean rank, no place
    assert [found[2].ranks["error"], found[1].ranks["error"]] == [1, 2]  # the oracle's 0.0 takes no rank
    assert order(["emt", "x", "y"], found, reference) == [2, 1, 0]  # references last
    assert all(s.place is None for s in _standings(rows[:1], [True]))


def test_no_quality_value_at_all_gives_no_place() -> None:
    found = _standings([{"speed": 1.0}, {"speed": 2.0}])
    assert [(s.mean_rank, s.place) for s in found] == [(None, None), (None, None)]
    assert found[1].ranks == {"speed": 1}


def test_report_leaderboard_takes_stored_intervals_and_extras_only_fill_gaps() -> None:
    stored = {"stable_fraction": 0.5, "stable_fraction_low": 0.2, "stable_fraction_high": 0.8}
    rows = [{"model": "a", "task": "t", "seeds": 1, **stored}, {"model": "b", "task": "t", "seeds": 1}]
    extras = {
        "a": {
            "stable_fraction": {"value": 0.4, "low": 0.1, "high": 0.9},
            "diffusivity_error": {"value": 0.3},
        },
        "b": {"stable_fraction": {"value": 0.6, "low": 0.3, "high": 0.8}},
    }
    board = build_leaderboard("t", rows, set(), extras, None)
    cells = {row.model: row.cells for row in board.rows}
    stable = cells["a"]["stable_fraction"]
    assert (stable.value, stable.low, stable.high) == (0.5, 0.2, 0.8)  # the store wins
    assert cells["b"]["stable_fraction"].value == 0.6 and cells["a"]["diffusivity_error"].value == 0.3
    # a: stable rank 2, D error rank 1; b: stable rank 1, no D error (counts last: 2) — a tie, by name
    assert [(row.model, row.mean_rank, row.place) for row in board.rows] == [("a", 1.5, 1), ("b", 1.5, 1)]


EXPECTED_HIGHER = {
    "fidelity_time_fs",
    "stable_fraction",
    "median_time_to_failure_ps",
    "steps_per_s",
    "live_steps_per_s",
}
EXPECTED_COSTS = {
    "steps_per_s",
    "us_per_atom_step",
    "live_steps_per_s",
    "us_per_live_atom_step",
    "training_seconds",
}


@pytest.mark.parametrize("column", COLUMNS, ids=lambda c: c.key)
def test_catalog_column_direction_and_units(column: Column) -> None:
    better = "higher" if column.key in EXPECTED_HIGHER else "lower"
    assert column.better == better
    assert column.in_mean_rank == (column.key not in EXPECTED_COSTS)
    # two models that differ only in this column: the better value ranks first
    good, bad = (2.0, 1.0) if better == "higher" else (1.0, 2.0)
    found = standings([{column.key: bad}, {column.key: good}], [False, False], COLUMNS)
    assert (found[1].ranks[column.key], found[0].ranks[column.key]) == (1, 2)
    # the display unit is the store unit times the scale
    (stored,) = [m for m in STORED if m.key == column.key]
    if column.scale == 1000.0:
        assert column.unit == "m" + stored.unit
    else:
        assert column.scale == 1.0 and stored.unit in {column.unit, "1/s", "µs"}


def test_the_runner_stores_units_from_the_catalog() -> None:
    assert ERROR_UNITS["force_mae"] == "eV/Å" and SCORE_UNITS["nve_drift"] == "eV/atom/ps"
    assert RUN_UNITS[("md", "steps_per_s")] == "1/s"
    assert len(ERROR_UNITS) + len(SCORE_UNITS) + len(RUN_UNITS) == len(STORED) == len({m.key for m in STORED})


# A crafted run: per task, model → (E MAE eV/atom, F MAE eV/Å, WF %, JSD, EV, FV, stable, TTF ps).
# steady is the most stable but worst on everything else; oracle (EMT, a reference) is best on everything.
METRICS = ("energy_mae_per_atom", "force_mae", "wf_percent", "jsd", "ev", "fv")
GOOD = (0.001, 0.02, 2.0, 0.02, 0.1, 0.1)
FAIR = (0.002, 0.04, 10.0, 0.1, 0.2, 0.2)
POOR = (0.003, 0.05, 20.0, 0.2, 0.3, 0.3)
BAD = (0.004, 0.09, 40.0, 0.3, 0.5, 0.5)
TASK_A = {
    "steady": (BAD, 1.0, 5.0),
    "sharp": (GOOD, 0.9, 4.0),
    "middling": (FAIR, 0.8, 3.0),
    "borrowed": (POOR, 0.5, 1.0),
    "oracle": ((0.0, 0.0, 0.1, 0.001, 0.0, 0.0), 1.0, 5.0),
}
CRAFTED = {
    "crafted-a": TASK_A,
    "crafted-b": {**TASK_A, "sharp": TASK_A["middling"], "middling": TASK_A["sharp"]},
}
# mean ranks over the eight quality columns: best 1.25, second 2.25; borrowed and steady tie at 3.25
EXPECTED = {
    "crafted-a": ["sharp", "middling", "borrowed", "steady", "oracle"],
    "crafted-b": ["middling", "sharp", "borrowed", "steady", "oracle"],
}
TRAINING = {"oracle": {"reference_potential": True}, "borrowed": {"pretrained": True}}


def _metrics(errors: tuple[float, ...], stable: float, ttf: float, model: str) -> list[MetricValue]:
    values = dict(zip(METRICS, errors, strict=True))
    values |= {"stable_fraction": stable, "median_time_to_failure_ps": ttf, "steps_per_s": 100.0}
    if model not in TRAINING:
        values["training_seconds"] = 60.0
    return [MetricValue(name, v, 0.9 * v, 1.1 * v) for name, v in values.items()]


def _crafted_run(run_dir: Path) -> str:
    with ResultsStore(run_dir) as store:
        run_id = store.start_run("dev", "egraffbench run (crafted)", {"tasks": list(CRAFTED)})
        jobs = [
            JobRecord(f"{model}/{task}/seed{seed}", model, task, seed, "dev", "done", time.time(), 1.0)
            for task, models in CRAFTED.items()
            for model in models
            for seed in (0, 1)
        ]
        store.add_jobs(run_id, [(j.job_id, j.model, j.task, j.seed, "dev") for j in jobs])
        for job in jobs:
            job.results = {"training": TRAINING.get(job.model, {"epochs": 5})}
            store.record_job(run_id, job)
        for task, models in CRAFTED.items():
            for model, (errors, stable, ttf) in models.items():
                store.record_summary(run_id, model, task, 2, _metrics(errors, stable, ttf, model))
        store.finish_run(run_id, "done", {"total": len(jobs), "cached": 0, "failed": 0, "stages_reused": 0})
    return run_id


def _console_order(text: str) -> dict[str, list[str]]:
    """Per task, the models in the order the console tables list them (first appearance)."""
    found: dict[str, list[str]] = {task: [] for task in CRAFTED}
    models = "|".join(CRAFTED["crafted-a"])
    task = None
    for line in text.splitlines():
        named = [t for t in CRAFTED if t in line]
        match = re.match(rf"\s*(?:\d+\. )?({models})\b", line)
        if match is None:
            task = named[0] if named else task
            continue
        chosen = named[0] if named else task
        assert chosen is not None
        if match.group(1) not in found[chosen]:
            found[chosen].append(match.group(1))
    return found


def _per_task(rows: list[dict]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in rows:
        found.setdefault(row["task"], []).append(row["model"])
    return found


def _html_order(html: str) -> dict[str, list[str]]:
    found = {}
    for task in CRAFTED:
        table = html.split(f'id="leaderboard-{task}"', 1)[1].split("</table>", 1)[0]
        found[task] = re.findall(r'<tr class="(?:model|reference)" data-model="([^"]+)"', table)
    return found


def _markdown_order(markdown: str) -> dict[str, list[str]]:
    found = {}
    for task, models in CRAFTED.items():
        section = markdown.split(f"## {task}\n", 1)[1].split("\n## ", 1)[0]
        cells = [line.split("|")[2] for line in section.splitlines() if line.startswith("| ")]
        names = [re.sub(r"[*†]|\(.*?\)", "", cell).strip() for cell in cells]  # *emt (reference)*
        found[task] = [name for name in names if name in models]
    return found


@pytest.mark.parametrize("width", [80, 240])
def test_console_csv_json_and_report_rank_in_the_same_order(tmp_path: Path, width: int) -> None:
    run_dir = tmp_path / "run"
    run_id = _crafted_run(run_dir)
    with ResultsStore.open_existing(run_dir) as store:
        rows = summary_rows(store, run_id)
        json_path, csv_path = write_results(store, run_id, tmp_path / "results")
    # the console's former rule would have put the oracle first and steady second
    former = sorted(rows, key=lambda r: (r["task"], -r["stable_fraction"], r["wf_percent"]))
    assert _per_task(former)["crafted-a"] == ["oracle", "steady", "sharp", "middling", "borrowed"]
    assert _per_task(former) != EXPECTED

    console = Console(width=width, record=True, color_system=None)
    print_leaderboard(rows, "egraffbench — crafted", console)
    shown = console.export_text()
    assert _console_order(shown) == EXPECTED
    assert "(reference)" in shown and "(pretrained)" in shown and "1. sharp" in shown
    command = CliRunner(env={"COLUMNS": str(width)}).invoke(cli, ["results", str(run_dir)])
    assert command.exit_code == 0, command.output
    assert _console_order(command.output) == EXPECTED

    table = list(csv.DictReader(csv_path.open()))
    assert _per_task(table) == EXPECTED
    assert [r["place"] for r in table if r["task"] == "crafted-a"] == ["1", "2", "3", "3", ""]
    assert [r["mean_rank"] for r in table if r["task"] == "crafted-a"][:2] == ["1.25", "2.25"]
    for column in ("model", "task", "seeds", "kind", "force_mae", "force_mae_low", "stable_fraction_high"):
        assert column in table[0]  # the columns users' scripts read stay
    exported = CliRunner().invoke(cli, ["results", str(run_dir), "--format", "csv"]).output
    assert _per_task(list(csv.DictReader(io.StringIO(exported)))) == EXPECTED
    assert _per_task(json.loads(json_path.read_text())["leaderboard"]) == EXPECTED

    files = build_report(run_dir, tmp_path / "report")
    assert _html_order(files.html.read_text(encoding="utf-8")) == EXPECTED
    assert _per_task(list(csv.DictReader(files.csv.open()))) == EXPECTED
    assert _markdown_order(files.markdown.read_text()) == EXPECTED
