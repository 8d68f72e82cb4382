"""Every architecture learns from real data: 30 optimiser steps on md17-ethanol lower the training loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from egraffbench.data import load_dataset
from egraffbench.models import ARCHITECTURES
from egraffbench.models.presets import load_preset
from egraffbench.training.examples import build_examples
from egraffbench.training.trainer import loss_terms, untrained_force_field

STEPS = 30
FRAMES = 20
BATCH = 4
PRESET = "dev"


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_thirty_steps_on_md17_ethanol_lower_the_loss(architecture: str, shared_datasets: Path) -> None:
    frames = load_dataset("md17-ethanol", "train", shared_datasets)[:FRAMES]
    config = load_preset(architecture, PRESET)
    settings = config.training
    examples = build_examples(frames, config.cutoff, torch.float32)
    torch.manual_seed(0)
    model = untrained_force_field(config, frames, examples)
    everything = list(range(FRAMES))

    def full_loss() -> float:
        return float(loss_terms(model, examples, everything, settings, training=False)[0].detach())

    before = full_loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    generator = torch.Generator().manual_seed(0)
    for _ in range(STEPS):
        indices = torch.randperm(FRAMES, generator=generator)[:BATCH].tolist()
        optimizer.zero_grad(set_to_none=True)
        loss, _ = loss_terms(model, examples, indices, settings, training=True)
        loss.backward()
        optimizer.step()
    after = full_loss()
    assert after < 0.7 * before, f"{architecture}: loss {before:.4g} → {after:.4g} after {STEPS} steps"
