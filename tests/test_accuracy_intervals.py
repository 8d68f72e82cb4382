"""Intervals of test errors: per-structure sums give back the errors; one seed's interval (a bootstrap over
test structures) against scipy's paired bootstrap and against its nominal coverage, for independent and for
correlated (consecutive MD) test frames, whose block length follows the AR(1) theory; several seeds widen it
to the spread between trainings; the stored form and the summary rows, with and without stored sums."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from egraffbench.errors import TrajectoryError
from egraffbench.metrics import accuracy_intervals
from egraffbench.metrics.accuracy import (
    ERROR_NAMES,
    StructureErrors,
    energy_force_errors,
    error_sums,
    errors_from_sums,
    structure_errors,
)
from egraffbench.metrics.accuracy_intervals import (
    block_length,
    error_intervals,
    paired_ratio_interval,
    system_block_length,
)
from egraffbench.runner.accuracy_summary import (
    accuracy_metrics,
    errors_on_structures,
    stored_structure_errors,
    structure_arrays,
)
from egraffbench.store.schema import EvaluateResult, StructureErrorSums


def _test_set(rng: np.random.Generator, structures: int, scale: float = 0.05) -> tuple:
    """Predictions and references of ``structures`` structures of 3 to 7 atoms (ragged)."""
    reference = [rng.normal(size=(int(rng.integers(3, 8)), 3)) for _ in range(structures)]
    predicted = [f + rng.normal(scale=scale, size=f.shape) for f in reference]
    energy = rng.normal(size=structures)
    return energy + rng.normal(scale=0.1, size=structures), energy, predicted, reference


def test_per_structure_sums_give_back_every_error() -> None:
    errors = _test_set(np.random.default_rng(0), 40)
    direct = energy_force_errors(*errors)
    from_sums = errors_from_sums(error_sums(structure_errors(*errors)))
    assert set(from_sums) == set(ERROR_NAMES) == set(direct)
    for name in ERROR_NAMES:
        assert from_sums[name] == pytest.approx(direct[name], rel=1e-12)


def _agrees_with_scipys_paired_bootstrap(
    ours: tuple[float, float], samples: tuple[np.ndarray, ...], statistic: Callable[..., np.ndarray]
) -> None:
    """``ours`` against scipy's percentile interval of ``statistic`` over ``samples`` resampled together
    (4000 resamples): with different random streams the endpoints agree to Monte Carlo error, a few % of the
    width."""
    theirs = stats.bootstrap(
        samples,
        statistic,
        paired=True,
        vectorized=True,
        n_resamples=4000,
        method="percentile",
        rng=np.random.default_rng(9),
    ).confidence_interval
    width = theirs.high - theirs.low
    assert width > 0
    assert ours[0] == pytest.approx(theirs.low, abs=0.08 * width)
    assert ours[1] == pytest.approx(theirs.high, abs=0.08 * width)


def test_one_seed_interval_agrees_with_scipys_paired_bootstrap() -> None:
    """Force MAE is Σ|ΔF| / Σ components over structures: scipy resamples the two arrays paired."""
    structures = structure_errors(*_test_set(np.random.default_rng(1), 300))
    ours = error_intervals([[structures]], seed=5, resamples=4000)["force_mae"]
    assert ours is not None

    def ratio(sums: np.ndarray, components: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.sum(sums, axis=axis) / np.sum(components, axis=axis)

    _agrees_with_scipys_paired_bootstrap(ours, (structures.force_abs_sum, 3.0 * structures.atoms), ratio)


def test_one_seed_interval_covers_the_true_error_at_its_nominal_rate() -> None:
    """Structures drawn from a known law: |ΔF| components half-normal with σ = 0.05, so the true force MAE
    is σ·√(2/π); 200 test sets of 60 structures, each interval from 1000 resamples."""
    rng = np.random.default_rng(2)
    truth = 0.05 * np.sqrt(2 / np.pi)
    covered = 0
    for trial in range(200):
        interval = error_intervals([[structure_errors(*_test_set(rng, 60))]], seed=trial, resamples=1000)
        low, high = interval["force_mae"]
        covered += low <= truth <= high
    assert 0.89 <= covered / 200 <= 0.99  # 95 % nominal; binomial sd at n = 200 is 1.5 %


def _ar1(rng: np.random.Generator, size: int, phi: float) -> np.ndarray:
    """A stationary AR(1) series x_t = φ x_{t−1} + ε_t with unit innovations."""
    series = np.empty(size)
    series[0] = rng.normal() / np.sqrt(1 - phi**2)
    for t in range(1, size):
        series[t] = phi * series[t - 1] + rng.normal()
    return series


def test_block_length_follows_the_ar1_theory_and_is_one_frame_for_independent_frames() -> None:
    """Circular block bootstrap of an AR(1) mean: b = 6^(1/3) (φ / (1 − φ²))^(2/3) n^(1/3) (Politis and White
    2004 with γ_k ∝ φ^|k|): 110 frames at φ = 0.9, n = 10000."""
    rng = np.random.default_rng(6)
    phi, size = 0.9, 10_000
    theory = 6 ** (1 / 3) * (phi / (1 - phi**2)) ** (2 / 3) * size ** (1 / 3)
    assert block_length(_ar1(rng, size, phi)) == pytest.approx(theory, rel=0.25)
    assert block_length(rng.normal(size=1000)) <= 3
    assert block_length(np.ones(50)) == block_length(rng.normal(size=5)) == 1


def _consecutive_frames(rng: np.random.Generator, size: int) -> StructureErrors:
    """Force errors of consecutive MD frames: per-structure MAE 1 + 0.2 x_t with x_t an AR(1) series
    (φ = 0.9), one atom each, so the true force MAE is 1."""
    mae = 1.0 + 0.2 * _ar1(rng, size, 0.9) * np.sqrt(1 - 0.9**2)
    return StructureErrors(np.zeros(size), np.ones(size, dtype=int), 3.0 * mae, 3.0 * mae**2)


def test_correlated_test_frames_get_blocks_and_near_nominal_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    """150 test sets of 1000 consecutive frames (MD17's test splits here: 1000 frames 0.5 fs apart): resampled
    frame by frame, the 95 % interval covers the true force MAE in a third of them (measured 0.35); in blocks,
    in 0.91 (block bootstraps cover a little under nominal when the frames are this correlated)."""
    rng = np.random.default_rng(7)
    sets = [_consecutive_frames(rng, 1000) for _ in range(150)]

    def coverage() -> float:
        hits = 0
        for trial, errors in enumerate(sets):
            low, high = error_intervals([[errors]], seed=trial, resamples=1000)["force_mae"]
            hits += low <= 1.0 <= high
        return hits / len(sets)

    in_blocks = coverage()
    monkeypatch.setattr(accuracy_intervals, "system_block_length", lambda errors: 1)
    frame_by_frame = coverage()
    assert in_blocks >= 0.85
    assert frame_by_frame <= 0.5


def test_several_seeds_widen_the_interval_to_the_spread_between_trainings() -> None:
    """Three trainings whose force errors differ by 2× and 3×: with 1000 structures each, the structures
    alone resolve them; resampling the seeds spans from the best training to the worst (all three draws
    the same seed has probability 1/27 > 2.5 %)."""
    rng = np.random.default_rng(3)
    seeds = [[structure_errors(*_test_set(rng, 1000, scale=scale))] for scale in (0.02, 0.04, 0.06)]
    per_seed = [errors_from_sums(error_sums(s[0]))["force_mae"] for s in seeds]
    low, high = error_intervals(seeds, seed=0)["force_mae"]
    assert low == pytest.approx(per_seed[0], rel=0.03)
    assert high == pytest.approx(per_seed[2], rel=0.03)
    one_low, one_high = error_intervals(seeds[1:2], seed=0)["force_mae"]
    assert one_high - one_low < 0.05 * (high - low)
    assert error_intervals(seeds, seed=0) == error_intervals(seeds, seed=0)  # seeded


def test_identical_structures_give_a_zero_width_interval_and_non_finite_errors_none() -> None:
    same = StructureErrors(np.full(5, 0.2), np.full(5, 4), np.full(5, 1.2), np.full(5, 0.5))
    low, high = error_intervals([[same]])["force_mae"]
    assert low == high == pytest.approx(1.2 / 12)
    broken = same._replace(force_abs_sum=np.array([1.2, np.nan, 1.2, 1.2, 1.2]))
    intervals = error_intervals([[broken]])
    assert intervals["force_mae"] is None and intervals["energy_mae"] is not None


def test_stored_sums_keep_seven_significant_digits() -> None:
    structures = structure_errors(*_test_set(np.random.default_rng(4), 50))
    stored = StructureErrorSums(**stored_structure_errors(structures))
    back = structure_arrays(stored)
    np.testing.assert_array_equal(back.atoms, structures.atoms)
    for name in ("energy_error", "force_abs_sum", "force_sq_sum"):
        np.testing.assert_allclose(getattr(back, name), getattr(structures, name), rtol=5e-7, atol=0)
        assert not np.array_equal(getattr(back, name), getattr(structures, name))  # rounded, not raw
    with pytest.raises(ValueError, match="differ in length"):
        StructureErrorSums(energy_error=[0.1], atoms=[1, 2], force_abs_sum=[0.1], force_sq_sum=[0.1])


def _evaluated(errors: tuple, with_sums: bool) -> EvaluateResult:
    """An evaluate record of one test system "s" (and the same pooled), as the stage stores it."""
    values = energy_force_errors(*errors)
    sums = {"s": stored_structure_errors(structure_errors(*errors))} if with_sums else {}
    return EvaluateResult(**values, frames=len(errors[1]), systems={"s": values}, structures=sums)


def test_summary_rows_take_the_structure_interval_and_keep_the_stored_value() -> None:
    errors = _test_set(np.random.default_rng(5), 200)
    value = energy_force_errors(*errors)["force_mae"]
    rows = {(r.name, r.system): r for r in accuracy_metrics([_evaluated(errors, True)], seed=0)}
    assert {system for _, system in rows} == {"", "s"}
    row = rows[("force_mae", "")]
    assert row.value == value  # the stored error itself, not recomputed from rounded sums
    assert row.low < value < row.high and row.unit == "eV/Å"
    one_system = rows[("force_mae", "s")]  # the only system: its structures are the pooled ones
    assert (one_system.value, one_system.low, one_system.high) == (row.value, row.low, row.high)
    # results stored before the sums (evaluate version 2): one seed has no interval, as before
    old = {(r.name, r.system): r for r in accuracy_metrics([_evaluated(errors, False)], seed=0)}
    assert old[("force_mae", "")].low == old[("force_mae", "")].high == value
    # a mix of seeds with and without sums falls back to the bootstrap over seeds
    mixed = accuracy_metrics([_evaluated(errors, True), _evaluated(errors, False)], seed=0)
    assert all(r.low == r.high for r in mixed)


def test_errors_on_some_structures_are_those_of_the_kept_structures_alone() -> None:
    """Two test systems stored as the evaluate stage does; kept to the last 25 structures of one, the errors
    are those of these 25 computed from their raw predictions, not the two systems' pooled ones."""
    rng = np.random.default_rng(6)
    a, b = _test_set(rng, 60), _test_set(rng, 40, scale=0.2)
    both = tuple(list(x) + list(y) for x, y in zip(a, b, strict=True))
    result = EvaluateResult(
        **energy_force_errors(*both),
        frames=100,
        systems={"a": energy_force_errors(*a), "b": energy_force_errors(*b)},
        structures={name: stored_structure_errors(structure_errors(*e)) for name, e in (("a", a), ("b", b))},
    )
    last = errors_on_structures(result, {"b": list(range(15, 40)), "c": [0]})
    assert last is not None and last.frames == 25 and set(last.systems) == set(last.structures) == {"b"}
    expected = energy_force_errors(*(values[15:] for values in b))
    for name, value in expected.items():
        assert getattr(last, name) == pytest.approx(value, rel=2e-6)  # from sums stored to 7 digits
        assert getattr(last.systems["b"], name) == pytest.approx(value, rel=2e-6)
    assert last.force_mae > 1.5 * result.force_mae  # b's larger force noise, no longer diluted by a's
    whole = errors_on_structures(result, {"a": list(range(60)), "b": list(range(40))})
    assert whole is not None and whole.force_mae == pytest.approx(result.force_mae, rel=2e-6)
    assert errors_on_structures(result, {"c": [0]}) is None  # none of its systems
    assert errors_on_structures(result, {"b": [40]}) is None  # no 41st structure
    assert errors_on_structures(result.model_copy(update={"structures": {}}), {"b": [0]}) is None  # no sums


def _independent_structures(rng: np.random.Generator, size: int) -> StructureErrors:
    """``size`` independent structures of 5 atoms whose force MAEs spread widely (gamma, shape 2), with no
    energy error."""
    mae = rng.gamma(2.0, 0.05, size=size)
    return StructureErrors(np.zeros(size), np.full(size, 5), 15.0 * mae, 15.0 * mae**2)


def test_a_paired_ratio_of_errors_on_the_same_structures_cancels_what_they_share() -> None:
    """A model 1.1× worse on every structure: the ratio is 1.1 in every resample, while each side's own
    interval spans the structures' spread (the two overlap: compared unpaired, nothing is resolved)."""
    inside = _independent_structures(np.random.default_rng(3), 60)
    outside = inside._replace(force_abs_sum=1.1 * inside.force_abs_sum)
    low, high = paired_ratio_interval([[outside]], [[inside]], "force_mae", seed=1)
    assert (low, high) == pytest.approx((1.1, 1.1), rel=1e-12)
    (in_low, in_high), (out_low, out_high) = (error_intervals([[e]])["force_mae"] for e in (inside, outside))
    assert out_low < in_high and out_high / in_low > 1.3


def test_a_paired_ratio_interval_agrees_with_scipys_paired_bootstrap() -> None:
    """Independent structures (blocks of one): scipy resamples the two sides' errors and the component counts
    together, the statistic (Σ|ΔF|_out / Σn) / (Σ|ΔF|_in / Σn)."""
    rng = np.random.default_rng(4)
    inside = _independent_structures(rng, 300)
    outside = inside._replace(force_abs_sum=inside.force_abs_sum * rng.normal(1.05, 0.1, size=300))
    assert system_block_length(inside) == system_block_length(outside) == 1
    ours = paired_ratio_interval([[outside]], [[inside]], "force_mae", seed=5, resamples=4000)

    def ratio(out: np.ndarray, in_: np.ndarray, components: np.ndarray, axis: int = -1) -> np.ndarray:
        return (out.sum(axis=axis) / components.sum(axis=axis)) / (
            in_.sum(axis=axis) / components.sum(axis=axis)
        )

    assert ours is not None
    samples = (outside.force_abs_sum, inside.force_abs_sum, 3.0 * inside.atoms)
    _agrees_with_scipys_paired_bootstrap(ours, samples, ratio)


def test_a_paired_ratio_needs_the_same_structures_on_both_sides() -> None:
    errors = structure_errors(*_test_set(np.random.default_rng(6), 20))
    other = structure_errors(*_test_set(np.random.default_rng(7), 20))  # other atom counts
    with pytest.raises(TrajectoryError, match="same structures"):
        paired_ratio_interval([[errors]], [[other]], "force_mae")
    with pytest.raises(TrajectoryError, match="same test systems"):
        paired_ratio_interval([[errors, errors]], [[errors]], "force_mae")
