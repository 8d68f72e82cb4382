"""Does a ranking of models survive a change of metric? Kendall τ between the models' ranking by the mean of
one per-replica metric and by the mean of another (e.g. WF on two histogram grids), with a 95 % bootstrap
interval that resamples replicas within each model (docs/metrics.md, "Metric sensitivity")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import kendalltau

AGREEMENT_RESAMPLES = 2000
AGREEMENT_SEED = 0


@dataclass(frozen=True)
class RankAgreement:
    """Kendall τ-b between two rankings of ``models`` (lower mean = better), its 95 % bootstrap interval, and
    the best model under each; τ and its bounds are None with fewer than two models or all of them tied."""

    models: tuple[str, ...]
    tau: float | None
    low: float | None
    high: float | None
    best: str
    best_other: str

    @property
    def best_kept(self) -> bool:
        return self.best == self.best_other


def _tau(first: np.ndarray, second: np.ndarray) -> float:
    return float(kendalltau(first, second).statistic)


def _resampled_means(
    pairs: list[np.ndarray], rng: np.random.Generator, n_resamples: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n_resamples, models) means of both metrics, each model's replicas resampled with replacement (the
    same replicas for both metrics: the pairing is kept)."""
    first = np.empty((n_resamples, len(pairs)))
    second = np.empty_like(first)
    for column, values in enumerate(pairs):
        picks = rng.integers(0, values.shape[1], size=(n_resamples, values.shape[1]))
        first[:, column] = values[0][picks].mean(axis=1)
        second[:, column] = values[1][picks].mean(axis=1)
    return first, second


def resampled_taus(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Kendall τ-b between ``first`` and ``second`` row by row, (R, M) → (R,): scipy's formula,
    (n_c − n_d) / √((n₀ − n₁)(n₀ − n₂)), vectorised over the resamples (NaN where a row is all ties)."""
    i, j = np.triu_indices(first.shape[1], k=1)
    a, b = np.sign(first[:, i] - first[:, j]), np.sign(second[:, i] - second[:, j])
    untied = np.abs(a).sum(axis=1) * np.abs(b).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a * b).sum(axis=1) / np.sqrt(untied)


def rank_agreement(
    values: Mapping[str, ArrayLike],
    *,
    n_resamples: int = AGREEMENT_RESAMPLES,
    seed: int = AGREEMENT_SEED,
) -> RankAgreement:
    """Kendall τ between the ranking of the models by the mean of the first and of the second metric, from
    ``values``: model → (2, n), the first and the second metric of the same n ≥ 1 replicas. The 95 %
    percentile interval resamples each model's replicas ``n_resamples`` times (seeded)."""
    models = tuple(values)
    pairs = [np.asarray(values[m], dtype=float).reshape(2, -1) for m in models]
    means = np.array([[p[0].mean() for p in pairs], [p[1].mean() for p in pairs]])
    best, best_other = models[int(np.argmin(means[0]))], models[int(np.argmin(means[1]))]
    if len(models) < 2:
        return RankAgreement(models, None, None, None, best, best_other)
    tau = _tau(means[0], means[1])
    taus = resampled_taus(*_resampled_means(pairs, np.random.default_rng(seed), n_resamples))
    taus = taus[np.isfinite(taus)]
    if not np.isfinite(tau) or not taus.size:
        return RankAgreement(models, None, None, None, best, best_other)
    low, high = np.percentile(taus, [2.5, 97.5])
    return RankAgreement(models, tau, float(low), float(high), best, best_other)
