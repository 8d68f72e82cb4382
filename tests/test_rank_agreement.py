"""Kendall τ between model rankings with a bootstrap interval over replicas, and the metric-sensitivity
verdict and table built from stored score results."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau

from egraffbench.metrics.rank_agreement import rank_agreement, resampled_taus
from egraffbench.metrics.sensitivity_variants import VARIANTS
from egraffbench.report.sensitivity import (
    DOES_NOT_HOLD,
    HOLDS,
    INCONCLUSIVE,
    TaskSensitivity,
    VariantRanking,
    sensitivity_markdown,
    task_sensitivity,
    verdict,
)
from test_report_fixtures import shared_report

MODELS = ("a", "b", "c", "d")
RNG = np.random.default_rng(7)
NOISE = {m: RNG.normal(scale=0.1, size=6) for m in MODELS}  # six replicas per model


def _values(means: dict[str, float], other: dict[str, float]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per model: replicas about ``means`` and the same replicas (same noise) about ``other``."""
    return {m: (means[m] + NOISE[m], other[m] + NOISE[m]) for m in means}


def test_identical_rankings_give_tau_one_with_a_degenerate_interval() -> None:
    means = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    found = rank_agreement(_values(means, {m: 10 * v for m, v in means.items()}))
    assert found.tau == pytest.approx(1.0)
    assert found.low == pytest.approx(1.0) and found.high == pytest.approx(1.0)
    assert found.best_kept and found.best == "a"


def test_reversed_rankings_give_minus_one() -> None:
    means = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    found = rank_agreement({m: (v + NOISE[m], -v - NOISE[m]) for m, v in means.items()})
    assert found.tau == pytest.approx(-1.0)
    assert found.low == pytest.approx(-1.0) and found.high == pytest.approx(-1.0)
    assert not found.best_kept and (found.best, found.best_other) == ("a", "d")


def test_one_swapped_pair_of_four_models() -> None:
    """a < b < c < d against a < c < b < d: one discordant pair of six, τ = 1 − 2/6 = 2/3 (scipy's τ-b)."""
    means = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    found = rank_agreement(_values(means, {"a": 1.0, "b": 3.0, "c": 2.0, "d": 4.0}))
    assert found.tau == pytest.approx(2.0 / 3.0)
    assert found.tau == pytest.approx(kendalltau([1, 2, 3, 4], [1, 3, 2, 4]).statistic)
    # means 1 apart, replica noise 0.1: no resample reorders them
    assert found.low == pytest.approx(2.0 / 3.0) and found.high == pytest.approx(2.0 / 3.0)
    assert found.best_kept


def test_models_within_noise_of_each_other_widen_the_interval() -> None:
    """Two models 0.05 apart with replica noise 0.1: resamples reorder them under one metric and not the
    other, so the interval reaches below the point estimate; the seed fixes it."""
    means = {"a": 1.0, "b": 1.05, "c": 3.0, "d": 4.0}
    independent = {m: (means[m] + NOISE[m], means[m] + RNG.normal(scale=0.1, size=6)) for m in MODELS}
    found = rank_agreement(independent)
    assert found.low < found.tau <= found.high
    assert rank_agreement(independent) == found


def test_a_swap_of_models_tied_within_noise_is_inconclusive() -> None:
    """a and b 1e-4 apart (replica noise 0.1) swap under the variant: τ = 1/3 for three models, yet almost no
    resample orders them differently, so the percentile interval is [1, 1] and excludes τ; neither holds."""
    centred = {m: NOISE[m] - NOISE[m].mean() for m in "abc"}
    default, variant = {"a": 1.0, "b": 1.0001, "c": 3.0}, {"a": 1.0002, "b": 1.0001, "c": 3.0}
    found = rank_agreement({m: (default[m] + centred[m], variant[m] + centred[m]) for m in "abc"})
    assert found.tau == pytest.approx(1.0 / 3.0) and found.low == pytest.approx(1.0)
    assert not found.best_kept
    variants = (VariantRanking(VARIANTS[0], {"wf_percent": found, "jsd": None}),)
    assert verdict(list(variants)) == (
        INCONCLUSIVE,
        "τ or its interval below 0.6 for dr_0.02 (WF); best model changes under dr_0.02 (WF): a → b",
    )
    # the table marks τ outside its interval and says once what that means
    table = sensitivity_markdown([TaskSensitivity("t", ("a", "b", "c"), variants, *verdict(list(variants)))])
    assert "| 0.33 [1.00, 1.00] ‡ | n/a |" in table
    assert table.count("‡") == 2 and "‡ τ lies outside its own interval" in table


def test_resampled_taus_are_scipys_tau_b_with_and_without_ties() -> None:
    rng = np.random.default_rng(11)
    first = rng.integers(0, 4, size=(300, 6)).astype(float)  # ties in most rows
    second = rng.integers(0, 4, size=(300, 6)).astype(float)
    first[:5] = 2.0  # all tied: τ undefined, as scipy's
    first[5:10], second[5:10] = rng.random((5, 6)), rng.random((5, 6))  # no ties
    expected = np.array([kendalltau(x, y).statistic for x, y in zip(first, second, strict=True)])
    found = resampled_taus(first, second)
    assert np.all(np.isnan(found[:5])) and np.all(np.isnan(expected[:5]))
    np.testing.assert_allclose(found[5:], expected[5:], rtol=0, atol=1e-12)


def test_fewer_than_two_models_give_no_tau() -> None:
    found = rank_agreement({"a": (np.ones(3), np.ones(3))})
    assert found.tau is None and found.low is None and found.best == "a"


def _score(wf: np.ndarray, variant_wf: dict[str, np.ndarray]) -> dict:
    """A stored score result: replicas with WF and JSD (= WF / 100) on the default grid and every variant."""
    replicas = []
    for i, value in enumerate(wf):
        sensitivity = {
            v.name: {"wf_percent": float(variant_wf[v.name][i]), "jsd": float(variant_wf[v.name][i]) / 100}
            for v in VARIANTS
        }
        replicas.append({"wf_percent": float(value), "jsd": float(value) / 100, "sensitivity": sensitivity})
    replicas.append({"wf_percent": 99.0, "jsd": 0.9, "segment": "replay"})  # not production: left out
    return {"replica_values": replicas}


def _task(variant_means: dict[str, dict[str, float]]) -> dict[str, list[dict]]:
    """Two seeds per model; model m's WF about m's default mean, under variant v about variant_means[v][m]."""
    defaults = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    scores: dict[str, list[dict]] = {}
    for model, mean in defaults.items():
        for seed in range(2):
            noise = NOISE[model][3 * seed : 3 * seed + 3]
            own = {v.name: variant_means.get(v.name, defaults)[model] + noise for v in VARIANTS}
            scores.setdefault(model, []).append(_score(mean + noise, own))
    return scores


def test_a_ranking_every_variant_keeps_holds() -> None:
    result = task_sensitivity("t", _task({}))
    assert result.verdict == HOLDS and result.models == MODELS
    table = sensitivity_markdown([result])
    assert "**t** (4 models: a, b, c, d): ranking holds" in table
    assert "| Δr = 0.02 Å (`dr_0.02`) | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | yes |" in table
    assert "‡" not in table  # every τ inside its interval: no mark, no note


def test_a_ranking_reversed_by_the_bin_width_does_not_hold() -> None:
    result = task_sensitivity("t", _task({"dr_0.10": {"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}}))
    assert result.verdict == DOES_NOT_HOLD
    assert result.reason == "τ and its whole 95 % interval below 0.6 for dr_0.10 (WF, JSD)"
    assert "| -1.00 [-1.00, -1.00] | -1.00 [-1.00, -1.00] | WF: no (a → d); JSD: no (a → d) |" in (
        sensitivity_markdown([result])
    )


def test_a_new_best_model_under_one_variant_is_inconclusive() -> None:
    result = task_sensitivity("t", _task({"frames_first_half": {"a": 2.0, "b": 1.0, "c": 3.0, "d": 4.0}}))
    assert result.verdict == INCONCLUSIVE
    assert result.reason == (
        "best model changes under frames_first_half (WF): a → b; frames_first_half (JSD): a → b"
    )


def test_results_without_variant_values_are_inconclusive() -> None:
    old = {m: [{"replica_values": [{"wf_percent": 1.0, "jsd": 0.01}]}] for m in MODELS}
    result = task_sensitivity("t", old)
    assert result.verdict == INCONCLUSIVE and "no variant values" in result.reason
    assert "| n/a | n/a | – |" in sensitivity_markdown([result])


def test_the_report_shows_the_sensitivity_of_its_ranking(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The report's stored run (20 fs rollouts): soft (EMT × 0.8) beats wild (EMT × −3) on every grid, but
    wild overheats only late, so on the first half of the frames its JSD is the lower one: the ranking
    depends on the rollout length and does not hold. The EMT oracle is a reference potential, not ranked."""
    files = shared_report(tmp_path_factory.getbasetemp()).files
    markdown = files.markdown.read_text()
    findings, section = markdown.split("## Findings", 1)[1].split("## Metric sensitivity", 1)
    reason = "τ and its whole 95 % interval below 0.6 for frames_first_half (JSD)"
    assert f"- **Metric sensitivity, tiny-cuau.** ranking does not hold: {reason}." in findings
    assert f"**tiny-cuau** (2 models: soft, wild): ranking does not hold — {reason}." in section
    for name in ("dr_0.02", "dr_0.10", "r_max_0.75", "frames_every_other"):
        assert f"(`{name}`) | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | yes |" in section
    assert (
        "(`frames_first_half`) | 1.00 [-1.00, 1.00] | -1.00 [-1.00, -1.00] | WF: yes; JSD: no (soft → wild) |"
        in (section)
    )
    assert "(`r_max_1.50`) | n/a | n/a | – |" in section  # a 7.4 Å cell leaves no room beyond 3.2 Å
    paper = files.findings.read_text()  # the paper's findings, then the same section
    assert paper.index("## 5.") < paper.index("## Metric sensitivity") and paper.endswith(section)
