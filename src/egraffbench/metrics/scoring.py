"""WF and JSD of a set of frames against reference frames: the one front end of the score stage and of
`egraffbench analyze` (docs/metrics.md, "Structure scores").

The grid is decided by the reference alone: bins of ``dr`` from 0 to r_max, where r_max is
:func:`default_r_max` of the reference cells for g(r) and :func:`default_molecule_r_max` of the reference
positions for h(r), unless given. The frames are then histogrammed on exactly the reference's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

from numpy.typing import ArrayLike

from egraffbench.errors import ConfigError
from egraffbench.metrics.similarity import jensen_shannon_divergence, wright_factor
from egraffbench.metrics.structure import (
    DEFAULT_DR,
    StructureFunction,
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    radial_distribution,
)

STRUCTURE_KINDS = ("rdf", "hr")


@dataclass(frozen=True)
class StructureScore:
    """The frames' own structure function on the reference's grid, and its WF (%) and JSD against it."""

    curve: StructureFunction
    wf_percent: float
    jsd: float


def _curve(
    kind: str, positions: ArrayLike, cells: ArrayLike | None, r_max: float | None, dr: float
) -> StructureFunction:
    if kind == "rdf":
        if cells is None:
            raise ConfigError("g(r) needs the cells of the frames")
        return radial_distribution(positions, cells, r_max=r_max, dr=dr)
    if kind == "hr":
        return distance_histogram(positions, r_max=r_max, dr=dr)
    raise ConfigError(f"structure function kind must be 'rdf' or 'hr', got {kind!r}")


def reference_structure(
    positions: ArrayLike,
    cells: ArrayLike | None,
    kind: str,
    *,
    dr: float = DEFAULT_DR,
    r_max: float | None = None,
) -> StructureFunction:
    """g(r) ("rdf"; ``cells`` (3, 3) or (F, 3, 3) Å) or h(r) ("hr"; ``cells`` unused) of the reference frames
    ``positions`` (F, N, 3) Å on the scoring grid: r_max (Å) from the reference unless given."""
    if r_max is None and kind == "rdf" and cells is not None:
        r_max = default_r_max(cells)
    elif r_max is None and kind == "hr":
        r_max = default_molecule_r_max(positions, dr)
    return _curve(kind, positions, cells, r_max, dr)


def score_structure(
    positions: ArrayLike, cells: ArrayLike | None, reference: StructureFunction
) -> StructureScore:
    """WF (%) and JSD of the frame-averaged structure function of ``positions`` (F, N, 3) Å (periodic:
    ``cells``) against ``reference`` (from :func:`reference_structure`), on the reference's grid."""
    curve = _curve(reference.kind, positions, cells, reference.r_max, reference.dr)
    return StructureScore(
        curve,
        wright_factor(curve.values, reference.values),
        jensen_shannon_divergence(curve.values, reference.values),
    )
