"""The metric-sensitivity variants (docs/metrics.md, "Metric sensitivity"): named histogram settings, each
changing one thing against the score stage's default grid (Δr, r_max from the reference, all frames):

- ``dr_0.02``, ``dr_0.10``: bins of 0.02 Å, 0.1 Å (r_max: the default rule for that Δr);
- ``r_max_0.75``: r_max = 0.75 × the default grid's r_max (drops the longest distances);
- ``r_max_1.50``: 1.5 × the default grid's r_max: molecules always (counts distances that a stretched or
  broken molecule has beyond the reference's longest); periodic cells only up to the cell's own bound
  (w − 1 Å)/2, so not at all where the default already reaches it;
- ``frames_every_other``: the scored frames 0, 2, 4, …: half the frames over the same simulated time (does the
  sampling density matter?);
- ``frames_first_half``: the first ⌈F/2⌉ scored frames: half the simulated time (is the rollout long enough?).

Plain data (no structure-function code), so the report can name them without loading the scoring stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egraffbench.errors import ConfigError

FRAME_SELECTIONS = ("all", "every-other", "first-half")


@dataclass(frozen=True)
class Variant:
    """One histogram setting: bin width ``dr`` (Å; None: the default grid's), ``r_max_factor`` × the default
    grid's r_max (None: the default rule for ``dr``), and which of the scored frames (``frames``, one of
    FRAME_SELECTIONS)."""

    name: str
    description: str
    dr: float | None = None
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
