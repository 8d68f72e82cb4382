"""log1p and expm1 of float64 arrays, elementwise by the C library (Python's :mod:`math`), for numbers that
must be the same on every CPU. numpy picks its loops at run time: on CPUs with AVX-512 its float64 log1p and
expm1 are other approximations (Intel's SVML), which differ from the C library's in the last bit for some
inputs, so a report rebuilt from the same stored records gave other EV/FV digits on an AVX2 machine
(docs/decisions.md, "EV and FV use the C library's log1p and expm1"). On CPUs without AVX-512 numpy calls the
C library too, so these give numpy's numbers there, bit for bit."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def _elementwise(function: Callable[[float], float], values: ArrayLike) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    flat = np.fromiter(map(function, array.ravel().tolist()), dtype=float, count=array.size)
    return flat.reshape(array.shape)


def log1p(values: ArrayLike) -> np.ndarray:
    """ln(1 + x) of every element, as the C library computes it."""
    return _elementwise(math.log1p, values)


def expm1(values: ArrayLike) -> np.ndarray:
    """exp(x) − 1 of every element, as the C library computes it."""
    return _elementwise(math.expm1, values)
