"""Metric sensitivity variants: exact values on constructed molecules, equality with an independent
recomputation through the scoring front end, and the values a real run's score stage stores."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import numpy as np
import pytest

from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.sensitivity import variant_references, variant_scores
from egraffbench.metrics.sensitivity_variants import VARIANT_BY_NAME, VARIANTS, selected_frames
from egraffbench.metrics.structure import DEFAULT_DR, default_molecule_r_max, default_r_max
from egraffbench.runner.rollout_scoring import Rollout, structure_values
from egraffbench.runner.stages import read_rollout
from test_runner_fixtures import ReferenceRun, shared_reference_run

NAMES = [variant.name for variant in VARIANTS]


@pytest.fixture
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    return shared_reference_run(tmp_path_factory)


def _linear(middle: float, frames: int = 4) -> np.ndarray:
    """A linear triatomic at x = 0, ``middle``, 4 Å in every frame (distances middle, 4 − middle, 4 Å)."""
    return np.array([[[0.0, 0, 0], [middle, 0, 0], [4.0, 0, 0]]] * frames)


def _vibrating(frames: int, shift: float = 0.0, seed: int = 0) -> np.ndarray:
    """A bent triatomic whose two bonds vibrate about 1.2 Å (σ 0.08 Å) and stretch by ``shift`` (Å)."""
    rng = np.random.default_rng(seed)
    bonds = 1.2 + shift + rng.normal(scale=0.08, size=(frames, 2))
    angle = np.radians(104.5)
    positions = np.zeros((frames, 3, 3))
    positions[:, 1, 0] = bonds[:, 0]
    positions[:, 2, 0] = bonds[:, 1] * np.cos(angle)
    positions[:, 2, 1] = bonds[:, 1] * np.sin(angle)
    return positions


def _scores(frames: np.ndarray, reference_frames: np.ndarray) -> dict:
    default = reference_structure(reference_frames, None, "hr")
    return variant_scores(frames, None, variant_references(reference_frames, None, default))


def test_the_reference_scored_against_itself_gives_zero_under_every_variant() -> None:
    still = _linear(1.01, frames=6)
    for values in _scores(still, still).values():
        assert values["wf_percent"] == 0.0 and values["jsd"] == 0.0
    moving = _vibrating(400)
    scores = _scores(moving, moving)
    for name in ("dr_0.02", "dr_0.10", "r_max_0.75", "r_max_1.50"):
        assert scores[name]["wf_percent"] == 0.0 and scores[name]["jsd"] == 0.0
    for name in ("frames_every_other", "frames_first_half"):  # half the frames of a noisy rollout: not equal
        assert 0.0 < scores[name]["wf_percent"] < 20.0 and scores[name]["jsd"] > 0.0


def test_coarser_bins_merge_a_shift_smaller_than_the_bin() -> None:
    """Distances 1.01, 2.99, 4 Å against 1.03, 2.97, 4 Å: two of three in other 0.02 Å bins (1.01 in bin 50,
    1.03 in 51; 2.99 in 149, 2.97 in 148), all three in the same 0.05 Å and 0.1 Å bins."""
    scores = _scores(_linear(1.03), _linear(1.01))
    # two of three equal spikes moved to empty bins: Σ(Δs)² = 4 h², Σ s_ref² = 3 h²
    assert scores["dr_0.02"]["wf_percent"] == pytest.approx(400.0 / 3.0, rel=1e-12)
    # P and Q share one third of their mass: JSD = (2/3) ln 2
    assert scores["dr_0.02"]["jsd"] == pytest.approx(2.0 / 3.0 * np.log(2.0), rel=1e-12)
    for name in ("dr_0.10", "r_max_0.75", "r_max_1.50", "frames_every_other", "frames_first_half"):
        assert scores[name]["wf_percent"] == 0.0 and scores[name]["jsd"] == 0.0


def test_a_longer_bond_scores_worse_under_every_variant() -> None:
    reference = _vibrating(2000, seed=1)
    shifts = (0.02, 0.05, 0.1, 0.2)
    rows = [_scores(_vibrating(2000, shift, seed=2), reference) for shift in shifts]
    for name in NAMES:
        wf = [row[name]["wf_percent"] for row in rows]
        jsd = [row[name]["jsd"] for row in rows]
        assert np.all(np.diff(wf) > 0) and np.all(np.diff(jsd) > 0), name


def test_variant_grids_follow_the_reference() -> None:
    reference = _vibrating(50)
    default = reference_structure(reference, None, "hr")
    grids = {name: (c.dr, c.r_max) for name, c in variant_references(reference, None, default).items()}
    assert grids["dr_0.02"] == pytest.approx((0.02, default_molecule_r_max(reference, 0.02)), rel=1e-12)
    assert grids["dr_0.10"] == pytest.approx((0.1, default_molecule_r_max(reference, 0.1)), rel=1e-12)
    longest = default_molecule_r_max(reference, DEFAULT_DR)
    assert grids["r_max_0.75"][1] == pytest.approx(DEFAULT_DR * np.floor(0.75 * longest / DEFAULT_DR + 1e-9))
    assert grids["r_max_1.50"][1] == pytest.approx(DEFAULT_DR * np.floor(1.5 * longest / DEFAULT_DR + 1e-9))
    assert grids["frames_every_other"] == grids["frames_first_half"] == (default.dr, default.r_max)


def test_a_periodic_cell_allows_no_longer_range_than_its_own_bound() -> None:
    rng = np.random.default_rng(3)
    cell = np.diag([7.0, 7.0, 7.0])  # (7 − 1)/2 = 3 Å = the default r_max: no room for r_max × 1.5
    positions = rng.uniform(0, 7.0, size=(3, 40, 3))
    default = reference_structure(positions, cell, "rdf")
    assert variant_references(positions, cell, default)["r_max_1.50"] is None
    big = np.diag([30.0, 30.0, 30.0])  # the 10 Å cap, not the cell, bounds the default: 14.5 Å allowed
    positions = rng.uniform(0, 30.0, size=(2, 300, 3))
    default = reference_structure(positions, big, "rdf")
    longer = variant_references(positions, big, default)["r_max_1.50"]
    assert default.r_max == pytest.approx(10.0) and longer.r_max == pytest.approx(14.5)


def test_frame_selections_keep_the_same_count() -> None:
    assert selected_frames(7, "every-other").tolist() == [0, 2, 4, 6]
    assert selected_frames(7, "first-half").tolist() == [0, 1, 2, 3]
    assert selected_frames(7, "all").tolist() == list(range(7))


def _recomputed(name: str, positions: np.ndarray, cells, reference_positions, reference_cells, kind: str):
    """WF and JSD of ``name`` by hand: the variant's grid worked out from the reference, its frames picked,
    then the scoring front end."""
    variant = VARIANT_BY_NAME[name]
    if kind == "rdf":
        rule = default_r_max(reference_cells)
        base = DEFAULT_DR * np.floor(rule / DEFAULT_DR + 1e-9)
    else:
        base = default_molecule_r_max(reference_positions, DEFAULT_DR)
    r_max = None if variant.r_max_factor is None else variant.r_max_factor * base
    dr = DEFAULT_DR if variant.dr is None else variant.dr
    reference = reference_structure(reference_positions, reference_cells, kind, dr=dr, r_max=r_max)
    n = len(positions)
    keep = {"all": slice(None), "every-other": slice(None, None, 2), "first-half": slice(0, (n + 1) // 2)}
    pick = keep[variant.frames]
    scored = score_structure(positions[pick], None if cells is None else cells[pick], reference)
    return scored.wf_percent, scored.jsd


def test_structure_values_store_what_the_front_end_gives_on_each_variant_grid() -> None:
    reference = _vibrating(300, seed=4)
    rollouts = [_vibrating(101, shift, seed=5 + i) for i, shift in enumerate((0.0, 0.03))]
    rollouts[1][60:] = np.nan  # a failed replica: its non-finite frames are dropped first
    cells = np.zeros((101, 3, 3))
    stored, _ = structure_values(
        [Rollout(p, cells, np.ones(3), np.arange(101.0), None, None, None, None) for p in rollouts],
        reference,
        np.zeros((300, 3, 3)),
        periodic=False,
    )
    for positions, (wf, _, variants) in zip(rollouts, stored, strict=True):
        finite = positions[np.isfinite(positions).all(axis=(1, 2))]
        assert sorted(variants) == sorted(NAMES)
        for name in NAMES:
            expected = _recomputed(name, finite, None, reference, None, "hr")
            assert variants[name]["wf_percent"] == pytest.approx(expected[0], abs=1e-12, rel=1e-12)
            assert variants[name]["jsd"] == pytest.approx(expected[1], abs=1e-12, rel=1e-12)
        assert variants["frames_every_other"]["wf_percent"] != wf


def test_a_real_run_stores_every_variant_per_replica(reference_run: ReferenceRun) -> None:
    """The tiny Cu–Au run: g(r) in a 7.4 Å cell, where r_max × 1.5 has no room (not applicable); every other
    variant equals a recomputation."""
    reference_frames = ase.io.read(reference_run.task_file.parent / "data" / "test.extxyz", ":")
    reference_positions = np.array([a.positions for a in reference_frames])
    reference_cells = np.array([a.cell.array for a in reference_frames])
    score_files = sorted(Path(reference_run.run_dir).glob("stages/score/*/result.json"))
    assert len(score_files) == 2  # mace and emt

    for path in score_files:
        result = json.loads(path.read_text())
        simulation = json.loads((path.parent / "inputs.json").read_text())["simulation"]
        trajectory = Path(reference_run.run_dir) / "stages" / "simulate" / simulation / "trajectory.h5"
        for index, replica in enumerate(result["replica_values"]):
            variants = replica["sensitivity"]
            assert sorted(variants) == sorted(NAMES)
            assert variants["r_max_1.50"] == {"wf_percent": None, "jsd": None, "dr": None, "r_max": None}
            rollout = read_rollout(trajectory, index)
            for name in ("dr_0.02", "dr_0.10", "r_max_0.75", "frames_every_other", "frames_first_half"):
                expected = _recomputed(
                    name, rollout.positions, rollout.cells, reference_positions, reference_cells, "rdf"
                )
                assert variants[name]["wf_percent"] == pytest.approx(expected[0], abs=1e-12, rel=1e-12)
                assert variants[name]["jsd"] == pytest.approx(expected[1], abs=1e-12, rel=1e-12)
