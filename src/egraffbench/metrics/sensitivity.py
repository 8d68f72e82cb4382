"""Metric sensitivity: WF and JSD of a rollout recomputed under the variants of
`metrics.sensitivity_variants` (docs/metrics.md, "Metric sensitivity"), each against the reference under the
same setting, through the one scoring front end (`metrics.scoring`).

The frame variants halve the scored rollout's finite frames only; the reference keeps all its frames (it is
the target, not the measurement) and its default grid. A variant whose reference is all zero on its grid (an
r_max below the shortest reference distance) is not applicable: no value.
"""

from __future__ import annotations

import numpy as np

from egraffbench.errors import TrajectoryError
from egraffbench.metrics.scoring import reference_structure, score_structure
from egraffbench.metrics.sensitivity_variants import VARIANT_BY_NAME, VARIANTS, Variant, selected_frames
from egraffbench.metrics.structure import CELL_MARGIN, StructureFunction, default_r_max


def _variant_reference(
    variant: Variant, positions: np.ndarray, cells: np.ndarray | None, default: StructureFunction
) -> StructureFunction | None:
    """The reference curve under ``variant``; None where the cell leaves no longer r_max or the reference
    is all zero on the variant's grid."""
    if variant.dr is None and variant.r_max_factor is None:
        return default
    dr = default.dr if variant.dr is None else variant.dr
    r_max = None
    if variant.r_max_factor is not None:
        r_max = variant.r_max_factor * default.r_max
        if default.kind == "rdf":
            r_max = min(r_max, default_r_max(cells, margin=CELL_MARGIN, cap=np.inf))
            if variant.r_max_factor > 1 and r_max < default.r_max + dr - 1e-9:
                return None
    curve = reference_structure(positions, cells, default.kind, dr=dr, r_max=r_max)
    return curve if np.any(curve.values > 0) else None


def variant_references(
    positions: np.ndarray, cells: np.ndarray | None, default: StructureFunction
) -> dict[str, StructureFunction | None]:
    """The reference structure function under each of VARIANTS (name → curve; None: not applicable), from
    the reference frames ``positions`` (F, N, 3) Å and ``cells`` and their ``default`` curve (the score
    stage's, from :func:`metrics.scoring.reference_structure`)."""
    return {variant.name: _variant_reference(variant, positions, cells, default) for variant in VARIANTS}


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
