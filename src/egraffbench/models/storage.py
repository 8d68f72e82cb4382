"""Save and load trained force fields: a folder with `model.json` (config) and `weights.pt` (state dict)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import torch

from egraffbench.errors import ModelError
from egraffbench.fileio import TORCH_FILE_ERRORS, atomic_write_bytes, atomic_write_text
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.pretrained import is_pretrained_file, load_declaration
from egraffbench.models.registry import REFERENCE_POTENTIALS, build_force_field, reference_potential

CONFIG_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"
WEIGHTS_DIGEST = "weights_sha256"  # key of model.json: sha256 of the weights.pt saved with it


def save_force_field(model: ForceField, folder: Path) -> Path:
    """Write ``model`` to ``folder`` as one unit: weights first, then the config naming their sha256, so
    that a config and weights of different saves (a crash between the two writes) are refused on load."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = _state_bytes(model)
    atomic_write_bytes(folder / WEIGHTS_FILE, weights)
    config = {**model.config(), WEIGHTS_DIGEST: hashlib.sha256(weights).hexdigest()}
    atomic_write_text(folder / CONFIG_FILE, json.dumps(config, indent=2))
    return folder


def _state_bytes(model: ForceField) -> bytes:
    buffer = io.BytesIO()
    # on the CPU whatever device trained it, so the file loads anywhere (a no-op for a CPU model's tensors)
    torch.save({name: tensor.cpu() for name, tensor in model.state_dict().items()}, buffer)
    return buffer.getvalue()


def load_force_field(location: str | Path, device: str | torch.device = "cpu") -> ForceField:
    """A trained model folder, the name of a reference potential (e.g. ``emt``) or a pretrained-model YAML
    (`kind: pretrained`), ready for inference."""
    if str(location) in REFERENCE_POTENTIALS:
        return reference_potential(str(location))
    if is_pretrained_file(location):
        return load_declaration(location).load(device)
    folder = Path(location)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise ModelError(
            f"{folder}: not a trained model folder (expected {CONFIG_FILE} and {WEIGHTS_FILE}) "
            f"nor a reference potential ({', '.join(REFERENCE_POTENTIALS)}) "
            "nor a pretrained-model YAML (`kind: pretrained`)"
        )
    try:
        config = json.loads(config_path.read_text())
        model = build_force_field(
            config["architecture"],
            config["species"],
            config["cutoff"],
            TrainingStatistics.from_json(config["statistics"]),
            config["hyperparameters"],
            dtype=getattr(torch, config.get("dtype", "torch.float32").removeprefix("torch.")),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ModelError(f"{config_path}: invalid model config ({type(error).__name__}: {error})") from error
    weights = weights_path.read_bytes()
    recorded = config.get(WEIGHTS_DIGEST)
    if recorded is not None and recorded != hashlib.sha256(weights).hexdigest():
        raise ModelError(f"{weights_path}: not the weights {CONFIG_FILE} was saved with (a partial save?)")
    try:
        state = torch.load(io.BytesIO(weights), map_location=device, weights_only=True)
    except TORCH_FILE_ERRORS as error:
        raise ModelError(f"{weights_path}: cannot load weights ({type(error).__name__}: {error})") from error
    _load_state(model, state, weights_path)
    return model.to(device).eval()


def _load_state(model: ForceField, state: Any, path: Path) -> None:
    """Load ``state`` into ``model``; a mismatch is summarised (counts and a first key), not listed."""
    if not isinstance(state, dict):
        raise ModelError(f"{path}: holds no state dict (found {type(state).__name__})")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(
        key
        for key in set(expected) & set(state)
        if tuple(getattr(state[key], "shape", ())) != tuple(expected[key].shape)
    )
    if missing or unexpected or misshapen:
        example = (missing or unexpected or misshapen)[0]
        raise ModelError(
            f"{path}: weights do not fit the model of {CONFIG_FILE}: {len(missing)} missing, "
            f"{len(unexpected)} unexpected and {len(misshapen)} misshapen tensors (e.g. '{example}')"
        )
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError) as error:
        raise ModelError(f"{path}: cannot load weights ({str(error).splitlines()[0]})") from error
