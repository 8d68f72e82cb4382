"""Structure functions of trajectories: RDF g(r) of periodic cells, distance histogram h(r) of molecules, ADF.

Conventions (the contract of docs/metrics.md):

- Grid: bins of width ``dr`` (Å) from 0 to ``r_max``; ``r_max`` is rounded down to a whole number of bins and
  values are reported at bin centres. A distance d falls in bin ``floor(d / dr)``.
- g(r) counts every pair within ``r_max``, minimum image and all further periodic images (vesin neighbour
  list), and divides the counts of ordered pairs (centre a, partner b) by the ideal-gas count
  ``N_a · (N_b − δ_ab) / V · 4π/3 (r_hi³ − r_lo³)`` per frame, so that uncorrelated points give exactly 1.
  Beyond the shortest lattice vector an atom's own periodic images are real neighbours and are counted.
- h(r) is the histogram of all interatomic distances (each unordered pair once) divided by
  ``n_frames · n_pairs · dr``: ``Σ h·dr = 1`` when ``r_max`` covers every distance (the default), less when
  some distances lie beyond ``r_max``.
- The ADF is the distribution of angles j–i–k (degrees) between neighbours of i within a cutoff, normalised so
  that ``Σ adf·dθ = 1``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from egraffbench.errors import ConfigError, TrajectoryError

DEFAULT_DR = 0.05  # Å
R_MAX_CAP = 10.0  # Å
CELL_MARGIN = 1.0  # Å, subtracted from the cell width before halving
_PAIR_CHUNK = 4_000_000  # distances held in memory at once by h(r)


@dataclass(frozen=True)
class StructureFunction:
    """A structure function s(r) averaged over frames.

    ``kind`` is "rdf" (g(r), dimensionless) or "hr" (h(r), Å⁻¹); ``r`` holds the bin centres (Å).
    """

    kind: str
    r: np.ndarray
    values: np.ndarray
    dr: float
    r_max: float


def radial_edges(r_max: float, dr: float = DEFAULT_DR) -> np.ndarray:
    """Bin edges 0, dr, 2dr, ... up to the largest multiple of ``dr`` not above ``r_max`` (Å)."""
    if not dr > 0:
        raise ConfigError(f"dr must be a positive distance in Å, got {dr}")
    if not r_max > 0:
        raise ConfigError(f"r_max must be a positive distance in Å, got {r_max}")
    n_bins = int(np.floor(r_max / dr + 1e-9))
    if n_bins < 1:
        raise ConfigError(f"r_max = {r_max} Å is shorter than one bin of dr = {dr} Å")
    return dr * np.arange(n_bins + 1)


def perpendicular_widths(cells: ArrayLike) -> np.ndarray:
    """Distances between opposite faces of each cell (Å): V / |a_j × a_k|; shape (..., 3)."""
    cells = np.asarray(cells, dtype=float)
    volumes = np.abs(np.linalg.det(cells))
    areas = np.linalg.norm(np.cross(np.roll(cells, -1, axis=-2), np.roll(cells, -2, axis=-2)), axis=-1)
    return volumes[..., None] / areas


def default_r_max(cells: ArrayLike, margin: float = CELL_MARGIN, cap: float = R_MAX_CAP) -> float:
    """Default RDF range (Å): min((w − margin)/2, cap), w = the smallest perpendicular width over all cells.

    The perpendicular width (distance between opposite faces) rather than the shortest cell-vector norm is
    used because it bounds the sphere that fits in a triclinic cell; for orthorhombic cells both agree.
    """
    width = float(np.min(perpendicular_widths(cells)))
    r_max = min((width - margin) / 2.0, cap)
    if r_max <= 0:
        raise TrajectoryError(f"cell width {width:.3f} Å leaves no RDF range after a {margin} Å margin")
    return r_max


def default_molecule_r_max(positions: ArrayLike, dr: float = DEFAULT_DR) -> float:
    """Smallest multiple of ``dr`` strictly above the largest interatomic distance in ``positions`` (Å)."""
    positions = _as_frames(positions)
    first, second = np.triu_indices(positions.shape[1], k=1)
    if first.size == 0:
        raise TrajectoryError("h(r) needs at least two atoms per frame")
    largest = max(float(chunk.max()) for chunk in _pair_distance_chunks(positions, first, second))
    return (np.floor(largest / dr) + 1.0) * dr


def rdf_frames(
    positions: ArrayLike,
    cells: ArrayLike,
    *,
    r_max: float,
    dr: float = DEFAULT_DR,
    numbers: ArrayLike | None = None,
    pair: tuple[int, int] | None = None,
) -> np.ndarray:
    """g(r) of each frame of a fully periodic trajectory; shape (n_frames, n_bins).

    positions: (n_frames, n_atoms, 3) or (n_atoms, 3), Å; cells: (3, 3) or (n_frames, 3, 3), Å.
    ``pair = (Z_a, Z_b)`` gives the partial g_ab(r) (needs ``numbers``); None gives the total g(r).
    """
    positions = _as_frames(positions)
    cells = _cells_per_frame(cells, positions.shape[0])
    edges = radial_edges(r_max, dr)
    n_bins = edges.size - 1
    centre_mask, partner_mask = _pair_masks(positions.shape[1], numbers, pair)
    n_centres = int(centre_mask.sum())
    n_partners = int(partner_mask.sum()) - (1 if _same_species(pair) else 0)
    if n_centres == 0 or n_partners <= 0:
        raise TrajectoryError(f"element pair {pair} has too few atoms for a partial RDF")
    volumes = np.abs(np.linalg.det(cells))
    if np.any(volumes <= 0):
        raise TrajectoryError("a periodic RDF needs cells of non-zero volume")
    shells = 4.0 * np.pi / 3.0 * np.diff(edges**3)
    import vesin  # here, not at the top: vesin imports torch when it is installed

    neighbours = vesin.NeighborList(cutoff=float(edges[-1]), full_list=False)
    counts = np.empty((positions.shape[0], n_bins))
    for frame in range(positions.shape[0]):
        first, second, distances = neighbours.compute(positions[frame], cells[frame], True, "ijd")
        counts[frame] = _ordered_pair_counts(
            first, second, distances, centre_mask, partner_mask, _same_species(pair), dr, n_bins
        )
    ideal = n_centres * n_partners / volumes[:, None] * shells[None, :]
    return counts / ideal


def radial_distribution(
    positions: ArrayLike,
    cells: ArrayLike,
    *,
    r_max: float | None = None,
    dr: float = DEFAULT_DR,
    numbers: ArrayLike | None = None,
    pair: tuple[int, int] | None = None,
) -> StructureFunction:
    """Frame-averaged g(r) of a periodic trajectory (see :func:`rdf_frames`); r_max defaults to
    :func:`default_r_max` of the cells."""
    r_max = default_r_max(cells) if r_max is None else r_max
    values = rdf_frames(positions, cells, r_max=r_max, dr=dr, numbers=numbers, pair=pair).mean(axis=0)
    return _structure_function("rdf", values, dr)


def distance_histogram(
    positions: ArrayLike,
    *,
    r_max: float | None = None,
    dr: float = DEFAULT_DR,
    numbers: ArrayLike | None = None,
    pair: tuple[int, int] | None = None,
) -> StructureFunction:
    """h(r) (Å⁻¹) of a non-periodic trajectory: all interatomic distances, or those of one element pair.

    positions: (n_frames, n_atoms, 3) or (n_atoms, 3), Å; r_max defaults to :func:`default_molecule_r_max`.
    """
    positions = _as_frames(positions)
    r_max = default_molecule_r_max(positions, dr) if r_max is None else r_max
    edges = radial_edges(r_max, dr)
    n_bins = edges.size - 1
    first, second = np.triu_indices(positions.shape[1], k=1)
    if pair is not None:
        species = _numbers_for(positions.shape[1], numbers)
        a, b = pair
        keep = ((species[first] == a) & (species[second] == b)) | (
            (species[first] == b) & (species[second] == a)
        )
        first, second = first[keep], second[keep]
    if first.size == 0:
        raise TrajectoryError(f"no atom pairs for h(r) (pair {pair})")
    counts = np.zeros(n_bins)
    for distances in _pair_distance_chunks(positions, first, second):
        counts += _histogram(distances.ravel(), dr, n_bins)
    values = counts / (positions.shape[0] * first.size * dr)
    return _structure_function("hr", values, dr)


def partner_density(numbers: ArrayLike, volume: float, pair: tuple[int, int] | None = None) -> float:
    """Density of partner atoms seen by one centre atom, (N_b − δ_ab)/V in Å⁻³, as used to normalise g(r)."""
    numbers = np.asarray(numbers)
    count = numbers.size if pair is None else int(np.sum(numbers == pair[1]))
    return (count - (1 if _same_species(pair) else 0)) / volume


def running_coordination(rdf: StructureFunction, density: float) -> np.ndarray:
    """Mean number of partners within the outer edge of each bin: density · Σ g · 4π/3 (r_hi³ − r_lo³)."""
    edges = rdf.dr * np.arange(rdf.values.size + 1)
    return density * np.cumsum(rdf.values * 4.0 * np.pi / 3.0 * np.diff(edges**3))


def angular_distribution(
    positions: ArrayLike,
    *,
    cutoff: float,
    cells: ArrayLike | None = None,
    n_bins: int = 180,
    numbers: ArrayLike | None = None,
    centre: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Bond-angle distribution: angles j–i–k (degrees) between neighbours j, k of i within ``cutoff`` (Å).

    Periodic when ``cells`` is given. ``centre`` restricts i to one atomic number. Returns the bin centres
    (degrees) and the density (per degree, ``Σ adf · dθ = 1``), averaged over frames.
    """
    positions = _as_frames(positions)
    if not cutoff > 0:
        raise ConfigError(f"ADF cutoff must be a positive distance in Å, got {cutoff}")
    periodic = cells is not None
    boxes = _cells_per_frame(cells, positions.shape[0]) if periodic else np.zeros((positions.shape[0], 3, 3))
    centre_mask = (
        np.ones(positions.shape[1], dtype=bool)
        if centre is None
        else _numbers_for(positions.shape[1], numbers) == centre
    )
    edges = np.linspace(0.0, 180.0, n_bins + 1)
    counts = np.zeros(n_bins)
    import vesin  # here, not at the top: vesin imports torch when it is installed

    neighbours = vesin.NeighborList(cutoff=cutoff, full_list=True, sorted=True)
    for frame in range(positions.shape[0]):
        first, vectors = neighbours.compute(positions[frame], boxes[frame], periodic, "iD")
        keep = centre_mask[first]
        counts += np.histogram(_bond_angles(first[keep], vectors[keep]), bins=edges)[0]
    total = counts.sum()
    if total == 0:
        raise TrajectoryError(f"no pair of neighbours within {cutoff} Å: the ADF is empty")
    return 0.5 * (edges[1:] + edges[:-1]), counts / (total * (edges[1] - edges[0]))


def _bond_angles(centres: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Angles (degrees) between every two neighbour vectors of the same centre; pairs sorted by centre."""
    sizes = np.bincount(centres)
    starts = np.cumsum(sizes) - sizes
    rank = np.arange(centres.size) - starts[centres]
    later = sizes[centres] - rank - 1
    first = np.repeat(np.arange(centres.size), later)
    offsets = np.arange(first.size) - np.repeat(np.cumsum(later) - later, later)
    second = first + 1 + offsets
    a, b = vectors[first], vectors[second]
    cosine = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def _structure_function(kind: str, values: np.ndarray, dr: float) -> StructureFunction:
    r = dr * (np.arange(values.size) + 0.5)
    return StructureFunction(kind=kind, r=r, values=values, dr=dr, r_max=dr * values.size)


def _as_frames(positions: ArrayLike) -> np.ndarray:
    positions = np.asarray(positions, dtype=float)
    if positions.ndim == 2:
        positions = positions[None]
    if positions.ndim != 3 or positions.shape[-1] != 3 or positions.shape[0] == 0:
        raise TrajectoryError(f"positions must have shape (n_frames, n_atoms, 3), got {positions.shape}")
    finite = np.all(np.isfinite(positions), axis=(1, 2))
    if not finite.all():
        raise TrajectoryError(f"frame {int(np.argmin(finite))} has non-finite positions")
    return positions


def _cells_per_frame(cells: ArrayLike, n_frames: int) -> np.ndarray:
    cells = np.asarray(cells, dtype=float)
    if cells.shape == (3, 3):
        return np.broadcast_to(cells, (n_frames, 3, 3))
    if cells.shape != (n_frames, 3, 3):
        raise TrajectoryError(f"cells must have shape (3, 3) or ({n_frames}, 3, 3), got {cells.shape}")
    return cells


def _numbers_for(n_atoms: int, numbers: ArrayLike | None) -> np.ndarray:
    if numbers is None:
        raise ConfigError("a partial (element-pair) structure function needs the atomic numbers")
    numbers = np.asarray(numbers)
    if numbers.shape != (n_atoms,):
        raise TrajectoryError(f"numbers must have shape ({n_atoms},), got {numbers.shape}")
    return numbers


def _same_species(pair: tuple[int, int] | None) -> bool:
    return pair is None or pair[0] == pair[1]


def _pair_masks(
    n_atoms: int, numbers: ArrayLike | None, pair: tuple[int, int] | None
) -> tuple[np.ndarray, np.ndarray]:
    if pair is None:
        everyone = np.ones(n_atoms, dtype=bool)
        return everyone, everyone
    species = _numbers_for(n_atoms, numbers)
    return species == pair[0], species == pair[1]


def _ordered_pair_counts(
    first: np.ndarray,
    second: np.ndarray,
    distances: np.ndarray,
    centre_mask: np.ndarray,
    partner_mask: np.ndarray,
    same_species: bool,
    dr: float,
    n_bins: int,
) -> np.ndarray:
    """Histogram of ordered (centre, partner) pairs from a half neighbour list (each pair listed once)."""
    forward = centre_mask[first] & partner_mask[second]
    if same_species:
        return 2.0 * _histogram(distances[forward], dr, n_bins)
    backward = centre_mask[second] & partner_mask[first]
    return _histogram(distances[forward | backward], dr, n_bins)


def _histogram(distances: np.ndarray, dr: float, n_bins: int) -> np.ndarray:
    bins = np.floor(distances / dr).astype(np.int64)
    return np.bincount(bins[bins < n_bins], minlength=n_bins).astype(float)


def _pair_distance_chunks(
    positions: np.ndarray, first: np.ndarray, second: np.ndarray
) -> Iterator[np.ndarray]:
    """Yield (frames, pairs) distance blocks of at most about ``_PAIR_CHUNK`` values."""
    step = max(1, _PAIR_CHUNK // max(1, first.size))
    for start in range(0, positions.shape[0], step):
        block = positions[start : start + step]
        yield np.linalg.norm(block[:, first] - block[:, second], axis=-1)
