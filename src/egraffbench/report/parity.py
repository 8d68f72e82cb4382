"""Parity plot data as the evaluate stage stored it: predicted against reference energies (eV/atom, relative
to the composition energy of the task's E0 fit) and force components (eV/Å) on at most 50 evenly spaced test
frames."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egraffbench.store import schema


@dataclass
class Parity:
    """Reference and predicted energies (eV/atom, relative to composition) and force components (eV/Å)."""

    energy_reference: np.ndarray
    energy_predicted: np.ndarray
    force_reference: np.ndarray
    force_predicted: np.ndarray


def parity_arrays(stored: schema.Parity) -> Parity:
    """The stored parity record as arrays for plotting."""
    return Parity(
        energy_reference=np.asarray(stored.energy_reference, dtype=float),
        energy_predicted=np.asarray(stored.energy_predicted, dtype=float),
        force_reference=np.asarray(stored.force_reference, dtype=float),
        force_predicted=np.asarray(stored.force_predicted, dtype=float),
    )
