"""Bounds of the numbers users type on the command line; a value out of bounds is a ConfigError that names
the option, the value and what is expected."""

from __future__ import annotations

import math

from egraffbench.errors import ConfigError


def positive(option: str, value: float, unit: str) -> float:
    """``value`` if it is finite and > 0."""
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{option} {value:g}: expected a finite {unit} above 0")
    return value


def non_negative(option: str, value: float, unit: str) -> float:
    """``value`` if it is finite and >= 0."""
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{option} {value:g}: expected a finite {unit} of 0 or more")
    return value


def at_most(option: str, value: float, limit: float, why: str) -> float:
    """``value`` if it is at most ``limit``; ``why`` says what a larger one would do."""
    if value > limit:
        raise ConfigError(f"{option} {value:g}: at most {limit:g} ({why})")
    return value
