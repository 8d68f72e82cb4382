"""Metric sensitivity: WF and JSD of a rollout recomputed under other histogram settings (docs/metrics.md,
"Metric sensitivity"), each against the reference under the same setting, through the one scoring front end
(`metrics.scoring`).

The variants (``VARIANTS``) change one thing each against the default grid (Δr = DEFAULT_DR, r_max from the
reference):

- ``dr_0.02``, ``dr_0.10``: bins of 0.02 Å, 0.1 Å (r_max: the default rule for that Δr);
- ``r_max_0.75``: r_max = 0.75 × the default grid's r_max (drops the longest distances);
- ``r_max_1.50``: 1.5 × the default grid's r_max: molecules always (counts distances that a stretched or
  broken molecule has beyond the reference's longest); periodic cells only up to the cell's own bound
  (w − 1 Å)/2, so not at all where the default already reaches it;
- ``frames_every_other``: the scored frames 0, 2, 4, …: half the frames over the same simulated time (does the
  sampling density matter?);
- ``frames_first_half``: the first ⌈F/2⌉ scored frames: half the simulated time (is the rollout long enough?).

The frame variants halve the scored rollout's finite frames only; the reference keeps all its frames (it is
the target, not the measurement) and its default grid. A variant whose reference is all zero on its grid (an
r_max below the shortest reference distance) is not applicable: no value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egraffbench.errors import ConfigError, TrajectoryError
from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.structure import (
    CELL_MARGIN,
    DEFAULT_DR,
    StructureFunction,
    default_r_max,
)

FRAME_SELECTIONS = ("all", "every-other", "first-half")


@dataclass(frozen=True)
class Variant:
    """One histogram setting: bin width ``dr`` (Å), ``r_max_factor`` × the default grid's r_max (None: the
    default rule for ``dr``), and which of the scored frames (``frames``, one of FRAME_SELECTIONS)."""

    name: str
    description: str
    dr: float = DEFAULT_DR
    r_max_factor: float | None = None
    frames: str = "all"


VARIANTS: tuple[Variant, ...] = (
    Variant("dr_0.02", "Δr = 0.02 Å", dr=0.02),
    Variant("dr_0.10", "Δr = 0.1 Å", dr=0.1),
    Variant("r_max_0.75", "r_max × 0.75", r_max_factor=0.75),
    Variant("r_max_1.50", "r_max × 1.5 (periodic: up to (w − 1 Å)/2)", r_max_factor=1.5),
    Variant("frames_every_other", "every other frame (same time span)", frames="every-other"),
    Variant("frames_first_half", "first half of the frames (half the time)", frames="first-half"),
)
VARIANT_BY_NAME = {variant.name: variant for variant in VARIANTS}


def _variant_reference(
    variant: Variant, positions: np.ndarray, cells: np.ndarray | None, default: StructureFunction
) -> StructureFunction | None:
    """The reference curve under ``variant``; None where the cell leaves no longer r_max or the reference
    is all zero on the variant's grid."""
    if variant.dr == default.dr and variant.r_max_factor is None:
        return default
    r_max = None
    if variant.r_max_factor is not None:
        r_max = variant.r_max_factor * default.r_max
        if default.kind == "rdf":
            r_max = min(r_max, default_r_max(cells, margin=CELL_MARGIN, cap=np.inf))
            if variant.r_max_factor > 1 and r_max < default.r_max + variant.dr - 1e-9:
                return None
    curve = reference_structure(positions, cells, default.kind, dr=variant.dr, r_max=r_max)
    return curve if np.any(curve.values > 0) else None


def variant_references(
    positions: np.ndarray, cells: np.ndarray | None, default: StructureFunction
) -> dict[str, StructureFunction | None]:
    """The reference structure function under each of VARIANTS (name → curve; None: not applicable), from
    the reference frames ``positions`` (F, N, 3) Å and ``cells`` and their ``default`` curve (the score
    stage's, from :func:`metrics.scoring.reference_structure`)."""
    return {variant.name: _variant_reference(variant, positions, cells, default) for variant in VARIANTS}


def selected_frames(n_frames: int, frames: str) -> np.ndarray:
    """Indices of the frames a variant scores out of ``n_frames``: all, every other (0, 2, …) or the first
    ⌈n/2⌉; both halves keep ⌈n/2⌉ frames, so they differ in which frames, not how many."""
    if frames == "all":
        return np.arange(n_frames)
    if frames == "every-other":
        return np.arange(0, n_frames, 2)
    if frames == "first-half":
        return np.arange((n_frames + 1) // 2)
    raise ConfigError(f"frame selection must be one of {FRAME_SELECTIONS}, got {frames!r}")


def variant_scores(
    positions: np.ndarray,
    cells: np.ndarray | None,
    references: dict[str, StructureFunction | None],
) -> dict[str, dict[str, float | None]]:
    """WF (%) and JSD of the finite frames ``positions`` (F, N, 3) Å (``cells`` (F, 3, 3) for g(r)) under
    each variant of ``references`` (from :func:`variant_references`): name → {wf_percent, jsd, dr, r_max}
    (the grid in Å); values None where the variant is not applicable or the frames' curve is empty on it."""
    scores: dict[str, dict[str, float | None]] = {}
    for name, reference in references.items():
        if reference is None:
            scores[name] = {"wf_percent": None, "jsd": None, "dr": None, "r_max": None}
            continue
        keep = selected_frames(len(positions), VARIANT_BY_NAME[name].frames)
        try:
            scored = score_structure(positions[keep], None if cells is None else cells[keep], reference)
            wf, jsd = scored.wf_percent, scored.jsd
        except TrajectoryError:  # no distance of the frames inside this r_max: JSD undefined
            wf, jsd = None, None
        scores[name] = {"wf_percent": wf, "jsd": jsd, "dr": reference.dr, "r_max": reference.r_max}
    return scores
