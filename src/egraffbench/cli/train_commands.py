"""`egraffbench train` and `egraffbench evaluate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from egraffbench.cli.options import deprecated_alias, device_option, hidden_alias
from egraffbench.cli.progress import progress_display
from egraffbench.data import load_dataset
from egraffbench.data.reference import reference_forces
from egraffbench.errors import ConfigError
from egraffbench.fileio import atomic_write_json
from egraffbench.models.presets import load_model_config
from egraffbench.models.storage import load_force_field
from egraffbench.numerics import pin_torch_threads
from egraffbench.training import train_force_field
from egraffbench.training.evaluation import evaluate_with_intervals

console = Console(stderr=True)


def train(
    model: Annotated[str, typer.Option("--model", help="architecture: mace, botnet, nequip, allegro, ...")],
    dataset: Annotated[str, typer.Option("--dataset", help="dataset name (see `egraffbench data list`)")],
    config: Annotated[
        str, typer.Option("--config", help="preset (dev, standard, paper) or a YAML file")
    ] = "dev",
    seed: Annotated[int, typer.Option("--seed", help="seed of initialisation and batch order")] = 0,
    out: Annotated[Path | None, typer.Option("--out", help="model folder to write")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run in --out")] = False,
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="dataset folder (default: cache)")
    ] = None,
    device: Annotated[str, device_option("torch device to train on")] = "cpu",
) -> None:
    """Train a force field on a dataset's train split, selecting by its validation split."""
    pin_torch_threads()
    model_config = load_model_config(model, config)
    out = out or Path("models") / f"{model}-{dataset.replace('/', '_')}-seed{seed}"
    train_split = load_dataset(dataset, "train", root=data_root)
    val_split = load_dataset(dataset, "val", root=data_root)
    settings = model_config.training
    with progress_display(
        console,
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} epochs"),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        unit="epoch",
    ) as progress:
        task = progress.add_task(f"train {model} on {dataset}", total=settings.max_epochs, status="")

        def show(record: dict) -> None:
            status = (
                f"val E {1000 * record['val_energy_mae_per_atom']:.2f} meV/atom, "
                f"F {1000 * record['val_force_mae']:.1f} meV/Å, lr {record['learning_rate']:.1e}"
            )
            progress.update(task, completed=record["epoch"], status=status)

        result = train_force_field(
            model_config, train_split, val_split, out, seed=seed, resume=resume, on_epoch=show, device=device
        )
    console.print(
        f"trained {model}: {result.epochs_run} epochs ({result.stopped_because}), "
        f"best epoch {result.best_epoch}, "
        f"{result.wall_seconds:.0f} s → {result.out_dir}"
    )


def evaluate(
    dataset: Annotated[str, typer.Option("--dataset", help="dataset name (see `egraffbench data list`)")],
    model_dir: Annotated[
        str | None,
        typer.Argument(
            help="trained model folder, reference potential (emt) or pretrained-model YAML (or --model)",
            show_default=False,
        ),
    ] = None,
    model_option: Annotated[
        str | None, typer.Option("--model", help="the model, as `simulate` takes it (or as the argument)")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="dataset split to evaluate on")] = "test",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="write the errors to this JSON file")
    ] = None,
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="dataset folder (default: cache)")
    ] = None,
    json_path: Annotated[Path | None, hidden_alias("--json", "-o/--output")] = None,
    device: Annotated[str, device_option("torch device to compute on")] = "cpu",
) -> None:
    """Energy and force errors of a model on a dataset split."""
    output = deprecated_alias(output, json_path, "-o/--output", "--json")
    model_dir = _one_model(model_dir, model_option)
    pin_torch_threads()
    model = load_force_field(model_dir, device)
    structures = load_dataset(dataset, split, root=data_root)
    model.check_elements(structures)
    errors, intervals = evaluate_with_intervals(model, structures)
    # The yardstick for the force errors: predicting zero forces gives an RMSE of about this.
    errors["reference_force_std"] = float(np.concatenate([reference_forces(a) for a in structures]).std())
    table = Table(title=f"{model_dir} on {dataset}/{split} ({len(structures)} structures)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95 % interval over the structures", justify="right")
    for key, value in errors.items():
        interval = intervals.get(key)
        shown = f"{interval[0]:.6g} … {interval[1]:.6g}" if interval is not None else ""
        table.add_row(key, f"{value:.6g}" if isinstance(value, float) else str(value), shown)
    Console().print(table)
    if output is not None:
        bounds = {key: list(interval) for key, interval in intervals.items() if interval is not None}
        record = {"model": str(model_dir), "dataset": dataset, "split": split, **errors, "intervals": bounds}
        atomic_write_json(output, record)


def _one_model(argument: str | None, option: str | None) -> str:
    """The model of `evaluate`, given as its argument or as --model (not both, unless they agree)."""
    if argument is None and option is None:
        raise ConfigError("evaluate needs a model: egraffbench evaluate --model DIR|YAML --dataset NAME")
    if argument is not None and option is not None and argument != option:
        raise ConfigError(f"evaluate got two models, {argument!r} and --model {option!r}; give one")
    return argument if argument is not None else str(option)
