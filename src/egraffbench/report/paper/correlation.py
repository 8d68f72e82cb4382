"""Finding 2 of the paper, "a low energy/force error does not guarantee stable or faithful MD", checked
against a run: Spearman ρ between test force MAE and stability or structure fidelity over (model, task)
pairs, with a bootstrap interval."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import ConstantInputWarning, DegenerateDataWarning, bootstrap, pearsonr, quantile, rankdata

from egraffbench.report.paper.records import (
    MIN_MODELS,
    NOT_IN_RUN,
    Estimate,
    FindingRow,
    PaperClaim,
    PaperFinding,
    Verdict,
    not_in_run,
    ranked_rows,
)
from egraffbench.report.table import Leaderboard
from egraffbench.store.catalog import COLUMN_BY_KEY

STRONG = 0.5  # |Spearman ρ| from which low error is a strong predictor of good MD (Cohen's "large")
MIN_PAIRS = 6
BOOTSTRAP_SEED = 2310_02428  # the paper's arXiv number
BOOTSTRAP_RESAMPLES = 9999
MAX_UNDEFINED = 0.01  # share of resamples with ρ undefined (a variable constant in them) that may be left out
MD_MEASURES = ("median_time_to_failure_ps", "stable_fraction", "wf_percent")


CLAIM_2 = "A low energy or force error on the test set does not guarantee a stable or faithful simulation."
RULE_2 = (
    "Spearman ρ between test force MAE and each MD measure (median time to failure, fraction of stable "
    "replicas, WF) across (model, task) pairs, with a percentile bootstrap 95 % interval (pairs "
    f"resampled, {BOOTSTRAP_RESAMPLES} resamples, seed {BOOTSTRAP_SEED}; resamples without a ρ, which drew "
    f"one value of a variable only, are left out while they are at most {MAX_UNDEFINED:.0%} of them, else "
    "the interval is undefined). Twice: on the values pooled over "
    "tasks, and on ranks within each task (each task's models ranked, ranks scaled to 0 … 1), which "
    "removes the differences between tasks; the verdict uses the within-task ranks. The agreement a is ρ "
    "oriented so that +1 means 'lower error, better MD'. Per measure: reproduced when the interval of a "
    f"lies below {STRONG} (low error is not a strong predictor), refuted when it lies at or above "
    f"{STRONG}, else inconclusive. Finding: reproduced when one measure is, refuted when all are, else "
    f"inconclusive. Needs {MIN_MODELS} models and {MIN_PAIRS} pairs; a censored time to failure counts as "
    "the run length."
)
ERROR_VS_MD = PaperClaim("error-vs-md", 2, CLAIM_2, RULE_2)


def spearman_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman ρ of paired samples and its percentile bootstrap 95 % interval (pairs resampled,
    :data:`BOOTSTRAP_RESAMPLES` resamples, seed :data:`BOOTSTRAP_SEED`). A resample that draws one value of x
    or y only has no ρ; up to :data:`MAX_UNDEFINED` of them are left out (many tied pairs make a few such
    resamples likely), more make the interval NaN, as a constant sample makes ρ NaN."""

    def rho(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return pearsonr(rankdata(a, axis=axis), rankdata(b, axis=axis), axis=axis).statistic

    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", ConstantInputWarning)
        warnings.simplefilter("ignore", DegenerateDataWarning)
        value = float(rho(x, y))
        result = bootstrap(
            (x, y),
            rho,
            paired=True,
            vectorized=True,
            n_resamples=BOOTSTRAP_RESAMPLES,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
    replicates = result.bootstrap_distribution
    defined = replicates[np.isfinite(replicates)]
    if defined.size < (1.0 - MAX_UNDEFINED) * replicates.size:
        return value, float("nan"), float("nan")
    low, high = quantile(defined, [0.025, 0.975])  # the quantiles scipy's percentile interval takes
    return value, float(low), float(high)


def _within_task(values: Sequence[float]) -> list[float]:
    """Ranks of a task's values scaled to 0 … 1 (ties share the average)."""
    ranks = rankdata(values)
    return list((ranks - 1) / (len(values) - 1))


def _md_pairs(boards: Mapping[str, Leaderboard], key: str) -> tuple[list[tuple[float, float]], ...]:
    """(force MAE, measure) of every ranked model of every task: the values, and within-task ranks."""
    pooled, within = [], []
    for board in boards.values():
        pairs = [
            (row.cells["force_mae"].value, row.cells[key].value)
            for row in ranked_rows(board)
            if row.cells["force_mae"].value is not None and row.cells[key].value is not None
        ]
        pooled += pairs
        if len(pairs) >= 2:
            errors, measures = zip(*pairs, strict=True)
            within += list(zip(_within_task(errors), _within_task(measures), strict=True))
    return pooled, within


def _measure_verdict(rho: float, low: float, high: float, sign: int) -> tuple[Verdict, str]:
    if np.isnan(rho) or np.isnan(low) or np.isnan(high):
        return "inconclusive", "ρ or its interval undefined (constant values in the sample or its resamples)"
    agreement = sorted((sign * low, sign * high))
    if agreement[1] < STRONG:
        return "reproduced", f"agreement below {STRONG}: low error is not a strong predictor"
    if agreement[0] >= STRONG:
        return "refuted", f"agreement at least {STRONG}: low error predicts good MD"
    return "inconclusive", f"interval of the agreement contains {STRONG}"


def _correlation(pairs: Sequence[tuple[float, float]], sign: int) -> tuple[Estimate, Verdict, str]:
    """Spearman ρ of (force MAE, measure) pairs with its interval, the verdict of the measure and why."""
    x, y = (np.array(v, dtype=float) for v in zip(*pairs, strict=True))
    rho, low, high = spearman_interval(x, y)
    return Estimate(value=rho, low=low, high=high), *_measure_verdict(rho, low, high, sign)


def error_vs_md(boards: Mapping[str, Leaderboard]) -> PaperFinding:
    """Finding 2: rank correlation of test force MAE with stability and structure fidelity."""
    models = {row.model for board in boards.values() for row in ranked_rows(board)}
    rows, verdicts, reasons, counts = [], [], [], []
    for key in MD_MEASURES:
        column = COLUMN_BY_KEY[key]
        sign = -1 if column.better == "higher" else 1  # +1 agreement: lower error, better MD
        pooled, within = _md_pairs(boards, key)
        counts.append(len(within))
        for basis, pairs in (("values pooled over tasks", pooled), ("ranks within each task", within)):
            value, reading, why = None, "inconclusive", NOT_IN_RUN
            if len(models) >= MIN_MODELS and len(pairs) >= MIN_PAIRS:
                value, reading, why = _correlation(pairs, sign)
            rows.append(FindingRow(labels=(column.header, basis, str(len(pairs)), reading), values=(value,)))
        verdicts.append(reading)  # the within-task ranks decide
        reasons.append(f"{column.header}: {why}")
    headers = (("MD measure", "basis", "pairs", "reading"), ("Spearman ρ with force MAE",))
    if "reproduced" in verdicts:
        verdict: Verdict = "reproduced"
    else:
        verdict = "refuted" if all(v == "refuted" for v in verdicts) else "inconclusive"
    reason = "Within-task ranks — " + "; ".join(reasons) + "."
    if all(why.endswith(NOT_IN_RUN) for why in reasons):
        found = f"at most {max(counts)} (model, task) pairs, {len(models)} ranked model(s)"
        reason = not_in_run(f"{found}; needs {MIN_PAIRS} pairs of {MIN_MODELS} models")
    return ERROR_VS_MD.checked(headers, rows, verdict, reason)
