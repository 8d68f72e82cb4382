"""Names of the architectures and reference potentials, and where their adapters live."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence
from typing import Any

import torch

from egraffbench.errors import ConfigError, UnknownNameError
from egraffbench.models.base import ForceField, TrainingStatistics

# Imported lazily so a model whose package is missing does not stop the others from loading.
ARCHITECTURES: dict[str, str] = {
    "mace": "egraffbench.models.mace_adapter:MACEForceField",
    "botnet": "egraffbench.models.mace_adapter:BOTNetForceField",
    "torchmdnet": "egraffbench.models.torchmdnet_adapter:TorchMDNetForceField",
    "equiformer": "egraffbench.models.equiformer_adapter:EquiformerForceField",
    "nequip": "egraffbench.models.nequip_adapter:NequIPForceField",
    "allegro": "egraffbench.models.allegro_adapter:AllegroForceField",
}
REFERENCE_POTENTIALS: dict[str, str] = {
    "emt": "egraffbench.models.emt_reference:EMTForceField",
}


def _resolve(table: dict[str, str], name: str, kind: str) -> type[ForceField]:
    if name not in table:
        close = difflib.get_close_matches(name, list(table), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; known: {', '.join(sorted(table))}"
        raise UnknownNameError(f"unknown {kind} '{name}'{hint}")
    module_name, class_name = table[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def architecture_class(name: str) -> type[ForceField]:
    """The ForceField subclass of a trainable architecture."""
    return _resolve(ARCHITECTURES, name, "architecture")


def build_force_field(
    name: str,
    species: Sequence[int],
    cutoff: float,
    statistics: TrainingStatistics,
    hyperparameters: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> ForceField:
    """A new, untrained force field of architecture ``name`` with parameters and buffers in ``dtype``.

    The model is built with ``dtype`` as torch's default, not cast afterwards: e3nn keeps Clebsch–Gordan
    coefficients as buffers in the default dtype, and a float32 build cast to float64 keeps their float32
    rounding (equivariance then holds to ~1e-8 only).
    """
    architecture = architecture_class(name)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        model = architecture(species, cutoff, statistics, **(hyperparameters or {}))
    except (
        TypeError,
        ValueError,
        AssertionError,
        KeyError,
    ) as error:  # what the builders raise on bad values
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ConfigError(f"{name}: invalid hyperparameters {hyperparameters} ({reason})") from error
    finally:
        torch.set_default_dtype(previous)
    return model.to(dtype)


def reference_potential(name: str) -> ForceField:
    """A non-learned reference potential (e.g. ``emt``)."""
    return _resolve(REFERENCE_POTENTIALS, name, "reference potential")()
