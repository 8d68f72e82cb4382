"""One training loop for every architecture: weighted energy/force loss, EMA, plateau LR, early stopping,
per-epoch checkpoints with exact resume, and a JSON-lines log."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from torch.optim.swa_utils import AveragedModel

from egraffbench.errors import DatasetError, TrainingError
from egraffbench.fileio import TORCH_FILE_ERRORS, atomic_write_bytes, atomic_write_json, atomic_write_text
from egraffbench.models.base import ForceField, TrainingStatistics
from egraffbench.models.presets import ModelConfig, TrainingConfig
from egraffbench.models.registry import build_force_field
from egraffbench.models.storage import load_force_field, save_force_field
from egraffbench.training.examples import Examples, build_examples, species_of
from egraffbench.training.prediction import model_device, predict_examples
from egraffbench.training.statistics import training_statistics

CHECKPOINT_FILE = "checkpoint.pt"
LOG_FILE = "training_log.jsonl"
CONFIG_FILE = "training_config.json"


@dataclass
class TrainingResult:
    """A trained model (best validation epoch, EMA weights when EMA is on) and how training went."""

    model: ForceField
    out_dir: Path
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    wall_seconds: float  # training's clock, carried over interruptions by the checkpoint
    stopped_because: str
    train_frames: int  # frames trained on: the training split subsampled to max_train_frames
    val_frames: int  # frames validated on (max_val_frames)
    resumed_seconds: float = 0.0  # the part of wall_seconds spent by earlier, interrupted attempts
    resumed_cpu_seconds: float | None = 0.0  # their CPU time; None where the checkpoint did not carry it


def ema_with_warmup(decay: float) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """EMA update with decay min(decay, (1 + n) / (10 + n)) after n updates.

    Integer buffers are copied, not averaged. A fixed decay of 0.99 would keep most of the random initial
    weights for the first few hundred steps, which is the whole of a short (dev) training; the warm-up lets
    early averages follow the model.
    """

    def update(averaged: torch.Tensor, current: torch.Tensor, updates: torch.Tensor) -> torch.Tensor:
        if not averaged.is_floating_point():
            # Integer buffers (atomic numbers, cutoff exponents) are constants: averaging them in floating
            # point and copying back truncates (79 → 78), which silently breaks the averaged model.
            return current
        rate = min(decay, (1.0 + float(updates)) / (10.0 + float(updates)))
        return rate * averaged + (1.0 - rate) * current

    return update


def _subset(structures: Sequence[Atoms], limit: int | None, seed: int) -> list[Atoms]:
    if limit is None or len(structures) <= limit:
        return list(structures)
    chosen = np.sort(np.random.default_rng(seed).choice(len(structures), size=limit, replace=False))
    return [structures[i] for i in chosen]


def _optimizer(model: torch.nn.Module, settings: TrainingConfig) -> torch.optim.Optimizer:
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(
            model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
        )
    return torch.optim.Adam(
        model.parameters(),
        lr=settings.learning_rate,
        weight_decay=settings.weight_decay,
        amsgrad=settings.optimizer == "amsgrad",
    )


def loss_terms(
    model: ForceField, examples: Examples, indices: list[int], settings: TrainingConfig, training: bool
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted loss w_E·MSE(energy per atom) + w_F·MSE(force components) of one minibatch (computed on the
    model's device), and its parts."""
    graph, energies, forces = examples.batch(indices)
    device = model_device(model)
    graph, energies, forces = graph.to(device), energies.to(device), forces.to(device)
    output = model(graph, training=training)
    atoms_per_system = graph.n_atoms_per_system.to(output["energy"].dtype)
    energy_error = (output["energy"] - energies.to(output["energy"].dtype)) / atoms_per_system
    force_error = output["forces"] - forces
    energy_mse, force_mse = energy_error.pow(2).mean(), force_error.pow(2).mean()
    loss = settings.energy_weight * energy_mse + settings.force_weight * force_mse
    return loss, {"energy_mse": float(energy_mse.detach()), "force_mse": float(force_mse.detach())}


def validation_metrics(model: ForceField, examples: Examples, settings: TrainingConfig) -> dict[str, float]:
    """Validation loss and errors (energy MAE per atom, eV; force MAE, eV/Å)."""
    energies, forces = predict_examples(model, examples, batch_size=max(settings.batch_size, 8))
    atoms = np.array([len(g.positions) for g in examples.graphs])
    reference_forces = torch.cat(examples.forces).double().numpy()
    energy_error = (energies - examples.energies.numpy()) / atoms
    force_error = forces - reference_forces
    loss = settings.energy_weight * np.mean(energy_error**2) + settings.force_weight * np.mean(force_error**2)
    return {
        "val_loss": float(loss),
        "val_energy_mae_per_atom": float(np.mean(np.abs(energy_error))),
        "val_force_mae": float(np.mean(np.abs(force_error))),
    }


def _torch_bytes(payload: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _unreadable_checkpoint(path: Path, error: Exception) -> TrainingError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return TrainingError(
        f"{path}: unreadable training checkpoint ({reason}); delete the folder to train from scratch"
    )


def _read_checkpoint(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except TORCH_FILE_ERRORS as error:
        raise _unreadable_checkpoint(path, error) from error


def _checkpoint_statistics(path: Path, saved: dict[str, Any]) -> TrainingStatistics | None:
    """The statistics the interrupted attempt built its model with; None in checkpoints written before
    2026-12-04, which did not keep them (they are fitted again, as those versions did)."""
    stored = saved.get("statistics")
    try:
        return None if stored is None else TrainingStatistics.from_json(stored)
    except (AttributeError, TypeError, ValueError) as error:
        raise _unreadable_checkpoint(path, error) from error


def _resume(
    path: Path,
    saved: dict[str, Any],
    model: ForceField,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau,
    averaged: AveragedModel | None,
) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and EMA from checkpoint ``saved`` (read from ``path``); returns
    its loop state."""
    try:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if averaged is not None:
            averaged.load_state_dict(saved["ema"])
        return dict(saved["state"])
    except TORCH_FILE_ERRORS as error:
        raise _unreadable_checkpoint(path, error) from error


def _restore_log(log_path: Path, last_epoch: int) -> list[dict[str, Any]]:
    """Log records up to ``last_epoch``: an epoch logged but not checkpointed before a kill is dropped, and
    so is a line torn by a failed write (a full disk)."""
    if not log_path.is_file():
        return []
    records = []
    for line in filter(str.strip, log_path.read_text().splitlines()):
        try:
            records.append(json.loads(line))
        except ValueError:
            break
    kept = [r for r in records if r["epoch"] <= last_epoch]
    atomic_write_text(log_path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


def untrained_force_field(
    config: ModelConfig,
    structures: Sequence[Atoms],
    examples: Examples,
    statistics: TrainingStatistics | None = None,
) -> ForceField:
    """``config``'s model with fresh weights (seed torch first) and the statistics of ``structures`` (with
    reference energies and forces; ``examples`` their graphs) unless ``statistics`` are given: what
    training starts from."""
    species = species_of(structures)
    statistics = statistics or training_statistics(structures, species, examples)
    return build_force_field(
        config.architecture,
        species,
        config.cutoff,
        statistics,
        config.hyperparameters,
        dtype=getattr(torch, config.dtype),
    )


def train_force_field(
    config: ModelConfig,
    train: Sequence[Atoms],
    val: Sequence[Atoms],
    out_dir: Path,
    seed: int = 0,
    resume: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    device: str | torch.device = "cpu",
) -> TrainingResult:
    """Train ``config.architecture`` on ``train``, select by ``val``; write the model folder ``out_dir``.

    The model is initialised on the CPU (the same weights for a seed on any device), then trained on
    ``device``; the saved weights are CPU tensors.

    ``out_dir`` receives `model.json` + `weights.pt` (best model), `checkpoint.pt` (state for --resume),
    `training_log.jsonl` (one record per epoch) and `training_config.json`.
    """
    settings = config.training
    if not train or not val:
        raise DatasetError(
            f"training needs non-empty train and validation splits (got {len(train)}, {len(val)})"
        )
    dtype = getattr(torch, config.dtype)
    checkpoint_path = out_dir / CHECKPOINT_FILE
    if checkpoint_path.exists() and not resume:
        raise TrainingError(
            f"{out_dir} already holds a training run; pass --resume to continue it or choose --out"
        )
    train_set = _subset(train, settings.max_train_frames, seed)
    val_set = _subset(val, settings.max_val_frames, seed + 1)
    species = species_of(train_set)
    unseen = sorted(set(species_of(val_set)) - set(species))
    if unseen:
        raise DatasetError(f"validation split has elements {unseen} absent from the training split")

    train_examples = build_examples(train_set, config.cutoff, dtype)
    val_examples = build_examples(val_set, config.cutoff, dtype)
    saved = _read_checkpoint(checkpoint_path) if resume and checkpoint_path.exists() else None
    # A resumed training keeps the statistics it began with: fitted again, the reference energies (a
    # least-squares solve in numpy's BLAS, whose kernels follow the CPU) may differ in their last bits.
    statistics = None if saved is None else _checkpoint_statistics(checkpoint_path, saved)
    torch.manual_seed(seed)
    model = untrained_force_field(config, train_set, train_examples, statistics).to(device)
    optimizer = _optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=settings.scheduler_factor, patience=settings.scheduler_patience
    )
    averaged = (
        AveragedModel(model, avg_fn=ema_with_warmup(settings.ema_decay), use_buffers=True)
        if settings.ema_decay is not None
        else None
    )
    state = {"epoch": 0, "best_val_loss": math.inf, "best_epoch": 0, "bad_epochs": 0}
    state |= {"wall_seconds": 0.0, "cpu_seconds": 0.0}  # clocks over every attempt (no CPU before 2026-12-05)
    if saved is not None:
        state = _resume(checkpoint_path, saved, model, optimizer, scheduler, averaged)
    out_dir.mkdir(parents=True, exist_ok=True)  # only now: a model that cannot be built leaves no folder
    atomic_write_json(out_dir / CONFIG_FILE, {"seed": seed, **config.model_dump()})
    log = _restore_log(out_dir / LOG_FILE, state["epoch"])
    selection_model = averaged.module if averaged is not None else model

    stopped_because = "max-epochs"
    resumed_seconds, resumed_cpu_seconds = state["wall_seconds"], state.get("cpu_seconds")
    started, started_cpu = time.perf_counter() - resumed_seconds, time.process_time()
    while state["epoch"] < settings.max_epochs:
        epoch = state["epoch"] + 1
        generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        model.train()
        sums = {"loss": 0.0, "energy_mse": 0.0, "force_mse": 0.0}
        batches = train_examples.minibatches(settings.batch_size, generator)
        for indices in batches:
            optimizer.zero_grad(set_to_none=True)
            loss, parts = loss_terms(model, train_examples, indices, settings, training=True)
            if not torch.isfinite(loss):
                kept = (
                    f"last good checkpoint kept in {checkpoint_path}"
                    if checkpoint_path.exists()
                    else "no checkpoint was written yet"
                )
                raise TrainingError(
                    f"{config.architecture}: loss became {float(loss.detach())} in epoch {epoch}; training "
                    f"stopped, {kept} (try a lower learning rate)"
                )
            loss.backward()
            if settings.gradient_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.gradient_clip)
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters(model)
            sums["loss"] += float(loss.detach())
            for key, value in parts.items():
                sums[key] += value
        model.eval()
        metrics = validation_metrics(selection_model.eval(), val_examples, settings)
        scheduler.step(metrics["val_loss"])
        improved = metrics["val_loss"] < state["best_val_loss"]
        if improved:
            state.update(best_val_loss=metrics["val_loss"], best_epoch=epoch, bad_epochs=0)
            save_force_field(selection_model, out_dir)
        else:
            state["bad_epochs"] += 1
        state["epoch"] = epoch
        state["wall_seconds"] = time.perf_counter() - started
        if resumed_cpu_seconds is not None:
            state["cpu_seconds"] = resumed_cpu_seconds + time.process_time() - started_cpu
        record = {
            "epoch": epoch,
            **{f"train_{k}": v / len(batches) for k, v in sums.items()},
            **metrics,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "wall_seconds": state["wall_seconds"],
            "best": improved,
        }
        log.append(record)
        with open(out_dir / LOG_FILE, "a") as stream:
            stream.write(json.dumps(record) + "\n")
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ema": averaged.state_dict() if averaged is not None else {},
            "state": state,
            "statistics": model.statistics.to_json(),
        }
        atomic_write_bytes(checkpoint_path, _torch_bytes(checkpoint))
        if on_epoch is not None:
            on_epoch(record)
        if state["bad_epochs"] >= settings.early_stopping_patience:
            stopped_because = "early-stopping"
            break
    best = load_force_field(out_dir, device).to(dtype)
    return TrainingResult(
        model=best,
        out_dir=out_dir,
        epochs_run=state["epoch"],
        best_epoch=state["best_epoch"],
        best_val_loss=state["best_val_loss"],
        wall_seconds=state["wall_seconds"],
        stopped_because=stopped_because,
        train_frames=len(train_set),
        val_frames=len(val_set),
        resumed_seconds=resumed_seconds,
        resumed_cpu_seconds=resumed_cpu_seconds,
    )
