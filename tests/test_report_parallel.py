"""Figures drawn and leaderboard rows summarised in worker processes are byte for byte those made in this
process; the structure grid of a task of many test systems."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from egraffbench.metrics.structure import StructureFunction
from egraffbench.report import plots
from egraffbench.report.assemble import structure_figures
from egraffbench.report.parallel import call_all
from egraffbench.report.series import StructureCurves
from egraffbench.runner.summary import summarise
from egraffbench.store.database import ResultsStore
from egraffbench.store.records import JobRecord
from test_runner_fixtures import shared_reference_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_parallel_drawing_gives_the_serial_bytes_in_order() -> None:
    colours = plots.model_colours(["a", "b", "c"])
    drawings = [
        partial(plots.speed_stability_figure, {m: plots.Point(10.0 * (i + 1), 0.5 + 0.2 * i)}, colours)
        for i, m in enumerate(("a", "b", "c"))
    ]
    serial = call_all(drawings, workers=1)
    parallel = call_all(drawings, workers=2)
    assert parallel == serial
    assert all(png.startswith(PNG_SIGNATURE) for png in serial)
    assert len(set(serial)) == 3  # three different figures, kept in their order


def test_summaries_made_in_workers_are_the_serial_ones_in_order(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each (model, task) of a real run (mace and emt) summarised in two worker processes: the same metrics,
    intervals included, bit for bit, as summarised here."""
    run = shared_reference_run(tmp_path_factory)
    with ResultsStore.open_existing(run.run_dir) as store:
        records = [
            JobRecord(
                j["job_id"], j["model"], j["task"], j["seed"], "", j["status"], 0.0, 0.0, results=j["results"]
            )
            for j in store.jobs(run.result.run_id)
        ]
    serial = summarise(records)
    parallel = summarise(records, partial(call_all, workers=2))
    assert list(parallel) == list(serial) and len(serial) == 2
    assert parallel == serial
    intervals = [(m.low, m.high) for _, metrics in serial.values() for m in metrics if m.low is not None]
    assert len(intervals) > 10  # bootstrap intervals are among what is compared


def _curves(system: str, models: tuple[str, ...]) -> StructureCurves:
    r = np.linspace(0.05, 5.95, 60)
    rdf = partial(StructureFunction, "rdf", r, dr=0.1, r_max=6.0)
    peak = 2.0 + len(system) / 10  # each system its own curve
    return StructureCurves(
        system,
        "rdf",
        6.0,
        rdf(np.exp(-((r - peak) ** 2))),
        {m: rdf(np.exp(-((r - peak - 0.1 * i) ** 2))) for i, m in enumerate(models)},
    )


def test_a_task_of_many_systems_gets_one_grid_of_structure_panels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Six systems: one figure, a panel per system with the reference and each model's curve, the two
    spare panels of the 4 × 2 grid blank; four systems or fewer keep a figure each."""
    models = ("mace", "nequip")
    colours = plots.model_colours(models)
    systems = [_curves(name, models) for name in ("Li", "P", "S", "Li2S", "Li3P", "P2S5")]
    (figure,) = structure_figures("lips20", systems, colours)
    assert figure.anchor == "lips20-structure" and "One panel per test system (6)" in figure.caption
    drawn: list = []
    monkeypatch.setattr(plots, "png_bytes", lambda f: drawn.append(f) or b"")
    figure.draw()
    panels = drawn[0].axes
    assert [p.get_title() for p in panels if p.axison] == ["Li", "P", "S", "Li2S", "Li3P", "P2S5"]
    assert len(panels) == 8 and not any(p.axison for p in panels[6:])
    for panel, curves in zip(panels, systems, strict=False):
        reference, *lines = panel.get_lines()
        np.testing.assert_array_equal(reference.get_ydata(), curves.reference.values)
        assert [line.get_color() for line in lines] == [colours[m] for m in models]
    few = structure_figures("t", systems[:4], colours)
    assert [f.anchor for f in few] == ["t-structure-Li", "t-structure-P", "t-structure-S", "t-structure-Li2S"]
