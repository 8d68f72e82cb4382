"""Pretrained models: force fields trained outside egraffbench, declared in a small model YAML.

    kind: pretrained
    name: my-mace                 # row label in every leaderboard
    format: mace                  # mace | nequip | ase
    path: my.model                # mace, nequip: the model file, relative to the YAML file
    calculator: ase.calculators.emt:EMT   # ase: module:Class
    kwargs: {}                    # ase: keyword arguments of the class
    energy_unit: eV               # optional: the model's units, converted to eV and Å
    length_unit: Å
    elements: [Cu, Au]            # optional, ase: the elements the calculator handles

They skip training; a MACE or deployed NequIP file is run batched like the benchmark's own models, an ASE
calculator replica by replica through the same engine. Loading a `.model` pickle, a TorchScript file or a
Python module runs code: the user chose to run it by declaring it.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from ase import units
from ase.calculators.calculator import Calculator
from ase.data import atomic_numbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from egraffbench.errors import ConfigError, ModelError
from egraffbench.models.ase_calculator import ASECalculatorForceField
from egraffbench.models.base import ForceField

ENERGY_UNITS: dict[str, float] = {
    "eV": 1.0,
    "meV": 1e-3,
    "Hartree": units.Hartree,
    "Ry": units.Ry,
    "kcal/mol": units.kcal / units.mol,
    "kJ/mol": units.kJ / units.mol,
}
LENGTH_UNITS: dict[str, float] = {"Å": 1.0, "Ang": 1.0, "nm": units.nm, "pm": 0.01, "Bohr": units.Bohr}
FORMATS: tuple[str, ...] = ("mace", "nequip", "ase")


class PretrainedDeclaration(BaseModel):
    """The validated model YAML of a pretrained model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["pretrained"]
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="row label in leaderboards")
    format: Literal["mace", "nequip", "ase"] | None = Field(
        description="mace | nequip | ase (None only for an in-memory ForceField from the Python API)"
    )
    path: str | None = Field(None, description="mace, nequip: model file, relative to the YAML file")
    calculator: str | None = Field(
        None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="ase: module:Class"
    )
    kwargs: dict[str, Any] = Field(default_factory=dict, description="ase: keyword arguments of the class")
    energy_unit: str = Field("eV", description=f"one of {', '.join(ENERGY_UNITS)}")
    length_unit: str = Field("Å", description=f"one of {', '.join(LENGTH_UNITS)}")
    elements: tuple[str, ...] | None = Field(None, description="ase: chemical symbols it handles")

    @field_validator("energy_unit", "length_unit")
    @classmethod
    def _known_unit(cls, value: str, info: ValidationInfo) -> str:
        table = ENERGY_UNITS if info.field_name == "energy_unit" else LENGTH_UNITS
        if value not in table:
            raise ValueError(f"unknown unit '{value}'; known: {', '.join(table)}")
        return value

    @field_validator("elements")
    @classmethod
    def _symbols(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [symbol for symbol in value or () if symbol not in atomic_numbers]
        if unknown:
            raise ValueError(f"not chemical symbols: {unknown}")
        return value

    @model_validator(mode="after")
    def _fields_of_format(self) -> PretrainedDeclaration:
        if self.format == "ase" and self.path is not None:
            raise ValueError("format 'ase' takes 'calculator' (module:Class), not 'path'")
        if self.format != "ase" and (self.calculator is not None or self.kwargs or self.elements):
            raise ValueError(
                f"format '{self.format}' takes 'path' (the model file), not 'calculator', "
                "'kwargs' or 'elements'"
            )
        return self

    def check_complete(self) -> None:
        """A declaration read from a file names its format and what to load (ValueError otherwise)."""
        if self.format is None:
            raise ValueError(f"required, one of {', '.join(FORMATS)}")
        if self.format == "ase" and self.calculator is None:
            raise ValueError("format 'ase' needs 'calculator' (module:Class)")
        if self.format != "ase" and self.path is None:
            raise ValueError(f"format '{self.format}' needs 'path' (the model file, relative to the YAML)")

    @property
    def units(self) -> tuple[float, float]:
        """eV per energy unit and Å per length unit of the model."""
        return ENERGY_UNITS[self.energy_unit], LENGTH_UNITS[self.length_unit]


@dataclass(frozen=True, eq=False)
class PretrainedModel:
    """A declared pretrained model: its declaration, the folder its ``path`` is relative to, and (Python
    API) the in-memory model or calculator it stands for."""

    declaration: PretrainedDeclaration
    folder: Path = Path()
    instance: Any = None  # a torch module or ASE calculator given from Python, else None

    @property
    def name(self) -> str:
        return self.declaration.name

    @property
    def file(self) -> Path | None:
        """The model file (mace, nequip), None for an ASE calculator or an in-memory model."""
        path = self.declaration.path
        return None if path is None or self.instance is not None else self.folder / path

    @property
    def keyed_file(self) -> Path | None:
        """The file whose bytes are part of the cache key: the model file, or for an ASE calculator the
        source file of its module (so editing the calculator's code reruns what depends on it)."""
        calculator = self.declaration.calculator
        if calculator is None or self.instance is not None:
            return self.file
        try:
            spec = importlib.util.find_spec(calculator.split(":")[0])
        except (ImportError, ValueError):
            return None
        origin = None if spec is None else spec.origin
        return Path(origin) if origin and Path(origin).is_file() else None

    def describe(self) -> dict[str, Any]:
        """What identifies the model besides its file's bytes: the declaration and, for an in-memory model,
        a digest of its weights or calculator parameters."""
        described: dict[str, Any] = self.declaration.model_dump(mode="json")
        if self.instance is not None:
            described["instance"] = instance_digest(self.instance)
        return described

    def load(self, device: str | torch.device = "cpu") -> ForceField:
        """The model as a force field on ``device``, ready for inference; ModelError if it cannot be read."""
        declaration = self.declaration
        if isinstance(self.instance, torch.nn.Module):  # a copy: the run casts and moves it
            return wrap_instance(copy.deepcopy(self.instance), declaration).to(device).eval()
        if self.instance is not None:
            return wrap_instance(self.instance, declaration)
        if declaration.format == "ase":
            return wrap_instance(_calculator(declaration), declaration)
        file = self.file
        if file is None or not file.is_file():
            raise ModelError(f"{declaration.name}: model file {file} not found (field 'path')")
        if declaration.format == "mace":
            return wrap_instance(_mace_module(file), declaration).to(device).eval()
        return _deployed_nequip(file, declaration, device).eval()


def instance_digest(instance: Any) -> str:
    """sha256 of a torch module's class and weights, or of an ASE calculator's class and parameters."""
    digest = hashlib.sha256(f"{type(instance).__module__}.{type(instance).__qualname__}".encode())
    if isinstance(instance, torch.nn.Module):
        for key, tensor in sorted(instance.state_dict().items()):
            digest.update(key.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    else:
        parameters = getattr(instance, "parameters", None) or {}
        digest.update(json.dumps(dict(parameters), sort_keys=True, default=repr).encode())
    return digest.hexdigest()


def wrap_instance(instance: Any, declaration: PretrainedDeclaration) -> ForceField:
    """An in-memory model as a force field: a ForceField as it is, an ASE calculator, a MACE module."""
    energy_unit, length_unit = declaration.units
    description = declaration.model_dump(mode="json")
    if isinstance(instance, ForceField):
        return instance
    if isinstance(instance, Calculator):
        elements = declaration.elements
        species = None if elements is None else [atomic_numbers[symbol] for symbol in elements]
        return ASECalculatorForceField(instance, species, energy_unit, length_unit, description=description)
    if isinstance(instance, torch.nn.Module) and hasattr(instance, "atomic_numbers"):
        from egraffbench.models.mace_adapter import PretrainedMACEForceField

        return PretrainedMACEForceField(instance, energy_unit, length_unit, description)
    raise ModelError(
        f"{declaration.name}: a {type(instance).__name__} is not a force field this tool can run "
        "(expected an egraffbench ForceField, an ASE calculator or a mace-torch model)"
    )


def _calculator(declaration: PretrainedDeclaration) -> Calculator:
    """Import module:Class and build it with the declared kwargs (the module's code runs)."""
    module_name, class_name = str(declaration.calculator).split(":")
    try:
        target = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ConfigError(
            f"{declaration.name}: field 'calculator': cannot import {declaration.calculator} ({error})"
        ) from error
    try:
        calculator = target(**declaration.kwargs)
    except Exception as error:  # a foreign constructor may raise anything; say which field to fix
        raise ConfigError(
            f"{declaration.name}: fields 'calculator'/'kwargs': {declaration.calculator}"
            f"(**{declaration.kwargs}) failed ({error})"
        ) from error
    if not isinstance(calculator, Calculator):
        raise ConfigError(
            f"{declaration.name}: field 'calculator': {declaration.calculator} is not an ASE calculator"
        )
    return calculator


def _mace_module(file: Path) -> torch.nn.Module:
    """A model file saved by mace-torch (`torch.save` of the module, as `mace_run_train` writes it): a pickle,
    so loading it runs code (mace-torch 0.3.16 has no weights-only format it can rebuild a model from)."""
    try:
        model = torch.load(file, map_location="cpu", weights_only=False)
    except Exception as error:  # unpickling can raise anything; all mean "not a mace model file"
        raise ModelError(f"{file}: not a mace-torch model file ({type(error).__name__}: {error})") from error
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "atomic_numbers"):
        raise ModelError(f"{file}: holds a {type(model).__name__}, not a mace-torch model")
    return model


def _deployed_nequip(
    file: Path, declaration: PretrainedDeclaration, device: str | torch.device
) -> ForceField:
    from egraffbench.models.nequip_adapter import load_deployed_nequip

    energy_unit, length_unit = declaration.units
    description = declaration.model_dump(mode="json")
    return load_deployed_nequip(file, energy_unit, length_unit, description, device)


def is_pretrained_file(path: str | Path) -> bool:
    """True for a YAML file whose top-level `kind` is `pretrained`."""
    path = Path(path)
    if path.suffix not in {".yaml", ".yml"} or not path.is_file():
        return False
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(raw, dict) and raw.get("kind") == "pretrained"


def load_declaration(path: str | Path) -> PretrainedModel:
    """Read and validate a pretrained-model YAML; ConfigError naming the file and field otherwise."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read model YAML ({error})") from error
    try:
        declaration = PretrainedDeclaration.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"{path}: field '{where}': {first['msg']}") from error
    try:
        declaration.check_complete()
    except ValueError as error:
        raise ConfigError(f"{path}: field 'format': {error}") from error
    return PretrainedModel(declaration, path.resolve().parent)


def declare(instance: Any, name: str, **fields: Any) -> PretrainedModel:
    """A pretrained model standing for an in-memory model or ASE calculator (the Python API); ``fields``:
    further declaration fields (energy_unit, length_unit, elements)."""
    if isinstance(instance, Calculator):
        kind, calculator = "ase", f"{type(instance).__module__}:{type(instance).__name__}"
    else:
        kind, calculator = (None if isinstance(instance, ForceField) else "mace"), None
    try:
        declaration = PretrainedDeclaration(
            kind="pretrained", name=name, format=kind, calculator=calculator, **fields
        )
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise ConfigError(f"model '{name}': field '{where}': {first['msg']}") from error
    return PretrainedModel(declaration, Path(), instance)
