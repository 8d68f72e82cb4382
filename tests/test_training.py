"""The trainer: reference-energy fit, learning, exact resume, divergence handling, evaluation."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT

from egraffbench.data.reference import attach_reference
from egraffbench.errors import ConfigError, TrainingError
from egraffbench.models.base import TrainingStatistics
from egraffbench.models.presets import load_model_config, load_preset
from egraffbench.training import train_force_field
from egraffbench.training import trainer as trainer_module
from egraffbench.training.evaluation import evaluate_force_field
from egraffbench.training.statistics import fit_element_energies


def emt_structures(count: int, seed: int) -> list:
    """Rattled 8-atom Cu/Au cells labelled by EMT."""
    rng = np.random.default_rng(seed)
    structures = []
    for _ in range(count):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
        atoms.numbers[rng.choice(len(atoms), size=int(rng.integers(1, 4)), replace=False)] = 79
        atoms.positions += rng.normal(scale=0.08, size=atoms.positions.shape)
        atoms.calc = EMT()
        structures.append(attach_reference(atoms.copy(), atoms.get_potential_energy(), atoms.get_forces()))
    return structures


def tiny_config(epochs: int = 3):
    config = load_preset("mace", "test")
    return config.model_copy(update={"training": config.training.model_copy(update={"max_epochs": epochs})})


def test_element_energies_recover_a_linear_energy_model() -> None:
    structures = emt_structures(12, seed=0)
    for atoms in structures:
        n_cu, n_au = np.count_nonzero(atoms.numbers == 29), np.count_nonzero(atoms.numbers == 79)
        attach_reference(atoms, -3.5 * n_cu - 1.25 * n_au, np.zeros((len(atoms), 3)))
    fitted = fit_element_energies(structures, [29, 79])
    assert fitted[29] == pytest.approx(-3.5, abs=1e-10)
    assert fitted[79] == pytest.approx(-1.25, abs=1e-10)


def test_training_lowers_validation_error_and_writes_a_loadable_model(tmp_path) -> None:
    train, val = emt_structures(16, seed=1), emt_structures(6, seed=2)
    config = tiny_config(epochs=6)
    result = train_force_field(config, train, val, tmp_path / "model", seed=0)
    log = [json.loads(line) for line in (tmp_path / "model" / "training_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == list(range(1, 7))
    assert min(r["val_force_mae"] for r in log) < 0.7 * log[0]["val_force_mae"]
    errors = evaluate_force_field(result.model, val)
    best = min(log, key=lambda r: r["val_loss"])
    assert errors["force_mae"] == pytest.approx(best["val_force_mae"], rel=1e-4)
    assert errors["energy_mae_per_atom"] == pytest.approx(best["val_energy_mae_per_atom"], rel=1e-3, abs=1e-6)


def test_ema_keeps_integer_buffers_exact() -> None:
    """Averaging an integer buffer in floating point and copying it back truncates (79 → 78): the EMA must
    copy integer buffers, or the averaged model maps elements and cutoffs wrongly."""
    update = trainer_module.ema_with_warmup(0.99)
    numbers = torch.tensor([29, 79])
    averaged = numbers.clone()
    for step in range(1000):
        averaged.copy_(update(averaged, numbers, torch.tensor(step)))
    assert torch.equal(averaged, numbers)
    weights = torch.tensor([1.0])
    for step in range(1000):
        weights.copy_(update(weights, torch.tensor([3.0]), torch.tensor(step)))
    assert float(weights) == pytest.approx(3.0, rel=1e-6)


def test_resume_continues_exactly(tmp_path) -> None:
    train, val = emt_structures(10, seed=3), emt_structures(4, seed=4)
    straight = train_force_field(tiny_config(epochs=3), train, val, tmp_path / "straight", seed=5)
    train_force_field(tiny_config(epochs=2), train, val, tmp_path / "resumed", seed=5)
    resumed = train_force_field(tiny_config(epochs=3), train, val, tmp_path / "resumed", seed=5, resume=True)
    # bit for bit: the resumed epoch sees the same minibatches in the same process with the same threads
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    logs = [
        [
            json.loads(line)["val_loss"]
            for line in (tmp_path / run / "training_log.jsonl").read_text().splitlines()
        ]
        for run in ("straight", "resumed")
    ]
    assert logs[0] == logs[1]


@contextmanager
def _fitted_as_on_another_cpu() -> Iterator[None]:
    """Training statistics as another CPU's BLAS might fit them: reference energies off in their last
    digits."""
    fitted = trainer_module.training_statistics

    def shifted(*args: object) -> TrainingStatistics:
        statistics = fitted(*args)
        return replace(
            statistics, element_energies={z: e + 1e-9 for z, e in statistics.element_energies.items()}
        )

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "training_statistics", shifted)
        yield


def _val_losses(folder) -> list[float]:
    return [json.loads(line)["val_loss"] for line in (folder / "training_log.jsonl").read_text().splitlines()]


def test_a_resumed_training_keeps_the_statistics_it_began_with(tmp_path) -> None:
    """The reference energies are a least-squares fit in numpy's BLAS, whose kernels follow the CPU: fitted
    again where a training resumes they may differ in their last digits. It goes on with those it began with
    (kept in its checkpoint), so it ends as the uninterrupted run; a checkpoint written before they were kept
    resumes by fitting them again."""
    train, val = emt_structures(10, seed=3), emt_structures(4, seed=4)
    straight = train_force_field(tiny_config(epochs=3), train, val, tmp_path / "straight", seed=5)
    with _fitted_as_on_another_cpu():
        other = train_force_field(tiny_config(epochs=3), train, val, tmp_path / "other", seed=5)
    assert _val_losses(tmp_path / "other") != _val_losses(tmp_path / "straight")  # the shift is felt
    train_force_field(tiny_config(epochs=2), train, val, tmp_path / "resumed", seed=5)
    with _fitted_as_on_another_cpu():
        resumed = train_force_field(
            tiny_config(epochs=3), train, val, tmp_path / "resumed", seed=5, resume=True
        )
    assert resumed.model.statistics == straight.model.statistics != other.model.statistics
    assert _val_losses(tmp_path / "resumed") == _val_losses(tmp_path / "straight")
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # an older checkpoint, without them: fitted again (here shifted), as before
    train_force_field(tiny_config(epochs=2), train, val, tmp_path / "old", seed=5)
    checkpoint = tmp_path / "old" / "checkpoint.pt"
    saved = torch.load(checkpoint, weights_only=True)
    del saved["statistics"]
    torch.save(saved, checkpoint)
    with _fitted_as_on_another_cpu():
        old = train_force_field(tiny_config(epochs=3), train, val, tmp_path / "old", seed=5, resume=True)
    assert old.model.statistics == other.model.statistics


def test_existing_run_needs_resume(tmp_path) -> None:
    train, val = emt_structures(4, seed=6), emt_structures(2, seed=7)
    train_force_field(tiny_config(epochs=1), train, val, tmp_path / "run")
    with pytest.raises(TrainingError, match="--resume"):
        train_force_field(tiny_config(epochs=1), train, val, tmp_path / "run")


def test_nan_loss_stops_with_clear_error_and_keeps_last_good_checkpoint(tmp_path, monkeypatch) -> None:
    train, val = emt_structures(6, seed=8), emt_structures(2, seed=9)
    train_force_field(tiny_config(epochs=1), train, val, tmp_path / "run")
    good = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    original = trainer_module.loss_terms

    def diverging(*args, **kwargs):
        loss, parts = original(*args, **kwargs)
        return loss * float("nan"), parts

    monkeypatch.setattr(trainer_module, "loss_terms", diverging)
    with pytest.raises(TrainingError, match="loss became nan in epoch 2"):
        train_force_field(tiny_config(epochs=3), train, val, tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == good


def _train_and_evaluate(folder, train, val, test) -> tuple[dict, dict]:
    result = train_force_field(tiny_config(epochs=4), train, val, folder, seed=3)
    return evaluate_force_field(result.model, test), result.model.state_dict()


def test_same_seed_gives_identical_metrics_while_another_process_loads_the_cpu(tmp_path) -> None:
    """Budgets are epochs, and every random draw (subset, initial weights, batch order) is seeded, so the
    machine's load cannot change the result. On one machine with the same torch thread count the runs are
    bit-identical, so the tolerance is zero (docs/models.md, "Reproducibility")."""
    train, val, test = emt_structures(12, seed=10), emt_structures(4, seed=11), emt_structures(6, seed=12)
    idle_errors, idle_weights = _train_and_evaluate(tmp_path / "idle", train, val, test)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        loaded_errors, loaded_weights = _train_and_evaluate(tmp_path / "loaded", train, val, test)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    assert loaded_errors == idle_errors
    for key, value in idle_weights.items():
        assert torch.equal(value, loaded_weights[key]), key


def test_a_wall_time_budget_is_refused_with_the_field_named(tmp_path) -> None:
    path = tmp_path / "mace.yaml"
    path.write_text("training: {max_epochs: 5, max_wall_seconds: 60}\n")
    with pytest.raises(ConfigError, match=r"mace.yaml: field 'training': max_wall_seconds is no longer"):
        load_model_config("mace", path)
