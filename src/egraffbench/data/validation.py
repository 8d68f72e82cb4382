"""Checks on every frame array read from disk; a failure names the file, the field and what was expected."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from ase.data import chemical_symbols

from egraffbench.errors import DatasetError

MAX_ATOMIC_NUMBER = len(chemical_symbols) - 1  # 118


@dataclass(frozen=True)
class FrameBlock:
    """F frames of one system with a fixed atom list, as arrays (positions Å, energy eV, forces eV/Å)."""

    positions: np.ndarray  # (F, N, 3)
    energy: np.ndarray  # (F,)
    forces: np.ndarray  # (F, N, 3)
    numbers: np.ndarray  # (N,)
    cells: np.ndarray  # (F, 3, 3)
    pbc: np.ndarray  # (3,) bool

    def __len__(self) -> int:
        return len(self.energy)

    def select(self, start: int, stop: int) -> FrameBlock:
        """Frames start … stop − 1."""
        return FrameBlock(
            self.positions[start:stop],
            self.energy[start:stop],
            self.forces[start:stop],
            self.numbers,
            self.cells[start:stop],
            self.pbc,
        )


def check_shape(source: str, field: str, array: np.ndarray, expected: tuple[int, ...]) -> str | None:
    """None if `array` has exactly shape `expected`, else the error message."""
    if array.shape != expected:
        return f"{source}: field '{field}' has shape {array.shape}, expected {expected}"
    return None


def check_finite(source: str, field: str, array: np.ndarray) -> str | None:
    """None if every value of `array` is finite, else the error message (with the first bad index)."""
    bad = ~np.isfinite(array)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"{source}: field '{field}' has {int(bad.sum())} non-finite values (first at index {first})"
    return None


def check_numbers(source: str, field: str, numbers: np.ndarray) -> str | None:
    """None if `numbers` are integer atomic numbers 1–118, else the error message."""
    if numbers.dtype.kind not in "iu" and not (
        numbers.dtype.kind == "f" and np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    ):
        return f"{source}: field '{field}' has dtype {numbers.dtype}, expected integer atomic numbers"
    bad = (numbers < 1) | (numbers > MAX_ATOMIC_NUMBER)
    if bad.any():
        return (
            f"{source}: field '{field}' holds unknown element {int(numbers[bad][0])}, "
            f"expected atomic numbers 1–{MAX_ATOMIC_NUMBER}"
        )
    return None


def require(problems: Iterable[str | None]) -> None:
    """Raise one DatasetError listing every problem found (None entries mean "fine")."""
    found = [p for p in problems if p]
    if found:
        raise DatasetError("; ".join(found))
