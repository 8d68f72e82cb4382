"""Save and load trained force fields: a folder with `model.json` (config) and `weights.pt` (state dict)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import torch

from egraffbench.errors import ModelError
from egraffbench.fileio import atomic_write_bytes, atomic_write_text
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.pretrained import is_pretrained_file, load_declaration
from egraffbench.models.registry import REFERENCE_POTENTIALS, build_force_field, reference_potential

CONFIG_FILE = "model.json"
WEIGHTS_FILE = "weights.pt"


def save_force_field(model: ForceField, folder: Path) -> Path:
    """Write ``model`` to ``folder`` atomically (config first, weights last); returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / CONFIG_FILE, json.dumps(model.config(), indent=2))
    atomic_write_bytes(folder / WEIGHTS_FILE, _state_bytes(model))
    return folder


def _state_bytes(model: ForceField) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
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
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise ModelError(f"{config_path}: invalid model config ({error})") from error
    try:
        state = torch.load(weights_path, map_location=device, weights_only=True)
        model.load_state_dict(state)
    except (RuntimeError, EOFError, ValueError) as error:
        raise ModelError(f"{weights_path}: cannot load weights ({error})") from error
    return model.to(device).eval()
