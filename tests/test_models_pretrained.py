"""Pretrained models (`kind: pretrained`): a MACE file saved by mace-torch, a model deployed by nequip-deploy
and ASE calculators as module:Class, each read back exactly and run through `egraffbench run`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones
from typer.testing import CliRunner

from egraffbench.cli.main import cli
from egraffbench.errors import ConfigError, ModelError
from egraffbench.models import batch_from_atoms, load_force_field
from egraffbench.models.pretrained import load_declaration
from egraffbench.results import benchmark, to_dataframe
from egraffbench.runner import hashing
from egraffbench.store.database import ResultsStore
from test_runner_fixtures import write_tiny_task

runner = CliRunner(env={"COLUMNS": "240"})
RUN = ["--replicas", "2", "--steps", "10"]


@pytest.fixture(scope="module")
def task_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_task(tmp_path_factory.mktemp("task"), test_frames=8)


@pytest.fixture
def float64() -> Iterator[None]:
    """torch's default dtype float64 while a model is built (mace's calculator also sets it); restored."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def declaration(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(f"kind: pretrained\nname: {name}\n" + textwrap.dedent(body))
    return path


def alloys(count: int) -> list[Atoms]:
    rng = np.random.default_rng(7)
    frames = []
    for _ in range(count):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 2, 1))
        atoms.numbers[rng.choice(len(atoms), size=4, replace=False)] = 79
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        frames.append(atoms)
    return frames


def predicted(model, frames: list[Atoms]) -> tuple[np.ndarray, np.ndarray]:
    output = model(batch_from_atoms(frames, model.cutoff, dtype=torch.float64))
    return output["energy"].detach().numpy(), output["forces"].detach().numpy()


def run_models(task_file: Path, out: Path, *models: Path | str) -> str:
    arguments = ["run", str(task_file), *RUN, "--out", str(out)]
    for model in models:
        arguments += ["--models", str(model)]
    outcome = runner.invoke(cli, arguments)
    assert outcome.exit_code == 0, outcome.output
    return outcome.output


def stored_jobs(out: Path) -> dict[str, dict]:
    """The jobs of the latest run by model, each with its stage records."""
    with ResultsStore.open_existing(out) as store:
        run_id = store.latest_run()
        jobs, stages = store.jobs(run_id), store.stages(run_id)
    return {
        job["model"]: {**job, "stages": [s for s in stages if s["job_id"] == job["job_id"]]} for job in jobs
    }


# --- MACE ---


@pytest.fixture
def mace_model(float64: None) -> torch.nn.Module:
    """A tiny ScaleShiftMACE for Cu and Au with E0s, scale and shift, as `mace_run_train` would build."""
    from e3nn import o3
    from mace.modules import ScaleShiftMACE, interaction_classes

    torch.manual_seed(0)
    block = interaction_classes["RealAgnosticResidualInteractionBlock"]
    return ScaleShiftMACE(
        r_max=4.0,
        num_bessel=4,
        num_polynomial_cutoff=5,
        max_ell=1,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=1,
        num_elements=2,
        hidden_irreps=o3.Irreps("4x0e+4x1o"),
        MLP_irreps=o3.Irreps("4x0e"),
        atomic_energies=np.array([-3.5, -3.8]),
        avg_num_neighbors=10.0,
        atomic_numbers=[29, 79],
        correlation=2,
        gate=torch.nn.functional.silu,
        radial_MLP=[8],
        atomic_inter_scale=0.5,
        atomic_inter_shift=0.1,
    )


def test_mace_file_gives_the_energies_and_forces_of_the_model_it_was_saved_from(
    mace_model: torch.nn.Module, tmp_path: Path
) -> None:
    from mace.calculators import MACECalculator

    torch.save(mace_model, tmp_path / "my.model")  # mace_run_train's way of saving a model
    loaded = load_force_field(declaration(tmp_path, "my-mace", "format: mace\npath: my.model\n"))
    frames = alloys(3)
    energies, forces = predicted(loaded, frames)  # the three frames in one batch
    original = MACECalculator(models=mace_model, device="cpu", default_dtype="float64")
    for index, atoms in enumerate(frames):
        atoms.calc = original
        assert energies[index] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
        np.testing.assert_allclose(forces[16 * index : 16 * (index + 1)], atoms.get_forces(), atol=1e-6)
    assert abs(energies[0]) > 50  # absolute energies: the E0s (≈ −3.6 eV per atom) are in


def test_mace_file_runs_through_the_benchmark_and_a_new_file_reruns_it(
    mace_model: torch.nn.Module, task_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.save(mace_model, tmp_path / "my.model")
    model = declaration(tmp_path, "my-mace", "format: mace\npath: my.model\n")
    output = run_models(task_file, tmp_path / "run", model)
    assert "my-mace" in output and "(pretrained)" in output and "trained outside egraffbench" in output
    job = stored_jobs(tmp_path / "run")["my-mace"]
    assert job["status"] == "done" and job["results"]["training"]["pretrained"] is True
    stages = [s["stage"] for s in job["stages"] if s["stage"] != "fetch"]
    assert stages == ["baselines", "evaluate", "simulate", "score"]
    rerun = benchmark([str(model)], task=task_file, replicas=2, steps=10, out=tmp_path / "run")  # no report
    assert rerun["model"].tolist() == ["my-mace"]
    assert {s["status"] for s in stored_jobs(tmp_path / "run")["my-mace"]["stages"]} == {"cached"}
    assert load_force_field(model).architecture == "pretrained-mace"
    # a new numerics version of the pretrained-MACE adapter is part of the model's identity: recomputed
    version = hashing.ARCHITECTURE_VERSIONS["pretrained-mace"]
    monkeypatch.setitem(hashing.ARCHITECTURE_VERSIONS, "pretrained-mace", version + 1)
    benchmark([str(model)], task=task_file, replicas=2, steps=10, out=tmp_path / "run")
    stages = {s["stage"]: s["status"] for s in stored_jobs(tmp_path / "run")["my-mace"]["stages"]}
    assert stages["evaluate"] == "done" and stages["simulate"] == "done"
    monkeypatch.undo()
    with torch.no_grad():
        mace_model.atomic_energies_fn.atomic_energies += 0.01  # a retrained model in the same file
    torch.save(mace_model, tmp_path / "my.model")
    benchmark([str(model)], task=task_file, replicas=2, steps=10, out=tmp_path / "run")
    stages = {s["stage"]: s["status"] for s in stored_jobs(tmp_path / "run")["my-mace"]["stages"]}
    assert stages["evaluate"] == "done" and stages["simulate"] == "done"


def test_python_api_benchmarks_a_mace_model_object_and_leaves_it_as_it_was(
    mace_model: torch.nn.Module, task_file: Path, tmp_path: Path
) -> None:
    table = benchmark({"notebook-mace": mace_model}, task=task_file, replicas=2, steps=10, out=tmp_path)
    assert table["model"].tolist() == ["notebook-mace"] and table["kind"].tolist() == ["pretrained"]
    assert table["force_mae"].iloc[0] > 0.05  # an untrained network
    assert next(mace_model.parameters()).dtype == torch.float64  # the MD ran on a float32 copy


# --- NequIP ---

DEPLOY = """
import sys
from pathlib import Path
import torch
import egraffbench.models.torch_setup  # e3nn's constants load weights-only with `slice` allowed
from nequip.model import model_from_config
from nequip.scripts import deploy
from nequip.scripts.train import default_config
from nequip.utils import Config

folder = Path(sys.argv[1])
torch.set_default_dtype(torch.float64)  # as nequip-train sets it from default_dtype
config = Config.from_dict(
    {
        "r_max": 4.0, "type_names": ["Au", "Cu"], "chemical_symbols": ["Au", "Cu"], "num_types": 2,
        "num_layers": 1, "l_max": 1, "parity": True, "num_features": 4, "num_basis": 4,
        "invariant_layers": 1, "invariant_neurons": 8, "avg_num_neighbors": 10.0,
        "model_builders": ["SimpleIrrepsConfig", "EnergyModel", "PerSpeciesRescale", "ForceOutput",
                           "RescaleEnergyEtc"],
        "default_dtype": "float64", "model_dtype": "float64", "global_rescale_scale": 1.0,
        "global_rescale_shift": None, "per_species_rescale_scales": None,
        "per_species_rescale_shifts": [-3.8, -3.5],
    },
    defaults=default_config,
)
config.save(str(folder / "config.yaml"))
torch.manual_seed(0)
torch.save(model_from_config(config, initialize=False).state_dict(), folder / "best_model.pth")
deploy.main(["build", "--train-dir", str(folder), str(folder / "deployed.pth")])
"""


@pytest.fixture(scope="module")
def deployed_nequip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny NequIP for Au and Cu (type order not by atomic number) deployed by nequip-deploy's own code,
    in a subprocess: it sets torch's global options."""
    folder = tmp_path_factory.mktemp("nequip")
    done = subprocess.run([sys.executable, "-c", DEPLOY, str(folder)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder / "deployed.pth"


def test_deployed_nequip_batched_matches_nequips_own_calculator(
    deployed_nequip: Path, tmp_path: Path
) -> None:
    from nequip.ase import NequIPCalculator

    (tmp_path / "model.pth").write_bytes(deployed_nequip.read_bytes())
    loaded = load_force_field(declaration(tmp_path, "my-nequip", "format: nequip\npath: model.pth\n"))
    assert loaded.species == [29, 79] and loaded.cutoff == 4.0
    frames = alloys(3)
    energies, forces = predicted(loaded.to(torch.float32), frames)  # a cast leaves the float64 model alone
    # nequip's calculator freezes and runs its model optimised, as nequip does (conftest runs the tests
    # unoptimised; frozen unoptimised, the model's calls do not find their methods)
    with torch.jit.optimized_execution(True):
        own = NequIPCalculator.from_deployed_model(
            deployed_nequip, species_to_type_name={"Cu": "Cu", "Au": "Au"}, set_global_options=False
        )
        for index, atoms in enumerate(frames):
            atoms.calc = own
            assert energies[index] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
            np.testing.assert_allclose(forces[16 * index : 16 * (index + 1)], atoms.get_forces(), atol=1e-6)


def test_deployed_nequip_runs_through_the_benchmark(
    deployed_nequip: Path, task_file: Path, tmp_path: Path
) -> None:
    model = declaration(tmp_path, "my-nequip", f"format: nequip\npath: {deployed_nequip}\n")
    output = run_models(task_file, tmp_path / "run", model)
    assert "my-nequip" in output
    job = stored_jobs(tmp_path / "run")["my-nequip"]
    assert job["status"] == "done" and job["results"]["scores"]["replicas"] == 2
    assert job["results"]["test_errors"]["frames"] == 8


# --- ASE calculators ---


def test_ase_calculators_as_module_class_run_beside_the_reference(task_file: Path, tmp_path: Path) -> None:
    lj = declaration(
        tmp_path,
        "my-lj",
        """\
        format: ase
        calculator: ase.calculators.lj:LennardJones
        kwargs: {sigma: 2.3, epsilon: 0.1, rc: 6.0, smooth: true}
        """,
    )
    emt = declaration(tmp_path, "my-emt", "format: ase\ncalculator: ase.calculators.emt:EMT\n")
    output = run_models(task_file, tmp_path / "run", lj, emt, "emt")
    assert "my-lj" in output and "my-emt" in output
    jobs = stored_jobs(tmp_path / "run")
    # EMT declared as a calculator is the built-in reference: same errors and MD scores
    for key in ("force_mae", "energy_mae_per_atom"):
        assert jobs["my-emt"]["results"]["test_errors"][key] == pytest.approx(
            jobs["emt"]["results"]["test_errors"][key], rel=1e-9
        )
    assert jobs["my-emt"]["results"]["scores"]["fv"]["value"] < 1e-6  # scored by EMT, its own oracle
    assert (
        jobs["my-lj"]["results"]["test_errors"]["force_mae"]
        > 100 * jobs["emt"]["results"]["test_errors"]["force_mae"]
    )
    rows = to_dataframe(tmp_path / "run").set_index("model")
    assert rows.loc["my-lj", "kind"] == "pretrained" and rows.loc["emt", "kind"] == "reference"
    assert np.isnan(rows.loc["my-lj", "training_seconds"])  # not trained here


USER_MODULE = """
from ase.calculators.emt import EMT

SCALE = {scale}


class HalfEMT(EMT):
    \"\"\"EMT with energy and forces times SCALE.\"\"\"

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.results = {{key: value * SCALE for key, value in self.results.items()}}
"""


def test_a_users_calculator_module_runs_and_editing_it_reruns(
    task_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_calculators.py").write_text(USER_MODULE.format(scale=0.5))
    monkeypatch.syspath_prepend(str(tmp_path))
    model = declaration(tmp_path, "half-emt", "format: ase\ncalculator: my_calculators:HalfEMT\n")
    assert load_declaration(model).keyed_file == tmp_path / "my_calculators.py"
    benchmark([str(model)], task=task_file, replicas=2, steps=10, out=tmp_path / "run")
    job = stored_jobs(tmp_path / "run")["half-emt"]
    test = ase.io.read(task_file.parent / "data" / "test.extxyz", ":")
    half = 0.5 * np.mean(np.abs(np.concatenate([atoms.get_forces() for atoms in test])))
    assert job["results"]["test_errors"]["force_mae"] == pytest.approx(half, rel=1e-4)  # |F − F/2| = |F|/2
    (tmp_path / "my_calculators.py").write_text(USER_MODULE.format(scale=0.6))
    benchmark([str(model)], task=task_file, replicas=2, steps=10, out=tmp_path / "run")
    stages = {s["stage"]: s["status"] for s in stored_jobs(tmp_path / "run")["half-emt"]["stages"]}
    assert stages["evaluate"] == "done" and stages["simulate"] == "done"


def test_declared_units_are_converted_to_ev_and_angstrom(tmp_path: Path) -> None:
    """LJ written in kcal/mol and nm gives the same energies and forces as LJ in eV and Å."""
    from ase import units

    kcal = units.kcal / units.mol
    native = load_force_field(
        declaration(
            tmp_path,
            "lj-ev",
            "format: ase\ncalculator: ase.calculators.lj:LennardJones\nkwargs: {sigma: 2.3, epsilon: 0.1}\n",
        )
    )
    converted = load_force_field(
        declaration(
            tmp_path,
            "lj-kcal",
            f"""\
            format: ase
            calculator: ase.calculators.lj:LennardJones
            kwargs: {{sigma: 0.23, epsilon: {0.1 / kcal!r}, rc: 0.69}}
            energy_unit: kcal/mol
            length_unit: nm
            """,
        )
    )
    frames = alloys(2)
    for expected, got in zip(predicted(native, frames), predicted(converted, frames), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert np.abs(predicted(native, frames)[1]).max() > 0.1  # forces that can tell the units apart


def test_python_api_benchmarks_a_calculator_object_into_a_dataframe(task_file: Path, tmp_path: Path) -> None:
    table = benchmark(
        {"notebook-lj": LennardJones(sigma=2.3, epsilon=0.1, rc=6.0), "notebook-emt": EMT()},
        task=task_file,
        replicas=2,
        steps=10,
        out=tmp_path / "run",
    )
    rows = table.set_index("model")
    assert set(rows.index) == {"notebook-lj", "notebook-emt"}
    assert (rows["kind"] == "pretrained").all() and (rows["seeds"] == 1).all()
    assert rows.loc["notebook-emt", "force_mae"] < 1e-4 < rows.loc["notebook-lj", "force_mae"]


def test_simulate_and_evaluate_take_a_declaration(shared_datasets: Path, tmp_path: Path) -> None:
    emt = declaration(tmp_path, "my-emt", "format: ase\ncalculator: ase.calculators.emt:EMT\n")
    start = tmp_path / "cu.extxyz"
    ase.io.write(start, bulk("Cu", "fcc", a=3.6) * (2, 2, 2))
    command = ["simulate", "--model", str(emt), "--structure", str(start), "--replicas", "2", "--steps", "5"]
    outcome = runner.invoke(cli, [*command, "--out", str(tmp_path / "md.h5")])
    assert outcome.exit_code == 0, outcome.output
    assert "2/2 replicas stable" in outcome.output
    errors = {}
    for model in (str(emt), "emt"):
        arguments = ["evaluate", model, "--dataset", "md17-ethanol", "--data-root", str(shared_datasets)]
        outcome = runner.invoke(cli, [*arguments, "--json", str(tmp_path / "errors.json")])
        assert outcome.exit_code == 0, outcome.output
        errors[model] = json.loads((tmp_path / "errors.json").read_text())
    assert errors[str(emt)]["force_mae"] == errors["emt"]["force_mae"] > 0.1  # EMT is no DFT for ethanol


# --- bad declarations ---


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("format: tensorflow\npath: x.pb\n", "field 'format'"),
        ("format: mace\n", "field 'format': format 'mace' needs 'path'"),
        ("format: ase\n", "needs 'calculator'"),
        ("format: ase\ncalculator: ase.calculators.emt\n", "field 'calculator'"),
        ("format: mace\npath: x.model\nenergy_unit: kcal\n", "field 'energy_unit': Value error, unknown"),
        ("format: mace\npath: x.model\nweights: y\n", "field 'weights'"),
    ],
)
def test_bad_declarations_name_the_field(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_declaration(declaration(tmp_path, "bad", body))


def test_unloadable_models_give_one_clear_error(tmp_path: Path) -> None:
    missing = declaration(tmp_path, "gone", "format: ase\ncalculator: no_such_module:Calculator\n")
    with pytest.raises(ConfigError, match="field 'calculator': cannot import no_such_module:Calculator"):
        load_force_field(missing)
    (tmp_path / "junk.model").write_bytes(b"not a model")
    junk = declaration(tmp_path, "junk", "format: mace\npath: junk.model\n")
    with pytest.raises(ModelError, match="not a mace-torch model file"):
        load_force_field(junk)
    outcome = runner.invoke(cli, ["evaluate", str(junk), "--dataset", "emt-cu3au"])
    assert isinstance(outcome.exception, ModelError)


def test_an_unknown_element_fails_the_job_before_any_stage_runs(task_file: Path, tmp_path: Path) -> None:
    copper_only = declaration(
        tmp_path, "cu-only", "format: ase\ncalculator: ase.calculators.emt:EMT\nelements: [Cu]\n"
    )
    outcome = runner.invoke(
        cli, ["run", str(task_file), *RUN, "--out", str(tmp_path / "run"), "--models", str(copper_only)]
    )
    assert outcome.exit_code == 1
    job = stored_jobs(tmp_path / "run")["cu-only"]
    assert "cu-only cannot run task tiny-cuau" in job["error"] and "['Au']" in job["error"]
    assert [stage["stage"] for stage in job["stages"]] == ["fetch"]
    start = tmp_path / "cuau.extxyz"
    ase.io.write(start, ase.io.read(task_file.parent / "data" / "test.extxyz", "0"))
    command = ["simulate", "--model", str(copper_only), "--structure", str(start), "--steps", "5"]
    outcome = runner.invoke(cli, [*command, "--out", str(tmp_path / "md.h5")])
    assert isinstance(outcome.exception, ModelError) and "got unknown ['Au']" in str(outcome.exception)
    assert not (tmp_path / "md.h5").exists()  # refused before the trajectory file is started
