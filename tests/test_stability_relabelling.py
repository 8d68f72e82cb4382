"""The bond check up to a relabelling of atoms: a tautomer is intact, a hydrogen on the wrong atom is not."""

from __future__ import annotations

from itertools import permutations, product

import numpy as np
import pytest
import torch
from ase.build import molecule

from egraffbench.md.state import state_from_structures
from egraffbench.md.watch import StabilityWatch
from egraffbench.metrics import (
    Failure,
    StabilityCriteria,
    bonded_pairs,
    check_stability,
    first_failure,
    relabelled_bonds,
)

FORMIC = molecule("HCOOH")  # O0 (hydroxyl), C1, O2 (carbonyl), H3 (on O0), H4 (on C1)
HYDROXYL_H = 3


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def tautomer() -> np.ndarray:
    """Formic acid with its acidic proton mirrored onto the carbonyl oxygen: the same molecule relabelled
    (O0 ↔ O2), O2–H 1.03 Å, and the old O0–H3 bond 0.98 → 2.40 Å."""
    positions = FORMIC.positions.copy()
    carbon = positions[1]
    normal = _unit(_unit(positions[0] - carbon) - _unit(positions[2] - carbon))  # the O–C–O mirror plane's
    hydrogen = positions[HYDROXYL_H]
    positions[HYDROXYL_H] = hydrogen - 2.0 * ((hydrogen - carbon) @ normal) * normal
    return positions


def proton_on_carbon() -> np.ndarray:
    """The acidic proton moved onto the carbon (1.1 Å above the plane): a different molecule."""
    positions = FORMIC.positions.copy()
    positions[HYDROXYL_H] = positions[1] + [0.0, 0.0, 1.1]
    return positions


def reference() -> tuple[np.ndarray, np.ndarray]:
    bonds = bonded_pairs(FORMIC.positions, FORMIC.numbers)
    lengths = np.linalg.norm(FORMIC.positions[bonds[:, 1]] - FORMIC.positions[bonds[:, 0]], axis=1)
    return bonds, lengths


def brute_force_exists(positions: np.ndarray, tolerance: float) -> bool:
    """Whether any element-preserving permutation (formic acid has 4) keeps every bond within tolerance."""
    bonds, lengths = reference()
    numbers = FORMIC.numbers
    groups = [np.flatnonzero(numbers == z) for z in np.unique(numbers)]
    for images in product(*(permutations(group) for group in groups)):
        phi = np.arange(len(numbers))
        for group, image in zip(groups, images, strict=True):
            phi[group] = image
        now = np.linalg.norm(positions[phi[bonds[:, 1]]] - positions[phi[bonds[:, 0]]], axis=1)
        if np.all(np.abs(now - lengths) <= tolerance):
            return True
    return False


def test_tautomer_is_relabelled_and_a_misplaced_proton_is_not() -> None:
    bonds, lengths = reference()
    relabelled = relabelled_bonds(tautomer(), FORMIC.numbers, bonds, lengths, 0.5)
    assert relabelled is not None
    now = np.linalg.norm(tautomer()[relabelled[:, 1]] - tautomer()[relabelled[:, 0]], axis=1)
    assert np.all(np.abs(now - lengths) <= 0.5)
    assert sorted(map(tuple, np.sort(relabelled, axis=1))) == [(0, 1), (1, 2), (1, 4), (2, 3)]  # O0 ↔ O2
    assert relabelled_bonds(proton_on_carbon(), FORMIC.numbers, bonds, lengths, 0.5) is None
    assert relabelled_bonds(np.full((5, 3), np.nan), FORMIC.numbers, bonds, lengths, 0.5) is None


def test_search_agrees_with_brute_force_on_random_distortions() -> None:
    """VF2's verdict equals the exhaustive one over every element-preserving permutation."""
    rng = np.random.default_rng(7)
    bonds, lengths = reference()
    verdicts = []
    for start in (FORMIC.positions, tautomer(), proton_on_carbon()):
        for _ in range(40):
            positions = start + rng.normal(scale=0.25, size=start.shape)
            found = relabelled_bonds(positions, FORMIC.numbers, bonds, lengths, 0.5) is not None
            assert found == brute_force_exists(positions, 0.5)
            verdicts.append(found)
    assert 20 < sum(verdicts) < 100  # both verdicts occur


def test_check_stability_relabels_only_when_allowed() -> None:
    """Three formic acids in one batch: intact, tautomer, proton on carbon."""
    start = np.tile(FORMIC.positions, (3, 1))
    now = np.concatenate([FORMIC.positions, tautomer(), proton_on_carbon()])
    bonds, _ = reference()
    common = {
        "initial_positions": start,
        "bonds": np.concatenate([bonds + 5 * r for r in range(3)]),
        "numbers": np.tile(FORMIC.numbers, 3),
    }
    index = np.repeat(np.arange(3), 5)
    assert check_stability(now, index, [-1.0] * 3, **common) == [None, None, "bond-deviation"]
    off = StabilityCriteria(bond_relabelling=False)
    reasons = check_stability(now, index, [-1.0] * 3, criteria=off, **common)
    assert reasons == [None, "bond-deviation", "bond-deviation"]
    without_numbers = {**common, "numbers": None}
    assert check_stability(now, index, [-1.0] * 3, **without_numbers)[1] == "bond-deviation"


def test_first_failure_passes_a_tautomerising_trajectory() -> None:
    """The proton hops O0 → O2 → O0; only a frame with the proton on carbon ends the trajectory."""
    hops = np.stack([FORMIC.positions, tautomer(), tautomer(), FORMIC.positions, proton_on_carbon()])
    energies = -np.ones(len(hops))
    bonds, _ = reference()
    assert first_failure(hops, energies, bonds=bonds, numbers=FORMIC.numbers) == Failure(4, "bond-deviation")
    assert first_failure(hops[:4], energies[:4], bonds=bonds, numbers=FORMIC.numbers) is None
    assert first_failure(hops, energies, bonds=bonds) == Failure(1, "bond-deviation")


@pytest.mark.parametrize(
    ("relabelling", "expected"), [(True, [None, "bond-deviation"]), (False, ["bond-deviation"] * 2)]
)
def test_live_watch_relabels_molecules(relabelling: bool, expected: list[str | None]) -> None:
    """The MD engine's watch passes atomic numbers, so a tautomer in the batch is not a failure."""
    criteria = StabilityCriteria(bond_relabelling=relabelling)
    watch = StabilityWatch(criteria, {0: FORMIC, 1: FORMIC})
    moved = [FORMIC.copy(), FORMIC.copy()]
    moved[0].positions, moved[1].positions = tautomer(), proton_on_carbon()
    state = state_from_structures(moved, [np.zeros((5, 3))] * 2, [300.0, 300.0], [0, 1], torch.float64, "cpu")
    assert watch.check(state, [0, 1]) == expected
