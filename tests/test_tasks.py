"""Tasks as data: shipped task files (datasets, OOD splits, protocols), run modes, errors for bad files."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from egraffbench.data import get_dataset_spec
from egraffbench.errors import ConfigError, UnknownNameError
from egraffbench.md.protocol import MDProtocol
from egraffbench.models.presets import load_preset
from egraffbench.models.registry import ARCHITECTURES
from egraffbench.runner import matrix
from egraffbench.runner.matrix import expand_jobs, resolve_models
from egraffbench.tasks import ModeOverride, SystemSpec, list_tasks, load_task, run_settings
from egraffbench.tasks.frames import system_frames
from egraffbench.tasks.loader import TASK_FOLDER
from test_data_registry import PAPER_DATASETS

EGRAFFBENCH_DATASETS = set(PAPER_DATASETS) - {"lips20"}  # LiPS20 has one task per split scheme


def _formula(dataset: str) -> Counter:
    """Element counts of a LiPS20 system, read from its DeePMD folder name (e.g. Li32P16S48)."""
    folder = Path(get_dataset_spec(dataset).splits["all"].parts[0].path).name
    return Counter({element: int(count) for element, count in re.findall(r"([A-Z][a-z]?)(\d+)", folder)})


def _reduced(counts: Counter) -> tuple:
    """Composition as element fractions (so Li4P2S6 and Li2PS3 compare equal)."""
    total = sum(counts.values())
    return tuple(sorted((element, round(n / total, 6)) for element, n in counts.items() if n))


def _split_temperature(source) -> float:
    spec = get_dataset_spec(source.dataset)
    return spec.split(source.split).temperature_K or spec.temperature_K


def test_every_shipped_task_loads_under_its_own_name() -> None:
    tasks = [load_task(name) for name in list_tasks()]
    assert [task.name for task in tasks] == list_tasks()
    assert all(task.version >= 1 for task in tasks)
    kinds = Counter(task.kind for task in tasks)
    assert kinds["ood-temperature"] == 2 and kinds["ood-structure"] == 1 and kinds["ood-composition"] == 1


def test_every_egraffbench_dataset_has_an_in_distribution_task() -> None:
    covered = set()
    for name in list_tasks():
        task = load_task(name)
        if task.kind == "in-distribution":
            covered |= {source.dataset.split("/")[0] for source in task.test}
    assert covered >= EGRAFFBENCH_DATASETS | {"lips20"}
    lips20 = load_task("lips20")
    assert len(lips20.test) == 16 and {s.dataset for s in lips20.test} == {s.dataset for s in lips20.train}


@pytest.mark.parametrize("name", ["3bpa", "acac"])
def test_in_distribution_molecules_never_test_on_validation_frames(name: str) -> None:
    task = load_task(name)
    (val,), (test,) = task.val, task.test
    assert val.dataset == test.dataset and val.split == test.split
    assert val.frames[1] <= test.frames[0]  # disjoint frame blocks of the same file
    assert _split_temperature(test) == pytest.approx(300.0)


@pytest.mark.parametrize("name", ["3bpa-600K", "acac-600K"])
def test_higher_temperature_tasks_train_at_300K_and_simulate_at_600K(name: str) -> None:
    task = load_task(name)
    assert task.kind == "ood-temperature"
    assert {_split_temperature(source) for source in task.train + task.val} == {300.0}
    (test,) = task.test
    assert _split_temperature(test) == pytest.approx(600.0) and test.temperature_K == pytest.approx(600.0)
    in_distribution = load_task(name.removesuffix("-600K"))
    assert task.train == in_distribution.train and task.val == in_distribution.val  # one model serves both


def test_unseen_structure_keeps_compositions_and_changes_structures() -> None:
    task = load_task("lips20-unseen-structure")
    train = {source.dataset for source in task.train}
    test = {system.dataset for system in task.test}
    assert not train & test
    assert {_reduced(_formula(d)) for d in test} == {_reduced(_formula(d)) for d in train}
    assert {system.split for system in task.test} == {"all"}


def test_unseen_composition_holds_out_compositions_absent_from_training() -> None:
    task = load_task("lips20-unseen-composition")
    train = {_reduced(_formula(source.dataset)) for source in task.train}
    held_out = [_reduced(_formula(system.dataset)) for system in task.test]
    assert len(held_out) == 3 and not set(held_out) & train
    assert {source.dataset for source in task.train} == {source.dataset for source in task.val}


def test_the_frames_a_test_system_is_come_from_the_registry_without_the_data() -> None:
    """lips20 tests frames 900–999 of each system, its twins all 1000 frames of theirs; a `frames` range
    slices the split's; a file source's frames are not known without the file."""
    lips20, twin = load_task("lips20"), load_task("lips20-unseen-structure")
    li4p2s6 = {task.name: next(s for s in task.test if s.system_name == "Li4P2S6") for task in (lips20, twin)}
    assert system_frames(li4p2s6["lips20"]) == range(900, 1000)
    assert system_frames(li4p2s6["lips20-unseen-structure"]) == range(1000)
    sliced = li4p2s6["lips20"].model_copy(update={"frames": (10, 20)})
    assert system_frames(sliced) == range(910, 920)
    assert system_frames(SystemSpec(file="frames.xyz", format="extxyz")) is None


def test_run_modes_follow_the_paper_protocol_and_shrink_for_dev() -> None:
    task = load_task("md17-ethanol")
    paper = run_settings(task, "paper")
    assert paper.model_preset == "paper" and paper.replicas == 10
    assert paper.protocol.steps == 1000 and paper.protocol.timestep_fs == 1.0
    assert paper.protocol.ensemble == "nvt-langevin" and paper.protocol.friction == pytest.approx(5e-3)
    dev = run_settings(task, "dev")
    assert dev.model_preset == "dev" and dev.replicas * dev.protocol.steps <= 5 * 300
    assert run_settings(task, "standard").protocol.steps == 1000
    assert dev.temperature_K is None  # each test system runs at its data's temperature (MD17: 500 K)


MOLECULE_HORIZON_PS, PERIODIC_HORIZON_PS = 5.0, 2.0  # standard mode's stability horizons (docs/md.md)
# the hyperparameter holding the number of radial basis functions of each architecture
RADIAL_BASIS = {
    "mace": "num_bessel",
    "botnet": "num_bessel",
    "nequip": "num_basis",
    "allegro": "num_bessels_per_basis",
    "torchmdnet": "num_rbf",
    "equiformer": "num_radial_basis",
}


def test_standard_presets_share_one_cutoff_and_radial_basis_and_are_bounded_in_epochs() -> None:
    presets = [load_preset(architecture, "standard") for architecture in ARCHITECTURES]
    assert {p.cutoff for p in presets} == {5.0}
    assert {p.hyperparameters[RADIAL_BASIS[p.architecture]] for p in presets} == {8}
    for preset in presets:
        assert preset.training.early_stopping_patience < preset.training.max_epochs
        dev, paper = load_preset(preset.architecture, "dev"), load_preset(preset.architecture, "paper")
        assert dev.training.max_epochs <= preset.training.max_epochs <= paper.training.max_epochs


@pytest.mark.parametrize("name", list_tasks())
def test_standard_mode_runs_the_papers_protocol_then_continues_to_a_stability_horizon(name: str) -> None:
    task = load_task(name)
    settings = run_settings(task, "standard")
    protocol = settings.protocol
    assert settings.model_preset == "standard"
    # the paper's 10 replicas for one test system; a multi-system task spreads at least 10 over its systems
    assert settings.replicas == 10 if len(task.test) == 1 else settings.replicas * len(task.test) >= 10
    ensemble = task.md.get("ensemble", "nvt-langevin")  # the NVE task keeps its ensemble
    assert (protocol.ensemble, protocol.steps, protocol.timestep_fs) == (ensemble, 1000, 1.0)
    assert protocol.friction == pytest.approx(5e-3) and settings.temperature_K is None
    periodic = get_dataset_spec(task.test[0].dataset).periodic
    horizon_ps = protocol.horizon_steps * protocol.timestep_fs / 1000
    assert horizon_ps == (PERIODIC_HORIZON_PS if periodic else MOLECULE_HORIZON_PS)


def test_task_mode_section_and_command_line_override_in_that_order() -> None:
    task = load_task("lips20")
    assert run_settings(task, "dev").replicas == 1 and run_settings(task, "paper").replicas == 10
    cli = ModeOverride(model_preset="test", replicas=3, md={"steps": 7})
    settings = run_settings(task, "dev", cli)
    assert (settings.model_preset, settings.replicas, settings.protocol.steps) == ("test", 3, 7)
    with pytest.raises(UnknownNameError, match="modes: dev, standard, paper"):
        run_settings(task, "quick")


def _write(tmp_path: Path, **changes) -> Path:
    body = {
        "name": "mine",
        "version": 1,
        "kind": "in-distribution",
        "description": "a user task",
        "train": [{"dataset": "md17-ethanol", "split": "train"}],
        "val": [{"dataset": "md17-ethanol", "split": "val"}],
        "test": [{"dataset": "md17-ethanol", "split": "test", "frames": [0, 100]}],
        **changes,
    }
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_a_user_task_file_loads_without_touching_the_package(tmp_path: Path) -> None:
    path = _write(tmp_path, md={"temperature_K": 350.0}, modes={"dev": {"replicas": 2}})
    task = load_task(path)
    settings = run_settings(task, "dev")
    assert task.name == "mine" and settings.replicas == 2 and settings.temperature_K == 350.0
    assert not (TASK_FOLDER / "mine.yaml").exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"train": [{"dataset": "md17-asprin", "split": "train"}]}, "train.0.dataset"),
        ({"val": [{"dataset": "md17-ethanol", "split": "validation"}]}, "val.0"),
        ({"md": {"steps": -3}}, "md.steps"),
        ({"modes": {"dev": {"replica": 3}}}, "modes.dev.replica"),
        ({"modes": {"dev": {"md": {"timestep_fs": 0}}}}, "modes.dev.md.timestep_fs"),
        ({"test": [{"file": "frames.extxyz", "format": "extxyz"}]}, "test.0.temperature_K"),
        ({"test": [{"dataset": "md17-ethanol", "split": "test", "oracle": "dft"}]}, "test.0.oracle"),
        ({"kind": "ood"}, "kind"),
        ({"metrics": ["structure", "speed"]}, "metrics.1"),
    ],
)
def test_a_bad_task_file_names_the_field(tmp_path: Path, changes: dict, field: str) -> None:
    path = _write(tmp_path, **changes)
    with pytest.raises(ConfigError) as error:
        load_task(path)
    message = str(error.value)
    assert str(path) in message and f"field '{field}'" in message and "\n" not in message


def test_unknown_task_names_suggest_close_ones() -> None:
    with pytest.raises(UnknownNameError, match="md17-ethanol"):
        load_task("md17-ethanl")


def test_all_models_are_the_six_architectures_with_the_mode_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matrix, "load_model_config", lambda name, preset: f"{name}:{preset}")  # no imports
    choices = resolve_models(["all", "emt", "mace"], "paper")
    assert [m.name for m in choices] == [*ARCHITECTURES, "emt"]
    assert [m.config for m in choices[:-1]] == [f"{name}:paper" for name in ARCHITECTURES]


def test_models_can_be_reference_potentials_and_user_config_files(tmp_path: Path) -> None:
    own = tmp_path / "small-mace.yaml"
    own.write_text(yaml.safe_dump({"architecture": "mace", "cutoff": 3.5, "training": {"max_epochs": 3}}))
    choices = resolve_models(["emt", str(own)], "dev")
    assert choices[0].is_reference and choices[1].name == "small-mace"
    assert choices[1].config.cutoff == 3.5 and choices[1].config.training.max_epochs == 3
    nameless = tmp_path / "nameless.yaml"
    nameless.write_text(yaml.safe_dump({"cutoff": 3.5}))
    with pytest.raises(ConfigError, match="field 'architecture'"):
        resolve_models([str(nameless)], "dev")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"architecture": "mace", "training": {"batch_size": 0}}))
    with pytest.raises(ConfigError, match=r"field 'training\.batch_size'"):
        resolve_models([str(bad)], "dev")


def test_the_matrix_has_one_job_per_model_task_and_seed() -> None:
    tasks = [load_task("md17-ethanol"), load_task("md17-aspirin")]
    jobs = expand_jobs(["mace", "emt"], tasks, 3, "dev")
    assert len(jobs) == 12 and len({job.job_id for job in jobs}) == 12
    assert {job.settings.protocol == MDProtocol(steps=300) for job in jobs} == {True}
    assert {job.model.source for job in jobs if job.model.name == "mace"} == {"dev"}
    later = expand_jobs(["mace", "emt"], tasks, 2, "dev", first_seed=1)  # seeds added to a run made with one
    assert [job.job_id for job in later] == [job.job_id for job in jobs if job.seed > 0]
    assert [job.seed for job in later] == [1, 2] * 4
