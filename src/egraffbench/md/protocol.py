"""The MD protocol as validated data: ensemble, temperature, time step, thermostat, output, watch."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egraffbench.errors import ConfigError
from egraffbench.metrics.stability import StabilityCriteria

Ensemble = Literal["nvt-langevin", "nvt-nose-hoover", "nve"]
ENSEMBLES: tuple[str, ...] = ("nvt-langevin", "nvt-nose-hoover", "nve")


class MDProtocol(BaseModel):
    """One MD protocol; defaults are the paper's (Langevin, 1 fs, friction 5e-3 in ASE units, 1000 steps)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ensemble: Ensemble = "nvt-langevin"
    temperature_K: float = Field(520.0, gt=0, description="target temperature, K (initial velocities in NVE)")
    timestep_fs: float = Field(1.0, gt=0, description="time step, fs")
    steps: int = Field(1000, ge=0, description="number of time steps")
    stability_steps: int | None = Field(
        None,
        ge=1,
        description="continue each live replica to this step only to find its first failure; frames are "
        "recorded up to `steps` only (default, or fewer than `steps`: stop at `steps`)",
    )
    friction: float = Field(
        5e-3,
        ge=0,
        description="Langevin friction in inverse ASE time units, as ASE's `friction` (5e-3 ≈ 4.91e-4 /fs)",
    )
    nose_hoover_tdamp_fs: float = Field(100.0, gt=0, description="Nosé–Hoover chain time constant, fs")
    nose_hoover_chain: int = Field(3, ge=1, description="Nosé–Hoover chain length")
    stride: int = Field(1, ge=1, description="record every stride-th step (step 0 included)")
    check_every: int = Field(10, ge=1, description="stability check every k steps (and at the last step)")
    checkpoint_every: int = Field(100, ge=1, description="flush frames and write a checkpoint every N steps")
    seed: int = Field(0, ge=0, description="seed of the per-replica random streams")
    dtype: Literal["float32", "float64"] = "float32"
    skin: float = Field(1.0, ge=0, description="neighbour-list skin, Å (rebuild when an atom moved > skin/2)")
    stability: StabilityCriteria = Field(default_factory=StabilityCriteria)

    @property
    def horizon_steps(self) -> int:
        """Steps a replica runs unless it fails: `steps`, or `stability_steps` when that is longer."""
        return max(self.steps, self.stability_steps or 0)

    def identity(self, exclude: set[str] | None = None) -> dict[str, Any]:
        """The protocol as stage keys hold it (JSON types, without ``exclude``): bond relabelling appears only
        when it is on, so protocols without it keep the keys they had before the setting existed."""
        return self.model_dump(mode="json", exclude=self._unkeyed(exclude))

    def identity_json(self) -> str:
        """:meth:`identity` as the JSON that run fingerprints hash (``model_dump_json``'s bytes)."""
        return self.model_dump_json(exclude=self._unkeyed(None))

    def _unkeyed(self, exclude: set[str] | None) -> dict[str, Any]:
        unkeyed: dict[str, Any] = dict.fromkeys(exclude or (), True)
        if not self.stability.bond_relabelling:
            unkeyed["stability"] = {"bond_relabelling"}
        return unkeyed

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32


def protocol_from_mapping(data: dict[str, Any], source: str) -> MDProtocol:
    """Validate ``data`` (e.g. a task file's MD section); ConfigError names ``source`` and the bad field."""
    try:
        return MDProtocol.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{source}: field '{where}': {first['msg']}") from error
