"""Stability watch: why (if at all) a replica has failed, for a batch of replicas or a whole trajectory.

The same pure function serves the MD engine live (one call per checked step on its batch of replicas) and
post-hoc analysis (:func:`first_failure` treats each frame of a stored trajectory as one replica of a batch).
A replica fails with the first reason that applies, in this order:

- ``"non-finite"``: a position, the energy or the temperature is NaN or infinite;
- ``"temperature"``: kinetic temperature above ``temperature_factor`` × the target temperature;
- ``"pair-distance"``: two atoms (any periodic images) closer than ``pair_floor``;
- ``"bond-deviation"``: a bonded pair of the initial structure (molecules) is longer or shorter than
  initially by more than ``bond_deviation``, and no relabelling of the atoms mends it (below);
- ``"rdf-drift"``: the mean absolute difference between g(r) averaged over the last ``rdf_window`` frames and
  the reference g(r) exceeds ``rdf_mae_bound`` (periodic systems).

The RDF default (mean |Δg| of 0.3 over a 100-frame window, dr = 0.05 Å) was set on data: window-averaged g(r)
of two independent AIMD runs differ by about 0.05 (GeTe glass) and 0.02 (LiPS, 100 frames of its own run),
a thermal fcc Cu crystal 1 % expanded is 0.15 away, while an ideal gas at the same density is 0.4–0.5 away
from GeTe or LiPS and 0.86 from the Cu crystal. It flags a lost structure, not a slightly different one
(that is what WF and JSD measure).

Relabelling (``bond_relabelling``, on by default): a molecule whose bonds deviate is still intact when some
element-preserving permutation φ of its atoms keeps every initial bond (i, j) within ``bond_deviation`` of its
initial length as the pair (φ(i), φ(j)). The enol proton transfer of acetylacetone, which turns the molecule
into its mirror tautomer, is such a case; a hydrogen moving between two inequivalent carbons is not. The
verdict at a checked step is whether such a φ exists, so it does not depend on which φ a search finds first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import networkx as nx
import numpy as np
from ase.data import covalent_radii
from ase.units import fs, kB
from numpy.typing import ArrayLike

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.structure import StructureFunction, rdf_frames

# Cell lists over a cutoff far below interatomic spacing have mostly empty cells and are slow: pairs are
# searched within at least this distance (Å) and then compared with the floor.
_PAIR_SEARCH = 2.0

FAILURE_REASONS = ("non-finite", "temperature", "pair-distance", "bond-deviation", "rdf-drift")


@dataclass(frozen=True)
class StabilityCriteria:
    """Bounds of the stability watch (see the module docstring)."""

    temperature_factor: float = 5.0  # × target temperature
    pair_floor: float = 0.5  # Å
    bond_deviation: float = 0.5  # Å
    bond_relabelling: bool = True  # a deviation mended by relabelling atoms is no failure (module docstring)
    rdf_mae_bound: float = 0.3  # mean |g_window(r) − g_ref(r)| over bins, dimensionless
    rdf_window: int = 100  # frames


class Failure(NamedTuple):
    """First failing checked frame of a trajectory and its reason."""

    frame: int
    reason: str


def kinetic_temperature(
    velocities: ArrayLike, masses: ArrayLike, system_index: ArrayLike | None = None
) -> np.ndarray:
    """Instantaneous temperature (K) of each system, Σ m v² / (3 N k_B), with 3N degrees of freedom.

    velocities: (n_atoms, 3) in Å/fs; masses: (n_atoms,) in amu; system_index: (n_atoms,) system of each atom
    (all atoms in system 0 when None).
    """
    velocities = np.asarray(velocities, dtype=float)
    masses = np.asarray(masses, dtype=float)
    index = np.zeros(len(masses), dtype=np.int64) if system_index is None else np.asarray(system_index)
    twice_kinetic = masses * np.sum(velocities**2, axis=1) / fs**2  # eV
    return np.bincount(index, weights=twice_kinetic) / (3.0 * kB * np.bincount(index))


def bonded_pairs(
    positions: ArrayLike, numbers: ArrayLike, cell: ArrayLike | None = None, scale: float = 1.2
) -> np.ndarray:
    """Pairs (i < j) closer than ``scale`` × the sum of their covalent radii; shape (n_bonds, 2).

    Periodic (minimum image and all images) when ``cell`` is given. Radii from ``ase.data.covalent_radii``.
    """
    positions = np.asarray(positions, dtype=float)
    radii = covalent_radii[np.asarray(numbers)]
    periodic = cell is not None
    box = np.asarray(cell, dtype=float) if periodic else np.zeros((3, 3))
    import vesin  # here, not at the top: vesin imports torch when it is installed

    neighbours = vesin.NeighborList(cutoff=float(2.0 * scale * radii.max()), full_list=False)
    first, second, distances = neighbours.compute(positions, box, periodic, "ijd")
    bonded = (distances < scale * (radii[first] + radii[second])) & (first != second)
    pairs = np.sort(np.stack([first[bonded], second[bonded]], axis=1), axis=1)
    return np.unique(pairs, axis=0).reshape(-1, 2)


def windowed_rdf_mae(frame_rdfs: ArrayLike, reference: ArrayLike, window: int) -> np.ndarray:
    """For each frame t: mean |mean(g[t−window+1 .. t]) − g_ref| over bins; NaN until ``window`` frames exist.

    frame_rdfs: (n_frames, n_bins) per-frame g(r) (see :func:`~egraffbench.metrics.structure.rdf_frames`).
    """
    frame_rdfs = np.asarray(frame_rdfs, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if frame_rdfs.ndim != 2 or frame_rdfs.shape[1:] != reference.shape:
        raise TrajectoryError(
            f"per-frame g(r) {frame_rdfs.shape} is not on the reference grid {reference.shape}"
        )
    result = np.full(frame_rdfs.shape[0], np.nan)
    if frame_rdfs.shape[0] < window:
        return result
    sums = np.concatenate([np.zeros((1, frame_rdfs.shape[1])), np.cumsum(frame_rdfs, axis=0)])
    window_means = (sums[window:] - sums[:-window]) / window
    result[window - 1 :] = np.mean(np.abs(window_means - reference), axis=1)
    return result


def check_stability(
    positions: ArrayLike,
    system_index: ArrayLike,
    energies: ArrayLike,
    *,
    target_temperatures: ArrayLike | None = None,
    temperatures: ArrayLike | None = None,
    velocities: ArrayLike | None = None,
    masses: ArrayLike | None = None,
    cells: ArrayLike | None = None,
    periodic: ArrayLike = False,
    initial_positions: ArrayLike | None = None,
    bonds: ArrayLike | None = None,
    numbers: ArrayLike | None = None,
    rdf_mae: ArrayLike | None = None,
    criteria: StabilityCriteria | None = None,
) -> list[str | None]:
    """Failure reason (one of :data:`FAILURE_REASONS`) or None for each of the R systems of a batch.

    positions: (n_atoms, 3) Å of all systems concatenated, ``system_index`` (n_atoms,) in 0..R−1;
    energies: (R,) eV; temperatures (R,) K, or velocities (n_atoms, 3) Å/fs with masses (n_atoms,) amu;
    target_temperatures: (R,) or scalar K (None skips the temperature check); cells: (R, 3, 3) Å;
    periodic: (R,) or scalar bool; initial_positions: (n_atoms, 3) Å and bonds: (n_bonds, 2) global atom
    indices, for the bond check; numbers: (n_atoms,) atomic numbers, which enable relabelling; rdf_mae: (R,)
    windowed RDF MAE (:func:`windowed_rdf_mae`), NaN = not checked.
    """
    criteria = criteria or StabilityCriteria()
    positions = np.asarray(positions, dtype=float)
    system_index = np.asarray(system_index, dtype=np.int64)
    energies = np.asarray(energies, dtype=float).reshape(-1)
    n_systems = energies.size
    periodic = np.broadcast_to(np.asarray(periodic, dtype=bool), (n_systems,))
    if temperatures is None and velocities is not None and masses is not None:
        temperatures = kinetic_temperature(velocities, masses, system_index)
    failed = {reason: np.zeros(n_systems, dtype=bool) for reason in FAILURE_REASONS}

    bad_atoms = ~np.all(np.isfinite(positions), axis=1)
    failed["non-finite"] = np.bincount(system_index, weights=bad_atoms, minlength=n_systems) > 0
    failed["non-finite"] |= ~np.isfinite(energies)
    if temperatures is not None:
        temperatures = np.broadcast_to(np.asarray(temperatures, dtype=float), (n_systems,))
        failed["non-finite"] |= ~np.isfinite(temperatures)
        if target_temperatures is not None:
            targets = np.broadcast_to(np.asarray(target_temperatures, dtype=float), (n_systems,))
            failed["temperature"] = temperatures > criteria.temperature_factor * targets
    finite = ~failed["non-finite"]
    failed["pair-distance"] = _pair_floor_violations(
        positions, system_index, finite, cells, periodic, criteria.pair_floor
    )
    if bonds is not None and initial_positions is not None:
        initial_positions = np.asarray(initial_positions, dtype=float)
        bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
        failed["bond-deviation"] = _bond_violations(
            positions, initial_positions, bonds, system_index, cells, periodic, criteria.bond_deviation
        )
        if criteria.bond_relabelling and numbers is not None:
            failed["bond-deviation"] &= ~_mended_by_relabelling(
                failed["bond-deviation"] & finite & ~periodic,
                positions,
                initial_positions,
                np.asarray(numbers),
                bonds,
                system_index,
                criteria.bond_deviation,
            )
    if rdf_mae is not None:
        with np.errstate(invalid="ignore"):
            failed["rdf-drift"] = np.asarray(rdf_mae, dtype=float).reshape(-1) > criteria.rdf_mae_bound
    table = np.stack([failed[reason] for reason in FAILURE_REASONS])
    table[1:] &= finite  # a non-finite replica reports only that
    first = np.argmax(table, axis=0)
    return [FAILURE_REASONS[first[r]] if table[first[r], r] else None for r in range(n_systems)]


def first_failure(
    positions: ArrayLike,
    energies: ArrayLike,
    *,
    target_temperature: float | None = None,
    temperatures: ArrayLike | None = None,
    velocities: ArrayLike | None = None,
    masses: ArrayLike | None = None,
    cell: ArrayLike | None = None,
    periodic: bool = False,
    bonds: ArrayLike | None = None,
    numbers: ArrayLike | None = None,
    reference_rdf: StructureFunction | None = None,
    check_every: int = 1,
    criteria: StabilityCriteria | None = None,
) -> Failure | None:
    """First failing frame among frames 0, check_every, 2·check_every, ... of one trajectory, or None.

    positions: (n_frames, n_atoms, 3) Å; energies (n_frames,) eV; temperatures (n_frames,) K or velocities
    (n_frames, n_atoms, 3) Å/fs with masses (n_atoms,) amu; cell (3, 3) or (n_frames, 3, 3) Å;
    bonds (n_bonds, 2) atom indices checked against frame 0; numbers (n_atoms,) atomic numbers, which enable
    relabelling (module docstring); reference_rdf enables the RDF-drift check of
    periodic systems (its windows use every frame, whatever ``check_every``).
    """
    criteria = criteria or StabilityCriteria()
    positions = np.asarray(positions, dtype=float)
    energies = np.asarray(energies, dtype=float).reshape(-1)
    n_frames, n_atoms = positions.shape[:2]
    if energies.size != n_frames:
        raise TrajectoryError(f"{n_frames} frames of positions but {energies.size} energies")
    cells = None if cell is None else np.broadcast_to(np.asarray(cell, dtype=float), (n_frames, 3, 3))
    if temperatures is None and velocities is not None and masses is not None:
        frame_of_atom = np.repeat(np.arange(n_frames), n_atoms)
        temperatures = kinetic_temperature(
            np.asarray(velocities, dtype=float).reshape(-1, 3), np.tile(masses, n_frames), frame_of_atom
        )
    finite_frames = np.all(np.isfinite(positions), axis=(1, 2))
    usable = n_frames if finite_frames.all() else int(np.argmin(finite_frames))
    rdf_mae = None
    if reference_rdf is not None and periodic and cells is not None and usable > 0:
        frame_rdfs = rdf_frames(
            positions[:usable], cells[:usable], r_max=reference_rdf.r_max, dr=reference_rdf.dr
        )
        rdf_mae = np.full(n_frames, np.nan)
        rdf_mae[:usable] = windowed_rdf_mae(frame_rdfs, reference_rdf.values, criteria.rdf_window)

    checked = np.arange(0, n_frames, check_every)
    n_checked = checked.size
    reasons = check_stability(
        positions[checked].reshape(-1, 3),
        np.repeat(np.arange(n_checked), n_atoms),
        energies[checked],
        target_temperatures=target_temperature,
        temperatures=None if temperatures is None else np.asarray(temperatures, dtype=float)[checked],
        cells=None if cells is None else cells[checked],
        periodic=periodic,
        initial_positions=np.tile(positions[0], (n_checked, 1)),
        bonds=None
        if bonds is None
        else _bonds_per_frame(np.asarray(bonds, dtype=np.int64), n_checked, n_atoms),
        numbers=None if numbers is None else np.tile(np.asarray(numbers), n_checked),
        rdf_mae=None if rdf_mae is None else rdf_mae[checked],
        criteria=criteria,
    )
    for frame, reason in zip(checked, reasons, strict=True):
        if reason is not None:
            return Failure(int(frame), reason)
    return None


def _bonds_per_frame(bonds: np.ndarray, n_frames: int, n_atoms: int) -> np.ndarray:
    return (bonds[None, :, :] + n_atoms * np.arange(n_frames)[:, None, None]).reshape(-1, 2)


def _pair_floor_violations(
    positions: np.ndarray,
    system_index: np.ndarray,
    finite: np.ndarray,
    cells: ArrayLike | None,
    periodic: np.ndarray,
    floor: float,
) -> np.ndarray:
    """True for each finite system with two atoms (or periodic images) closer than ``floor`` (Å)."""
    violated = np.zeros(finite.size, dtype=bool)
    boxes = None if cells is None else np.asarray(cells, dtype=float)
    import vesin  # here, not at the top: vesin imports torch when it is installed

    neighbours = vesin.NeighborList(cutoff=max(floor, _PAIR_SEARCH), full_list=False)
    order = np.argsort(system_index, kind="stable")
    bounds = np.searchsorted(system_index[order], np.arange(finite.size + 1))
    for system in np.flatnonzero(finite):
        atoms = order[bounds[system] : bounds[system + 1]]
        wrapped = bool(periodic[system]) and boxes is not None
        box = boxes[system] if wrapped else np.zeros((3, 3))
        (distances,) = neighbours.compute(positions[atoms], box, wrapped, "d")
        violated[system] = bool(np.any(distances < floor))
    return violated


def _bond_violations(
    positions: np.ndarray,
    initial_positions: np.ndarray,
    bonds: np.ndarray,
    system_index: np.ndarray,
    cells: ArrayLike | None,
    periodic: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """True for each system in which a bond length changed by more than ``tolerance`` (Å) from the start."""
    n_systems = periodic.size
    if bonds.size == 0:
        return np.zeros(n_systems, dtype=bool)
    system_of_bond = system_index[bonds[:, 0]]
    now = _bond_lengths(positions, bonds, system_of_bond, cells, periodic)
    start = _bond_lengths(initial_positions, bonds, system_of_bond, cells, periodic)
    with np.errstate(invalid="ignore"):
        broken = np.abs(now - start) > tolerance
    return np.bincount(system_of_bond, weights=broken, minlength=n_systems) > 0


def _mended_by_relabelling(
    candidates: np.ndarray,
    positions: np.ndarray,
    initial_positions: np.ndarray,
    numbers: np.ndarray,
    bonds: np.ndarray,
    system_index: np.ndarray,
    tolerance: float,
) -> np.ndarray:
    """True for each candidate molecule whose deviating bonds some relabelling of its atoms mends."""
    mended = np.zeros(candidates.size, dtype=bool)
    system_of_bond = system_index[bonds[:, 0]]
    for system in np.flatnonzero(candidates):
        atoms = np.flatnonzero(system_index == system)
        local = np.searchsorted(atoms, bonds[system_of_bond == system])
        reference = np.linalg.norm(
            initial_positions[atoms][local[:, 1]] - initial_positions[atoms][local[:, 0]], axis=1
        )
        mended[system] = (
            relabelled_bonds(positions[atoms], numbers[atoms], local, reference, tolerance) is not None
        )
    return mended


def relabelled_bonds(
    positions: ArrayLike, numbers: ArrayLike, bonds: ArrayLike, lengths: ArrayLike, tolerance: float
) -> np.ndarray | None:
    """``bonds`` relabelled by an element-preserving permutation φ of the atoms under which every bond
    (φ(i), φ(j)) is within ``tolerance`` (Å) of its reference length, or None when no such φ exists.

    positions: (n_atoms, 3) Å of one molecule (not periodic); numbers: (n_atoms,); bonds: (n_bonds, 2);
    lengths: (n_bonds,) Å. The search is networkx's VF2 subgraph monomorphism of the bond graph into the graph
    of atom pairs at compatible distances; extra close contacts are allowed, as for the identity.
    """
    positions = np.asarray(positions, dtype=float)
    numbers = np.asarray(numbers)
    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    lengths = np.asarray(lengths, dtype=float)
    if bonds.size == 0:
        return bonds
    if not np.all(np.isfinite(positions)):
        return None
    reach = float(lengths.max()) + tolerance
    first, second = np.triu_indices(len(positions), k=1)
    distances = np.linalg.norm(positions[second] - positions[first], axis=1)
    near = distances <= reach
    current = nx.Graph()
    current.add_nodes_from((atom, {"z": int(z)}) for atom, z in enumerate(numbers))
    current.add_weighted_edges_from(zip(first[near], second[near], distances[near], strict=True), "length")
    reference = nx.Graph()
    reference.add_nodes_from((atom, {"z": int(z)}) for atom, z in enumerate(numbers))
    reference.add_weighted_edges_from(
        ((int(i), int(j), float(d)) for (i, j), d in zip(bonds, lengths, strict=True)), "length"
    )
    matcher = nx.algorithms.isomorphism.GraphMatcher(
        current,
        reference,
        node_match=lambda a, b: a["z"] == b["z"],
        edge_match=lambda now, then: abs(now["length"] - then["length"]) <= tolerance,
    )
    for mapping in matcher.subgraph_monomorphisms_iter():  # current atom → reference atom
        image = {reference_atom: atom for atom, reference_atom in mapping.items()}
        return np.array([[image[int(i)], image[int(j)]] for i, j in bonds], dtype=np.int64)
    return None


def _bond_lengths(
    positions: np.ndarray,
    bonds: np.ndarray,
    system_of_bond: np.ndarray,
    cells: ArrayLike | None,
    periodic: np.ndarray,
) -> np.ndarray:
    """Bond lengths (Å), minimum image for bonds of periodic systems."""
    vectors = positions[bonds[:, 1]] - positions[bonds[:, 0]]
    if cells is not None:
        boxes = np.asarray(cells, dtype=float)[system_of_bond]
        wrap = periodic[system_of_bond]
        fractional = np.linalg.solve(np.swapaxes(boxes[wrap], 1, 2), vectors[wrap][..., None])[..., 0]
        fractional -= np.round(fractional)
        vectors[wrap] = np.einsum("bi,bij->bj", fractional, boxes[wrap])
    return np.linalg.norm(vectors, axis=1)
