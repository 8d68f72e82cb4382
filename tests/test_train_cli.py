"""`egraffbench train` then `egraffbench evaluate` on real data (md17-ethanol): the model folder, the training
log and the evaluation JSON (keys users' scripts read), checked against an independent computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.data import load_dataset
from egraffbench.data.reference import reference_energy, reference_forces
from egraffbench.models import load_force_field
from egraffbench.models.presets import load_preset
from egraffbench.training.prediction import predict

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture(scope="module")
def trained(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train-cli")
    config = load_preset("mace", "test").model_dump()
    config["training"].update(max_epochs=3, max_train_frames=24, max_val_frames=8)
    config_file = folder / "tiny-mace.yaml"
    config_file.write_text(yaml.safe_dump(config))
    command = ["train", "--model", "mace", "--dataset", "md17-ethanol", "--config", str(config_file)]
    outcome = runner.invoke(cli, [*command, "--data-root", str(shared_datasets), "--out", str(folder / "m")])
    assert outcome.exit_code == 0, outcome.output
    return folder / "m"


def test_train_writes_a_model_and_its_log(trained: Path) -> None:
    log = [json.loads(line) for line in (trained / "training_log.jsonl").read_text().splitlines()]
    assert [record["epoch"] for record in log] == [1, 2, 3]
    assert {"val_force_mae", "val_energy_mae_per_atom", "learning_rate", "wall_seconds"} <= set(log[0])
    assert load_force_field(trained).species == [1, 6, 8]


def test_evaluate_json_matches_an_independent_computation(
    trained: Path, shared_datasets: Path, tmp_path
) -> None:
    report = tmp_path / "errors.json"
    outcome = runner.invoke(
        cli,
        [
            "evaluate",
            str(trained),
            "--dataset",
            "md17-ethanol",
            "--data-root",
            str(shared_datasets),
            "--json",
            str(report),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    errors = json.loads(report.read_text())
    frames = load_dataset("md17-ethanol", "test", shared_datasets)
    energies, forces = predict(load_force_field(trained), frames)
    reference = np.concatenate([reference_forces(a) for a in frames])
    per_atom = (energies - np.array([reference_energy(a) for a in frames])) / 9
    assert errors["force_mae"] == pytest.approx(np.mean(np.abs(forces - reference)), rel=1e-9)
    assert errors["energy_mae_per_atom"] == pytest.approx(np.mean(np.abs(per_atom)), rel=1e-9)
    assert errors["reference_force_std"] == pytest.approx(reference.std(), rel=1e-12)
    assert 0.5 < errors["reference_force_std"] < 2.0  # MD17 ethanol forces, eV/Å
    # 95 % bootstrap intervals over the test structures, around each error
    assert set(errors["intervals"]) == {k for k in errors if k.startswith(("energy_", "force_"))}
    for name, (low, high) in errors["intervals"].items():
        assert low < errors[name] < high, name
    low, high = errors["intervals"]["force_mae"]
    assert high - low < 0.2 * errors["force_mae"]  # 1000 structures: a few % of the error


def test_evaluate_takes_the_model_as_simulate_does(trained: Path, shared_datasets: Path, tmp_path) -> None:
    """`--model DIR` (simulate's spelling) gives the same errors as the argument (neither, or two different
    models: test_bad_inputs.py)."""
    common = ["--dataset", "md17-ethanol", "--data-root", str(shared_datasets)]
    for name, model in (("argument", [str(trained)]), ("option", ["--model", str(trained)])):
        outcome = runner.invoke(cli, ["evaluate", *model, *common, "-o", str(tmp_path / f"{name}.json")])
        assert outcome.exit_code == 0, outcome.output
    found = {name: json.loads((tmp_path / f"{name}.json").read_text()) for name in ("argument", "option")}
    assert found["argument"] == found["option"]
