"""The paper's five findings checked against crafted leaderboards: for each, a run that reproduces it, one
that refutes it and one that cannot tell (including "not in this run"), with the numbers behind the verdict
checked against scipy or by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import bootstrap, rankdata, spearmanr

from egraffbench.report.paper import paper_findings
from egraffbench.report.paper.correlation import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    MAX_UNDEFINED,
    error_vs_md,
    spearman_interval,
)
from egraffbench.report.paper.degradation import (
    SharedSystems,
    SystemBoards,
    in_distribution_partner,
    ood_degradation,
)
from egraffbench.report.paper.gete import gete_baseline
from egraffbench.report.paper.leaders import no_single_best
from egraffbench.report.paper.ranks import structure_speed_stability
from egraffbench.report.paper.records import NOT_IN_RUN, Estimate, PaperFinding
from egraffbench.report.paper.render import findings_html, findings_markdown, number_text
from egraffbench.report.shared_systems import common_frames, one_to_one, system_pairs
from egraffbench.report.table import Leaderboard, build_leaderboard
from egraffbench.store.schema import Baselines, FrameRange, TaskCard
from egraffbench.tasks import TaskSpec, load_task
from test_report_fixtures import BuiltReport, shared_report

Metric = float | tuple[float, float, float]  # a value, or (value, low, high)


def board(
    task: str, models: dict[str, dict[str, Metric]], baseline_force: float | None = None
) -> Leaderboard:
    """A leaderboard of ``models`` (name → metric key → value or (value, low, high), store units)."""
    rows = []
    for model, metrics in models.items():
        row: dict = {"model": model, "task": task, "seeds": 3}
        for key, found in metrics.items():
            value, low, high = found if isinstance(found, tuple) else (found, None, None)
            row |= {key: value, f"{key}_low": low, f"{key}_high": high}
        rows.append(row)
    baselines = (
        None
        if baseline_force is None
        else Baselines(energy_mae_per_atom=0.1, force_mae=baseline_force, element_energies={})
    )
    return build_leaderboard(task, rows, set(), {}, baselines)


def rows_of(finding: PaperFinding) -> list[tuple[tuple[str, ...], tuple[Estimate | None, ...]]]:
    return [(row.labels, row.values) for row in finding.table.rows]


# 1 ─ no single model is best across tasks


def test_different_resolved_leaders_reproduce_no_single_best() -> None:
    boards = {
        "t1": board(
            "t1", {"a": {"force_mae": (0.01, 0.009, 0.011)}, "b": {"force_mae": (0.02, 0.019, 0.021)}}
        ),
        "t2": board(
            "t2", {"a": {"force_mae": (0.05, 0.049, 0.051)}, "b": {"force_mae": (0.03, 0.029, 0.031)}}
        ),
    }
    finding = no_single_best(boards, {})
    assert finding.verdict == "reproduced"
    assert "a (t1)" in finding.reason and "b (t2)" in finding.reason
    labels, values = rows_of(finding)[0]
    assert labels == ("t1", "", "a", "b", "resolved")
    assert [v.value for v in values] == [1.0, 2.0, 1, 0]  # mean ranks, columns better / worse


def test_one_model_leading_every_task_refutes_no_single_best() -> None:
    leading = {
        "a": {"force_mae": (0.01, 0.009, 0.011), "wf_percent": (2.0, 1.5, 2.5)},
        "b": {"force_mae": (0.02, 0.019, 0.021), "wf_percent": (4.0, 3.5, 4.5)},
        "c": {"force_mae": (0.03, 0.029, 0.031), "wf_percent": (5.0, 4.5, 5.5)},
    }
    finding = no_single_best({t: board(t, leading) for t in ("t1", "t2", "t3")}, {})
    assert finding.verdict == "refuted"
    assert "all 3 tasks" in finding.reason
    assert all(values[2].value == 2 and values[3].value == 0 for _, values in rows_of(finding))


def test_unresolved_leads_are_inconclusive() -> None:
    resolved = {"a": {"force_mae": (0.01, 0.009, 0.011)}, "b": {"force_mae": (0.02, 0.019, 0.021)}}
    # b leads t2, but its interval overlaps a's: not resolved
    overlapping = {"a": {"force_mae": (0.02, 0.015, 0.025)}, "b": {"force_mae": (0.019, 0.014, 0.024)}}
    finding = no_single_best({"t1": board("t1", resolved), "t2": board("t2", overlapping)}, {})
    assert finding.verdict == "inconclusive"
    assert rows_of(finding)[1][0][-1] == "not resolved"
    # a leader better on one resolved column and worse on another is not resolved either
    split = {
        "a": {"force_mae": (0.01, 0.009, 0.011), "wf_percent": (5.0, 4.5, 5.5), "jsd": (0.1, 0.09, 0.11)},
        "b": {"force_mae": (0.02, 0.019, 0.021), "wf_percent": (2.0, 1.5, 2.5), "jsd": (0.1, 0.09, 0.11)},
    }
    finding = no_single_best({"t1": board("t1", split), "t2": board("t2", resolved)}, {})
    assert finding.verdict == "inconclusive"


def test_no_single_best_needs_two_tasks() -> None:
    finding = no_single_best({"t1": board("t1", {"a": {"force_mae": 0.01}, "b": {"force_mae": 0.02}})}, {})
    assert finding.verdict == "inconclusive" and NOT_IN_RUN in finding.reason


def test_only_values_without_an_interval_are_noted_as_compared_as_points() -> None:
    """A median time to failure censored at the horizon in every resample has a zero-width interval that
    is exact; a test error of one seed stored without its interval is a point."""

    def lead(force_mae: Metric) -> PaperFinding:
        rows = [
            {"model": "a", "force_mae": force_mae},
            {"model": "b", "force_mae": (0.02, 0.019, 0.021)},
        ]
        for row in rows:
            row |= {"task": "t", "seeds": 1, "median_time_to_failure_ps": 5.0}
            row |= {"median_time_to_failure_ps_low": 5.0, "median_time_to_failure_ps_high": 5.0}
            row |= {"median_time_to_failure_ps_censored": True}
            if isinstance(row["force_mae"], tuple):
                row["force_mae"], row["force_mae_low"], row["force_mae_high"] = row["force_mae"]
        board_t = build_leaderboard("t", rows, set(), {}, None)
        return no_single_best({"t": board_t, "u": board_t}, {})

    with_interval = lead((0.01, 0.009, 0.011))
    assert with_interval.verdict == "refuted" and "compared as points" not in with_interval.reason
    point = lead(0.01)
    assert point.verdict == "refuted" and "were compared as points" in point.reason


# 2 ─ low error does not guarantee stable or faithful MD

MODELS = ("a", "b", "c", "d")


def md_boards(
    errors: dict[str, list[float]], md: dict[str, dict[str, list[float]]]
) -> dict[str, Leaderboard]:
    """Boards of tasks (name → force MAE per model) with MD measures (name → key → value per model)."""
    return {
        task: board(
            task,
            {
                model: {"force_mae": errors[task][i], **{k: v[i] for k, v in md[task].items()}}
                for i, model in enumerate(MODELS)
            },
        )
        for task in errors
    }


ERRORS = {"t1": [0.01, 0.02, 0.03, 0.04], "t2": [0.2, 0.1, 0.4, 0.3], "t3": [1.0, 3.0, 2.0, 4.0]}


def _scipy_bootstrap(x: np.ndarray, y: np.ndarray) -> Any:
    """scipy's own percentile bootstrap of Spearman ρ, with finding 2's resamples and seed."""
    return bootstrap(
        (x, y),
        lambda a, b: spearmanr(a, b).statistic,
        paired=True,
        vectorized=False,
        n_resamples=BOOTSTRAP_RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )


def test_spearman_and_its_interval_match_scipy() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=20), rng.normal(size=20)
    rho, low, high = spearman_interval(x, y)
    expected = _scipy_bootstrap(x, y).confidence_interval
    assert rho == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert (low, high) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_a_few_resamples_without_rho_are_left_out_of_the_interval() -> None:
    """15 of 20 pairs share one y (as in tasks where every model survives): about 1 resample in 300 draws only
    those and has no ρ, which makes scipy's percentile interval NaN. Leaving those resamples out keeps the
    interval of the others; where most resamples have no ρ the interval stays undefined."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=20)
    y = np.r_[np.full(15, 0.5), rng.normal(size=5)]
    replicates = _scipy_bootstrap(x, y).bootstrap_distribution
    rho, low, high = spearman_interval(x, y)
    defined = replicates[np.isfinite(replicates)]
    assert 0 < np.sum(~np.isfinite(replicates)) <= MAX_UNDEFINED * replicates.size
    assert (low, high) == pytest.approx(tuple(np.percentile(defined, [2.5, 97.5])), abs=1e-12)
    assert -1 < low < rho < high < 1
    _, low, high = spearman_interval(x[:8], np.r_[np.full(7, 0.5), 1.0])  # 7 of 8 tied: most resamples
    assert np.isnan(low) and np.isnan(high)


def test_error_predicting_md_refutes_the_claim() -> None:
    """Lower error → longer survival, more stable replicas and lower WF in every task."""
    md = {
        task: {
            "median_time_to_failure_ps": [10.0 - 10 * e for e in rankdata(errors) / 10],
            "stable_fraction": [1.0 - r / 5 for r in rankdata(errors)],
            "wf_percent": [float(r) for r in rankdata(errors)],
        }
        for task, errors in ERRORS.items()
    }
    finding = error_vs_md(md_boards(ERRORS, md))
    assert finding.verdict == "refuted"
    within = [values[0] for labels, values in rows_of(finding) if labels[1] == "ranks within each task"]
    assert [e.value for e in within] == pytest.approx([-1.0, -1.0, 1.0])
    # every resample is perfectly ordered too
    assert all((e.low, e.high) == pytest.approx((e.value, e.value), abs=1e-12) for e in within)
    pooled = next(
        values[0]
        for labels, values in rows_of(finding)
        if labels == ("WF", "values pooled over tasks", "12", "inconclusive")
    )
    x = [e for errors in ERRORS.values() for e in errors]
    y = [w for task in ERRORS for w in md[task]["wf_percent"]]
    assert pooled.value == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_error_not_predicting_md_reproduces_the_claim() -> None:
    """Lower error → shorter survival: low error is no guarantee."""
    md = {task: {"median_time_to_failure_ps": list(errors)} for task, errors in ERRORS.items()}
    finding = error_vs_md(md_boards(ERRORS, md))
    assert finding.verdict == "reproduced"
    (ttf,) = [
        v[0] for labels, v in rows_of(finding) if labels[:2] == ("median TTF", "ranks within each task")
    ]
    assert ttf.value == pytest.approx(1.0)
    assert "median TTF: agreement below 0.5" in finding.reason


def test_error_vs_md_without_enough_pairs_or_variation_is_inconclusive() -> None:
    two = {"t1": ERRORS["t1"]}
    finding = error_vs_md(md_boards(two, {"t1": {"stable_fraction": [1.0, 0.5, 0.2, 0.0]}}))
    assert finding.verdict == "inconclusive"
    assert (
        finding.reason
        == "not in this run: at most 4 (model, task) pairs, 4 ranked model(s); needs 6 pairs of 3 models."
    )
    constant = {task: {"stable_fraction": [1.0] * 4} for task in ERRORS}
    finding = error_vs_md(md_boards(ERRORS, constant))
    assert finding.verdict == "inconclusive" and "undefined" in finding.reason


# 3 ─ all models degrade out of distribution


@pytest.fixture(scope="module")
def bpa() -> dict[str, TaskSpec]:
    return {name: load_task(name) for name in ("3bpa", "3bpa-600K")}


def test_in_distribution_partners() -> None:
    names = ("3bpa", "3bpa-600K", "acac", "lips20", "lips20-unseen-structure", "lips20-unseen-composition")
    specs = {name: load_task(name) for name in names}
    assert in_distribution_partner("3bpa-600K", specs, specs) == "3bpa"
    assert in_distribution_partner("lips20-unseen-structure", specs, specs) == "lips20"  # data contained
    assert in_distribution_partner("lips20-unseen-composition", specs, specs) == "lips20"
    assert in_distribution_partner("3bpa-600K", specs, ["acac", "3bpa-600K"]) is None


def test_resolved_degradation_of_every_model_reproduces(bpa: dict[str, TaskSpec]) -> None:
    inside = {"mace": {"force_mae": (0.02, 0.018, 0.022)}, "nequip": {"wf_percent": (2.0, 1.0, 3.0)}}
    outside = {"mace": {"force_mae": (0.05, 0.045, 0.055)}, "nequip": {"wf_percent": (9.0, 8.0, 10.0)}}
    boards = {"3bpa": board("3bpa", inside), "3bpa-600K": board("3bpa-600K", outside)}
    finding = ood_degradation(boards, bpa)
    assert finding.verdict == "reproduced"
    labels, (before, after, ratio) = rows_of(finding)[0]
    assert labels == (
        "3bpa-600K (ood-temperature)",
        "3bpa (same training data)",
        "mace",
        "F MAE (meV/Å)",
        "worse",
    )
    assert (before.value, after.value) == pytest.approx((20.0, 50.0))  # meV/Å
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((2.5, 0.045 / 0.022, 0.055 / 0.018))


def test_a_model_resolved_better_out_of_distribution_refutes(bpa: dict[str, TaskSpec]) -> None:
    inside = {"mace": {"stable_fraction": (0.5, 0.3, 0.7)}, "nequip": {"force_mae": (0.02, 0.018, 0.022)}}
    outside = {"mace": {"stable_fraction": (1.0, 0.8, 1.0)}, "nequip": {"force_mae": (0.05, 0.045, 0.055)}}
    finding = ood_degradation({"3bpa": board("3bpa", inside), "3bpa-600K": board("3bpa-600K", outside)}, bpa)
    assert finding.verdict == "refuted" and "mace on 3bpa-600K" in finding.reason
    ratio = rows_of(finding)[0][1][2]
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((2.0, 0.8 / 0.7, 1.0 / 0.3))


def test_overlapping_intervals_or_no_ood_task_are_inconclusive(bpa: dict[str, TaskSpec]) -> None:
    inside = {"mace": {"force_mae": (0.02, 0.015, 0.025)}}
    outside = {"mace": {"force_mae": (0.022, 0.017, 0.027)}}
    finding = ood_degradation({"3bpa": board("3bpa", inside), "3bpa-600K": board("3bpa-600K", outside)}, bpa)
    assert finding.verdict == "inconclusive" and rows_of(finding)[0][0][-1] == "not resolved"
    finding = ood_degradation({"3bpa": board("3bpa", inside)}, bpa)
    assert finding.verdict == "inconclusive" and NOT_IN_RUN in finding.reason and not finding.table.rows


def test_a_task_whose_data_the_in_distribution_task_contains_is_compared_on_the_frames_both_test() -> None:
    """lips20's model on all 16 systems looks worse than the unseen-structure model on its 3; on the test
    frames both test it is better: the comparison must use those, or it credits an easier test set. A model
    of both tasks without such frames (nequip) is named as left out, not compared on the whole sets."""
    specs = {name: load_task(name) for name in ("lips20", "lips20-unseen-structure")}
    models = ("mace", "nequip")
    boards = {
        "lips20": board("lips20", {m: {"force_mae": (0.20, 0.19, 0.21)} for m in models}),
        "lips20-unseen-structure": board(
            "lips20-unseen-structure", {m: {"force_mae": (0.17, 0.16, 0.18)} for m in models}
        ),
    }
    systems = ("Li2PS3-orth", "Li4P2S6", "gamma-Li3PS4")
    on_systems = SharedSystems(
        inside=board("lips20", {"mace": {"force_mae": (0.12, 0.11, 0.13)}}),
        outside=board("lips20-unseen-structure", {"mace": {"force_mae": (0.16, 0.15, 0.17)}}),
        systems=systems,
        frames=300,
    )
    finding = ood_degradation(boards, specs, {"lips20-unseen-structure": on_systems})
    assert finding.verdict == "reproduced" and len(finding.table.rows) == 1
    assert "Left out: nequip on lips20-unseen-structure:" in finding.reason
    labels, (before, after, ratio) = rows_of(finding)[0]
    assert labels[1:] == (
        "lips20 (contains its data; on the same 300 test frames of 3 systems)",
        "mace",
        "F MAE (meV/Å)",
        "worse",
    )
    assert (before.value, after.value, ratio.value) == pytest.approx((120.0, 160.0, 0.16 / 0.12))
    left_out = ood_degradation(boards, specs)  # no per-system results: not compared on the whole test sets
    assert left_out.verdict == "inconclusive" and not left_out.table.rows
    assert NOT_IN_RUN in left_out.reason and "Left out: lips20-unseen-structure" in left_out.reason


def test_each_shared_system_shows_its_own_force_mae_without_entering_the_verdict() -> None:
    """On the pooled shared frames mace is not resolved apart; on Li4P2S6 alone it is worse. The per-system
    row says so, but the verdict stays inconclusive: it is decided on the pooled frames."""
    specs = {name: load_task(name) for name in ("lips20", "lips20-unseen-structure")}
    boards = {name: board(name, {"mace": {"force_mae": (0.2, 0.19, 0.21)}}) for name in specs}
    each = (
        SystemBoards(
            system="Li4P2S6",
            inside=board("lips20", {"mace": {"force_mae": (0.14, 0.13, 0.15)}}),
            outside=board("lips20-unseen-structure", {"mace": {"force_mae": (0.17, 0.16, 0.18)}}),
        ),
        SystemBoards(
            system="gamma-Li3PS4",
            inside=board("lips20", {"nequip": {"force_mae": (0.1, 0.09, 0.11)}}),
            outside=board("lips20-unseen-structure", {"nequip": {"force_mae": (0.2, 0.19, 0.21)}}),
        ),
    )
    on_systems = SharedSystems(
        inside=board("lips20", {"mace": {"force_mae": (0.15, 0.13, 0.17)}}),
        outside=board("lips20-unseen-structure", {"mace": {"force_mae": (0.16, 0.14, 0.18)}}),
        systems=("Li2PS3-orth", "Li4P2S6", "gamma-Li3PS4"),
        frames=300,
        each=each,
    )
    finding = ood_degradation(boards, specs, {"lips20-unseen-structure": on_systems})
    assert finding.verdict == "inconclusive" and "mace on lips20-unseen-structure" in finding.reason
    (pooled_labels, _), (system_labels, values) = rows_of(finding)
    assert pooled_labels[-2:] == ("F MAE (meV/Å)", "not resolved")
    assert system_labels[-3:] == ("mace", "F MAE (meV/Å), Li4P2S6 only", "worse")
    assert [v.value for v in values] == pytest.approx([140.0, 170.0, 0.17 / 0.14])


def test_on_shared_frames_the_force_mae_changes_by_the_paired_interval_of_its_ratio() -> None:
    """mace's two intervals overlap (0.15 [0.13, 0.17] against 0.16 [0.14, 0.18]), yet resampled on the same
    frames its ratio lies wholly above 1: worse, and the verdict is reproduced. WF keeps the two-interval
    rule. An interval that holds 1 leaves the force MAE not resolved."""
    specs = {name: load_task(name) for name in ("lips20", "lips20-unseen-structure")}
    boards = {name: board(name, {"mace": {"force_mae": (0.2, 0.19, 0.21)}}) for name in specs}
    inside = board("lips20", {"mace": {"force_mae": (0.15, 0.13, 0.17), "wf_percent": (1.0, 0.5, 1.5)}})
    outside = board(
        "lips20-unseen-structure", {"mace": {"force_mae": (0.16, 0.14, 0.18), "wf_percent": (1.2, 0.7, 1.7)}}
    )
    shared = {"inside": inside, "outside": outside, "systems": ("Li4P2S6",), "frames": 100}
    paired = SharedSystems(**shared, paired_force_mae={"mace": (1.04, 1.09)})
    finding = ood_degradation(boards, specs, {"lips20-unseen-structure": paired})
    assert finding.verdict == "reproduced"
    (force_labels, (_, _, ratio)), (wf_labels, _) = rows_of(finding)
    assert force_labels[-2:] == ("F MAE (meV/Å)", "worse") and wf_labels[-1] == "not resolved"
    assert (ratio.value, ratio.low, ratio.high) == pytest.approx((0.16 / 0.15, 1.04, 1.09))
    holding_one = SharedSystems(**shared, paired_force_mae={"mace": (0.99, 1.09)})
    finding = ood_degradation(boards, specs, {"lips20-unseen-structure": holding_one})
    assert finding.verdict == "inconclusive" and rows_of(finding)[0][0][-1] == "not resolved"


def card(name: str, kind: str, **frames: tuple[str, int, int]) -> TaskCard:
    """A task card whose test systems are frames start … stop − 1 of the data with hash ``data``."""
    ranges = {
        system: FrameRange(data=data, start=start, stop=stop)
        for system, (data, start, stop) in frames.items()
    }
    return TaskCard(name=name, kind=kind, test_frames=ranges)


def test_two_tasks_share_the_frames_of_the_same_data_where_their_ranges_overlap() -> None:
    """Frames 900–999 of a file tested by lips20 are positions 0–99 of its system and 900–999 of the twin's,
    which tests all 1000; a system of other data, or ranges that do not overlap, share nothing."""
    same, other = "a" * 64, "b" * 64
    twin = card("twin", "ood-structure", s=(same, 0, 1000), t=(other, 0, 10))
    lips20 = card("lips20", "in-distribution", s=(same, 900, 1000), u=("c" * 64, 0, 10))
    outside, inside = common_frames(twin, lips20)
    assert outside.positions == {"s": list(range(900, 1000))} and outside.sizes == {"s": 1000}
    assert inside.positions == {"s": list(range(100))} and inside.sizes == {"s": 100}
    early = lips20.model_copy(update={"test_frames": {"s": FrameRange(data=same, start=1000, stop=1100)}})
    assert common_frames(twin, early)[0].positions == {}
    with pytest.raises(ValueError, match="empty"):
        FrameRange(data=same, start=5, stop=5)


def test_two_systems_cut_from_one_file_are_both_matched() -> None:
    """A partner that tests frames 0–49 and 50–99 of one file as two systems shares both with a task that
    tests frames 25–74 of it as one: 25 frames each, and the task keeps all 50, none dropped."""
    same = "a" * 64
    ours = card("ood", "ood-structure", s=(same, 25, 75))
    theirs = card("id", "in-distribution", a=(same, 0, 50), b=(same, 50, 100))
    outside, inside = common_frames(ours, theirs)
    assert outside.positions == {"s": list(range(50))} and outside.sizes == {"s": 50}
    assert inside.positions == {"a": list(range(25, 50)), "b": list(range(25))}
    assert inside.sizes == {"a": 50, "b": 50}
    swapped_outside, swapped_inside = common_frames(theirs, ours)
    assert (swapped_outside.positions, swapped_inside.positions) == (inside.positions, outside.positions)
    # "s" spans two of their systems: no system of either task can be compared on its own
    assert (
        system_pairs(ours, theirs) == [("s", "a"), ("s", "b")]
        and one_to_one(system_pairs(ours, theirs)) == []
    )
    lone = theirs.model_copy(update={"test_frames": {"a": theirs.test_frames["a"]}})
    assert one_to_one(system_pairs(ours, lone)) == [("s", "a")]


# 4 ─ NequIP preserves structure best; TorchMD-Net is fastest but less stable


def structure_board(task: str, wf: list[float], speed: list[Metric], stable: list[float]) -> Leaderboard:
    names = ("nequip", "torchmdnet", "mace")
    return board(
        task,
        {
            name: {
                "wf_percent": wf[i],
                "jsd": wf[i] / 100,
                "live_steps_per_s": speed[i],
                "stable_fraction": stable[i],
            }
            for i, name in enumerate(names)
        },
    )


SPEEDS = [(10.0, 9.0, 11.0), (50.0, 45.0, 55.0), (20.0, 18.0, 22.0)]  # steps/s over seeds


def test_paper_ranking_reproduces_structure_speed_stability() -> None:
    boards = {
        "t1": structure_board("t1", [1.0, 3.0, 2.0], SPEEDS, [1.0, 0.2, 0.9]),
        "t2": structure_board("t2", [2.0, 3.0, 1.0], SPEEDS, [1.0, 0.5, 0.5]),
        "t3": structure_board("t3", [1.0, 2.0, 3.0], SPEEDS, [0.8, 0.2, 1.0]),
    }
    finding = structure_speed_stability(boards)
    assert finding.verdict == "reproduced"
    means = {(labels[0].split()[0], labels[1]): values[0].value for labels, values in rows_of(finding)}
    assert means[("structure", "nequip")] == pytest.approx(4 / 3)  # ranks 1, 2, 1
    assert means[("structure", "mace")] == pytest.approx(2.0)
    assert means[("speed", "torchmdnet")] == 1.0
    assert means[("stability", "torchmdnet")] == pytest.approx((3 + 2 + 3) / 3)  # ties share the best rank
    assert means[("stability", "nequip")] == pytest.approx((1 + 1 + 2) / 3)


def test_another_structure_leader_refutes_and_a_tie_is_inconclusive() -> None:
    mace_best = {"t1": structure_board("t1", [2.0, 3.0, 1.0], [10.0, 50.0, 20.0], [1.0, 0.2, 0.9])}
    finding = structure_speed_stability(mace_best)
    assert finding.verdict == "refuted" and "mace has a better average rank" in finding.reason
    tied = {
        "t1": structure_board("t1", [1.0, 3.0, 2.0], [10.0, 50.0, 20.0], [1.0, 0.2, 0.9]),
        "t2": structure_board("t2", [2.0, 3.0, 1.0], [10.0, 50.0, 20.0], [1.0, 0.2, 0.9]),
    }
    finding = structure_speed_stability(tied)
    assert finding.verdict == "inconclusive" and "tied with mace at 1.50" in finding.reason


def test_ranks_the_intervals_do_not_separate_are_inconclusive() -> None:
    """mace's WF is lower than nequip's on one task, but within its interval: not a refutation."""
    metrics = {
        "nequip": {"wf_percent": (1.6, 1.4, 1.8), "jsd": (0.0028, 0.0025, 0.0031), "live_steps_per_s": 10.0},
        "torchmdnet": {
            "wf_percent": (1.8, 1.6, 2.0),
            "jsd": (0.0031, 0.0028, 0.0034),
            "live_steps_per_s": 36.0,
        },
        "mace": {"wf_percent": (1.5, 1.3, 1.7), "jsd": (0.0027, 0.0024, 0.0030), "live_steps_per_s": 30.0},
    }
    finding = structure_speed_stability({"t1": board("t1", metrics)})
    structure = finding.reason.split(";")[0]
    assert "mace has a better average rank" in structure and "only 0 of 1 tasks" in structure
    assert finding.verdict == "inconclusive"
    metrics["mace"] |= {"wf_percent": (1.0, 0.9, 1.1), "jsd": (0.0020, 0.0019, 0.0021)}  # now separated
    finding = structure_speed_stability({"t1": board("t1", metrics)})
    assert finding.verdict == "refuted" and "resolved by the intervals in 1 of 1 tasks" in finding.reason


def test_md_speed_measured_once_per_model_decides_nothing() -> None:
    """One seed: each job's steps/s is one wall-clock measurement, taken under whatever load the machine
    had; mace measured faster than torchmdnet does not refute 'TorchMD-Net is fastest'. Over seeds with
    separated intervals it does."""
    wf, stable = [1.0, 3.0, 2.0], [1.0, 0.2, 0.9]
    once = {"t1": structure_board("t1", wf, [10.0, 28.1, 28.4], stable)}
    finding = structure_speed_stability(once)
    assert finding.verdict == "inconclusive"
    assert (
        "torchmdnet speed (MD steps/s rank): inconclusive — mace has a better average rank (1.00 vs 2.00), "
        "but resolved by the intervals in only 0 of 1 tasks" in finding.reason
    )
    seeds = {
        "t1": structure_board("t1", wf, [(10.0, 9.0, 11.0), (28.1, 27.9, 28.3), (35.0, 34.0, 36.0)], stable)
    }
    finding = structure_speed_stability(seeds)
    assert finding.verdict == "refuted" and "resolved by the intervals in 1 of 1 tasks" in finding.reason


def test_structure_speed_stability_without_the_models_is_not_in_the_run() -> None:
    others = {"t1": board("t1", {m: {"wf_percent": w} for m, w in (("a", 1.0), ("b", 2.0), ("c", 3.0))})}
    finding = structure_speed_stability(others)
    assert finding.verdict == "inconclusive" and finding.reason.count(NOT_IN_RUN) == 3


# 5 ─ GeTe: Equiformer and TorchMD-Net never beat the zero-force baseline


def gete(
    task: str, equiformer: Metric, torchmdnet: Metric, baseline: float | None = 0.5
) -> dict[str, Leaderboard]:
    models = {
        "equiformer": {"force_mae": equiformer},
        "torchmdnet": {"force_mae": torchmdnet},
        "mace": {"force_mae": 0.1},
    }
    return {task: board(task, models, baseline)}


def test_models_at_or_above_the_zero_force_baseline_reproduce() -> None:
    finding = gete_baseline(gete("gete", (0.6, 0.55, 0.65), (0.5, 0.5, 0.52)))
    assert finding.verdict == "reproduced" and finding.reason.startswith("On gete:")
    ratios = {labels[1]: values for labels, values in rows_of(finding)}
    equiformer, baseline = ratios["equiformer"]
    assert (equiformer.value, equiformer.low, equiformer.high) == pytest.approx((1.2, 1.1, 1.3))
    assert baseline.value == pytest.approx(500.0)  # meV/Å
    assert ratios["mace"][0].value == pytest.approx(0.2)


def test_a_model_below_the_baseline_refutes_and_an_interval_across_one_is_inconclusive() -> None:
    finding = gete_baseline(gete("gete-offline", (0.6, 0.55, 0.65), (0.3, 0.28, 0.32)))
    assert finding.verdict == "refuted" and "On gete-offline: " in finding.reason
    assert "torchmdnet beats it (ratio 0.60)" in finding.reason
    finding = gete_baseline(gete("gete", (0.6, 0.55, 0.65), (0.5, 0.45, 0.55)))
    assert finding.verdict == "inconclusive" and "contains 1 (0.90 … 1.10)" in finding.reason
    one_seed = gete_baseline(gete("gete", 0.6, 0.7))
    assert one_seed.verdict == "reproduced" and "one seed: no interval" in one_seed.reason


def test_gete_missing_or_without_baseline_is_inconclusive() -> None:
    finding = gete_baseline(gete("lips", 0.6, 0.7))
    assert finding.verdict == "inconclusive" and NOT_IN_RUN in finding.reason
    finding = gete_baseline(gete("gete", 0.6, 0.7, baseline=None))
    assert finding.verdict == "inconclusive" and "No zero-force baseline" in finding.reason
    without_torchmdnet = {
        "gete": board("gete", {"equiformer": {"force_mae": 0.6}, "mace": {"force_mae": 0.1}}, 0.5)
    }
    finding = gete_baseline(without_torchmdnet)
    assert finding.verdict == "inconclusive" and f"torchmdnet: {NOT_IN_RUN}" in finding.reason


# the documents


def test_markdown_and_html_show_every_finding_with_its_numbers() -> None:
    findings = paper_findings(gete("gete", (0.6, 0.55, 0.65), (0.5, 0.5, 0.52)), {})
    assert [f.number for f in findings] == [1, 2, 3, 4, 5]
    text = findings_markdown(findings, "run r1")
    assert "| 5 | On GeTe, Equiformer" in text and "**reproduced** |" in text
    assert "| gete | equiformer | 1.2 [1.1, 1.3] | 500 |" in text
    assert "**Verdict: inconclusive.** not in this run" in text
    page = findings_html(findings)
    assert page.count('data-verdict="') == 5 and '<span class="verdict reproduced">' in page
    assert number_text(Estimate(value=12.345, low=11.0, high=13.0, lower_bound=True)) == "≥ 12.3 [11, 13]"
    assert number_text(Estimate(value=2.0, low=2.0, high=2.0)) == "2"  # zero width: no interval
    assert PaperFinding.model_validate_json(findings[4].model_dump_json()) == findings[4]


def test_the_report_writes_findings_beside_report_md(tmp_path_factory: pytest.TempPathFactory) -> None:
    built: BuiltReport = shared_report(tmp_path_factory.getbasetemp())
    assert f"the paper's findings checked: {built.files.findings}" in built.output
    findings = built.files.findings.read_text()
    assert findings.startswith("# The paper's findings, checked") and findings.count("**Verdict: ") == 5
    page = Path(built.files.html).read_text()
    assert 'id="paper-findings"' in page and page.count('data-verdict="inconclusive"') == 5
