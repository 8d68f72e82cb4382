"""The bad-input corpus: every row is a command a hostile or unlucky user might type, with the exit code
and the one `error:` line expected. Each row runs in process through the CLI's error boundary and asserts
one error line, no traceback, and no file left behind in its folder."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from egraffbench.cli.main import app
from egraffbench.models.base import TrainingStatistics
from egraffbench.models.presets import load_preset
from egraffbench.models.registry import build_force_field
from egraffbench.models.storage import save_force_field
from egraffbench.store.database import DATABASE_FILE, ResultsStore


@dataclass(frozen=True)
class World:
    """Valid inputs shared by the rows: a model, a structure file, a trajectory and a run folder."""

    root: Path
    model: Path  # a tiny MACE for Cu and Au
    structure: Path  # two Cu3Au frames with EMT energies and forces
    trajectory: Path  # a finished `simulate` trajectory (EMT, 2 replicas, 4 steps)
    run: Path  # a run folder whose results.sqlite holds one empty run


Make = Callable[[World, Path, Path], list]  # builds a row's command in its folder (world, folder, datasets)


def _structures() -> list:
    frames = []
    for seed in (0, 1):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 2, 2))
        atoms.symbols[::4] = "Au"
        atoms.rattle(0.05, seed=seed)
        atoms.calc = EMT()
        atoms.get_forces()
        frames.append(atoms)
    return frames


def invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the `egraffbench` entry point in process; (exit code, stdout, stderr)."""
    try:
        app([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("world")
    config = load_preset("mace", "test")
    statistics = TrainingStatistics({29: -0.1, 79: -0.2}, 1.0, 12.0, 32.0)
    model = build_force_field("mace", [29, 79], config.cutoff, statistics, config.hyperparameters)
    save_force_field(model, root / "model")
    write(root / "cu3au.extxyz", _structures())
    trajectory = root / "md.h5"
    code = _quiet([*_simulate_command(root / "cu3au.extxyz", 2, 4), "--out", trajectory])
    assert code == 0
    with ResultsStore(root / "run") as store:
        store.start_run("dev", "egraffbench run", {})
    return World(root, root / "model", root / "cu3au.extxyz", trajectory, root / "run")


def _quiet(args: list) -> int:
    try:
        app([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0


# --- inputs the rows build in their own folder ---


def _copy_model(world: World, folder: Path) -> Path:
    target = folder / "model"
    target.mkdir()
    for name in ("model.json", "weights.pt"):
        (target / name).write_bytes((world.model / name).read_bytes())
    return target


def _model_with(world: World, folder: Path, name: str, payload: bytes | Callable[[bytes], bytes]) -> Path:
    target = _copy_model(world, folder)
    original = (target / name).read_bytes()
    (target / name).write_bytes(payload(original) if callable(payload) else payload)
    return target


def _file(folder: Path, name: str, payload: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(payload.encode() if isinstance(payload, str) else payload)
    return path


def _config(folder: Path, **changes: object) -> Path:
    config = load_preset("mace", "test").model_dump()
    for key, value in changes.items():
        section, _, field = key.rpartition("__")
        (config[section] if section else config)[field] = value
    return _file(folder, "config.yaml", yaml.safe_dump(config))


def _other_system(folder: Path, symbol: str = "Ni", atoms: int = 32) -> Path:
    crystal = bulk(symbol, "fcc", a=3.6, cubic=True).repeat((2, 2, 2))[:atoms]
    path = folder / f"{symbol}{atoms}.extxyz"
    write(path, [crystal, crystal])
    return path


def _truncated_store(world: World, folder: Path) -> Path:
    run = folder / "run"
    run.mkdir()
    data = (world.run / DATABASE_FILE).read_bytes()
    _file(run, DATABASE_FILE, data[: len(data) // 3])
    return run


def _store_bytes(folder: Path, payload: bytes) -> Path:
    run = folder / "run"
    run.mkdir()
    _file(run, DATABASE_FILE, payload)
    return run


def _npy_as_npz(folder: Path) -> Path:
    root = folder / "data"
    (root / "md17" / "ethanol").mkdir(parents=True)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(3))
    for split in ("train", "val", "test"):
        _file(root / "md17" / "ethanol", f"{split}.npz", buffer.getvalue())
    return root


def _empty_trajectory(world: World, folder: Path) -> Path:
    from egraffbench.md.trajectory import create_trajectory

    path = folder / "empty.h5"
    atoms = bulk("Cu", "fcc", a=3.6)
    create_trajectory(
        path,
        {"protocol": "{}", "model": "emt", "fingerprint": "x"},
        {0: atoms},
        {0: 300.0},
        np.dtype("float32"),
    )
    return path


EVIL_PICKLE = b"\x80\x02cos\nsystem\nq\x00."  # a pickle that would import os.system


def _foreign_weights(original: bytes) -> bytes:
    """Weights of another network (marked by ``_damaged_model`` as the ones model.json was saved with)."""
    return _torch_bytes({"layer.weight": np.zeros(3)})


def _damaged_model(name: str, payload: bytes | Callable[[bytes], bytes]) -> Make:
    """`simulate` with a copy of the world's model whose file ``name`` is replaced by ``payload``."""

    def make(world: World, folder: Path, shared: Path) -> list:
        target = _model_with(world, folder, name, payload)
        if payload is _foreign_weights:
            config = json.loads((target / "model.json").read_text())
            config["weights_sha256"] = hashlib.sha256((target / "weights.pt").read_bytes()).hexdigest()
            (target / "model.json").write_text(json.dumps(config))
        return ["simulate", "--model", target, "--structure", world.structure, "--out", folder / "t.h5"]

    return make


def _zip_with(name: str, payload: bytes) -> Callable[[bytes], bytes]:
    """A torch zip file whose member ``name`` (suffix match) is replaced by ``payload``."""

    def change(original: bytes) -> bytes:
        source, target = zipfile.ZipFile(io.BytesIO(original)), io.BytesIO()
        with zipfile.ZipFile(target, "w") as out:
            for item in source.infolist():
                out.writestr(item, payload if item.filename.endswith(name) else source.read(item))
        return target.getvalue()

    return change


def _simulate_command(structure: Path, replicas: int, steps: int) -> list:
    """`simulate` of EMT from ``structure``."""
    return ["simulate", "--model", "emt", "--structure", structure, "--replicas", replicas, "--steps", steps]


def _simulate(world: World, out: Path, *extra: object) -> list:
    return [*_simulate_command(world.structure, 1, 2), "--out", out, *extra]


def _incomplete_with_checkpoint(world: World, folder: Path, checkpoint: bytes) -> list:
    """The world's simulate command again, on a copy of its trajectory marked unfinished, beside a damaged
    MD checkpoint."""
    from egraffbench.md.trajectory import read_outcomes, write_outcomes

    out = folder / "md.h5"
    out.write_bytes(world.trajectory.read_bytes())
    write_outcomes(out, read_outcomes(out), complete=False)
    _file(folder, "md.h5.checkpoint", checkpoint)
    return [*_simulate_command(world.structure, 2, 4), "--out", out]


def _offline_val_only(folder: Path, shared: Path) -> Path:
    offline = folder / "offline" / "md17" / "ethanol"
    offline.mkdir(parents=True)
    (offline / "val.npz").write_bytes((shared / "md17" / "ethanol" / "val.npz").read_bytes())
    return folder / "offline"


def _train(folder: Path, shared: Path, config: Path, *extra: object, out: Path | None = None) -> list:
    command = ["train", "--model", "mace", "--dataset", "md17-ethanol", "--config", config]
    return [*command, "--data-root", shared, "--out", out or folder / "m", *extra]


def _tiny_config(folder: Path, **changes: object) -> Path:
    return _config(
        folder, training__max_train_frames=4, training__max_val_frames=2, training__max_epochs=1, **changes
    )


def _resume_corrupt(folder: Path, shared: Path) -> list:
    (folder / "m").mkdir()
    _file(folder / "m", "checkpoint.pt", b"PK\x03\x04 truncated")
    return _train(folder, shared, _tiny_config(folder), "--resume")


@dataclass(frozen=True)
class Row:
    """One bad input: the command (built in a fresh folder), exit code and a fragment of the error line."""

    name: str
    make: Make
    code: int
    fragment: str


def row(name: str, make: Make, fragment: str, code: int = 2) -> pytest.ParameterSet:
    return pytest.param(Row(name, make, code, fragment), id=name)


ROWS = [
    # simulate: user numbers
    row("temperature-zero", lambda w, f, s: _simulate(w, f / "t.h5", "--temperature", "0"), "--temperature"),
    row(
        "temperature-negative",
        lambda w, f, s: _simulate(w, f / "t.h5", "--temperature", "-100"),
        "--temperature",
    ),
    row("temperature-nan", lambda w, f, s: _simulate(w, f / "t.h5", "--temperature", "nan"), "--temperature"),
    row("temperature-inf", lambda w, f, s: _simulate(w, f / "t.h5", "--temperature", "inf"), "--temperature"),
    row("dt-zero", lambda w, f, s: _simulate(w, f / "t.h5", "--dt", "0"), "--dt"),
    row("dt-nan", lambda w, f, s: _simulate(w, f / "t.h5", "--dt", "nan"), "--dt"),
    row("friction-negative", lambda w, f, s: _simulate(w, f / "t.h5", "--friction", "-1"), "--friction"),
    # simulate: structures, models and outputs
    row(
        "structure-missing",
        lambda w, f, s: ["simulate", "--model", "emt", "--structure", f / "none.xyz", "--out", f / "t.h5"],
        "no such file",
    ),
    row(
        "structure-is-a-folder",
        lambda w, f, s: ["simulate", "--model", "emt", "--structure", f, "--out", f / "t.h5"],
        "no such file",
    ),
    row(
        "structure-binary",
        lambda w, f, s: [
            "simulate",
            "--model",
            "emt",
            "--structure",
            _file(f, "x.extxyz", b"\x00\xff" * 50),
            "--out",
            f / "t.h5",
        ],
        "x.extxyz",
    ),
    row(
        "structure-nan",
        lambda w, f, s: [
            "simulate",
            "--model",
            "emt",
            "--structure",
            _file(
                f,
                "nan.extxyz",
                '1\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3 pbc="T T T"\nCu nan 0 0\n',
            ),
            "--steps",
            "2",
            "--out",
            f / "t.h5",
        ],
        "nan.extxyz",
    ),
    row(
        "element-the-model-lacks",
        lambda w, f, s: [
            "simulate",
            "--model",
            w.model,
            "--structure",
            _other_system(f),
            "--steps",
            "2",
            "--out",
            f / "t.h5",
        ],
        "Ni",
    ),
    row("overwrite-a-folder", lambda w, f, s: _simulate(w, f, "--overwrite"), "Is a directory"),
    row("out-is-not-a-trajectory", lambda w, f, s: _simulate(w, _file(f, "t.h5", "text")), "t.h5"),
    row(
        "model-folder-missing",
        lambda w, f, s: [
            "simulate",
            "--model",
            f / "nothing",
            "--structure",
            w.structure,
            "--out",
            f / "t.h5",
        ],
        "not a trained model folder",
    ),
    row("weights-truncated", _damaged_model("weights.pt", lambda b: b[: len(b) // 2]), "weights.pt"),
    row("weights-random-bytes", _damaged_model("weights.pt", bytes(range(256)) * 8), "weights.pt"),
    row("weights-bad-pickle", _damaged_model("weights.pt", _zip_with("data.pkl", EVIL_PICKLE)), "weights.pt"),
    row("weights-of-another-model", _damaged_model("weights.pt", _foreign_weights), "do not fit"),
    row("model-json-binary", _damaged_model("model.json", b"\xff\xfe\x00garbage"), "model.json"),
    row("model-json-empty-object", _damaged_model("model.json", b"{}"), "model.json"),
    row("model-json-truncated", _damaged_model("model.json", lambda b: b[: len(b) // 2]), "model.json"),
    row(
        "md-checkpoint-truncated",
        lambda w, f, s: _incomplete_with_checkpoint(w, f, b"PK\x03\x04\x14"),
        "md.h5.checkpoint",
    ),
    row(
        "md-checkpoint-pickle",
        lambda w, f, s: _incomplete_with_checkpoint(w, f, EVIL_PICKLE),
        "md.h5.checkpoint",
    ),
    row(
        "dataset-root-is-a-file",
        lambda w, f, s: [
            "simulate",
            "--model",
            "emt",
            "--dataset",
            "emt-cu3au",
            "--data-root",
            _file(f, "root", "x"),
            "--out",
            f / "t.h5",
        ],
        "root",
    ),
    row(
        "npy-renamed-npz",
        lambda w, f, s: [
            "simulate",
            "--model",
            "emt",
            "--dataset",
            "md17-ethanol",
            "--data-root",
            _npy_as_npz(f),
            "--replicas",
            "1",
            "--out",
            f / "t.h5",
        ],
        "test.npz",
    ),
    # export
    row("export-missing", lambda w, f, s: ["export", f / "none.h5", "-o", f / "x.extxyz"], "no such"),
    row(
        "export-under-a-file",
        lambda w, f, s: ["export", w.trajectory, "-o", _file(f, "x", "x") / "y.extxyz"],
        "File exists",
    ),
    row(
        "export-empty", lambda w, f, s: ["export", _empty_trajectory(w, f), "-o", f / "x.extxyz"], "empty.h5"
    ),
    row(
        "export-not-hdf5", lambda w, f, s: ["export", _file(f, "x.h5", "text"), "-o", f / "x.extxyz"], "x.h5"
    ),
    # analyze
    row(
        "analyze-r-max-huge",
        lambda w, f, s: ["analyze", w.structure, "--reference", w.structure, "--r-max", "1e9"],
        "--r-max",
    ),
    row(
        "analyze-dr-zero",
        lambda w, f, s: ["analyze", w.structure, "--reference", w.structure, "--dr", "0"],
        "--dr",
    ),
    row(
        "analyze-other-elements",
        lambda w, f, s: ["analyze", _other_system(f), "--reference", w.structure],
        "elements",
    ),
    row(
        "analyze-json-to-a-folder",
        lambda w, f, s: ["analyze", w.structure, "--reference", w.structure, "--json", f],
        "Is a directory",
    ),
    row(
        "analyze-trajectory-is-a-folder",
        lambda w, f, s: ["analyze", f, "--reference", w.structure],
        "no such trajectory",
    ),
    row(
        "analyze-binary",
        lambda w, f, s: ["analyze", _file(f, "b.extxyz", b"\x00\x01\xff" * 40), "--reference", w.structure],
        "b.extxyz",
    ),
    # results and report: the store
    row("results-no-store", lambda w, f, s: ["results", f], "no results.sqlite"),
    row("results-empty-store", lambda w, f, s: ["results", _store_bytes(f, b"")], "empty"),
    row(
        "results-random-store",
        lambda w, f, s: ["results", _store_bytes(f, bytes(range(256)) * 16)],
        "results.sqlite",
    ),
    row("results-truncated-store", lambda w, f, s: ["results", _truncated_store(w, f)], "results.sqlite"),
    row("results-unknown-run", lambda w, f, s: ["results", w.run, "--run", "nope"], "no run 'nope'"),
    row("report-empty-store", lambda w, f, s: ["report", _store_bytes(f, b"")], "empty"),
    row(
        "report-random-store",
        lambda w, f, s: ["report", _store_bytes(f, bytes(range(256)) * 16)],
        "results.sqlite",
    ),
    row("report-out-is-a-file", lambda w, f, s: ["report", w.run, "--out", _file(f, "r", "x")], "r"),
    row("report-merge-without-out", lambda w, f, s: ["report", w.run, _store_bytes(f, b"")], "--out DIR"),
    row(
        "report-merge-with-run",
        lambda w, f, s: ["report", w.run, _store_bytes(f, b""), "--run", "x", "--out", f / "o"],
        "--run picks a run of one folder",
    ),
    row(
        "report-merge-empty-store",
        lambda w, f, s: ["report", w.run, _store_bytes(f, b""), "--out", f / "o"],
        "empty",
    ),
    row("run-out-is-a-file", lambda w, f, s: ["run", "--models", "emt", "--out", _file(f, "o", "x")], "o"),
    # usage errors (click's): one line too, no usage box
    row("usage-not-a-choice", lambda w, f, s: ["run", "--mode", "fast"], "'fast' is not one of 'dev'"),
    row("usage-not-an-integer", lambda w, f, s: ["run", "--seeds", "two"], "Invalid value for '--seeds'"),
    row("usage-unknown-option", lambda w, f, s: ["run", "--model", "emt"], "No such option: --model"),
    row("usage-unknown-command", lambda w, f, s: ["rnu"], "Did you mean 'run'?"),
    row("usage-missing-argument", lambda w, f, s: ["evaluate"], "see `egraffbench evaluate --help`"),
    row(
        "run-task-binary",
        lambda w, f, s: ["run", _file(f, "t.yaml", b"\x00\xff\xfe"), "--out", f / "o"],
        "t.yaml",
    ),
    # train and evaluate
    row("train-config-binary", lambda w, f, s: _train(f, s, _file(f, "c.yaml", b"\xff\x00\xfe")), "c.yaml"),
    row("train-cutoff-huge", lambda w, f, s: _train(f, s, _tiny_config(f, cutoff=1e9)), "cutoff"),
    row(
        "train-learning-rate-inf",
        lambda w, f, s: _train(f, s, _tiny_config(f, training__learning_rate=float("inf"))),
        "learning_rate",
    ),
    row(
        "train-unknown-hyperparameter",
        lambda w, f, s: _train(f, s, _tiny_config(f, hyperparameters={"no_such_option": 3})),
        "no_such_option",
    ),
    row(
        "train-out-is-a-file",
        lambda w, f, s: _train(f, s, _tiny_config(f), out=_file(f, "m", "x")),
        "m",
    ),
    row(
        "train-data-root-is-a-file", lambda w, f, s: _train(f, _file(f, "root", "x"), _tiny_config(f)), "root"
    ),
    row("train-resume-corrupt-checkpoint", lambda w, f, s: _resume_corrupt(f, s), "checkpoint.pt"),
    row(
        "evaluate-truncated-weights",
        lambda w, f, s: [
            "evaluate",
            _model_with(w, f, "weights.pt", lambda b: b[:100]),
            "--dataset",
            "md17-ethanol",
            "--data-root",
            s,
        ],
        "weights.pt",
    ),
    row(
        "evaluate-no-model",
        lambda w, f, s: ["evaluate", "--dataset", "md17-ethanol", "--data-root", s],
        "evaluate needs a model",
    ),
    row(
        "evaluate-two-models",
        lambda w, f, s: ["evaluate", w.model, "--model", f / "m", "--dataset", "md17-ethanol"],
        "evaluate got two models",
    ),
    # data
    row("data-unknown", lambda w, f, s: ["data", "info", "md17-asprin"], "did you mean"),
    row(
        "data-info-json-to-a-folder",
        lambda w, f, s: ["data", "info", "md17-ethanol", "--json", f],
        "Is a directory",
    ),
    row(
        "fetch-from-missing-split",
        lambda w, f, s: ["data", "fetch", "md17-ethanol", "--from", _offline_val_only(f, s)],
        "split train, test not in",
    ),
    row(
        "fetch-from-a-file",
        lambda w, f, s: ["data", "fetch", "md17-ethanol", "--from", _file(f, "x", "x")],
        "not a folder",
    ),
    # devices: a spelling torch does not know, or a device this machine lacks (no machine has 100 GPUs)
    row(
        "device-misspelt",
        lambda w, f, s: ["run", "--device", "gpu", "--out", f / "run"],
        "'gpu' is not a device",
    ),
    row("run-device-absent", lambda w, f, s: ["run", "--device", "cuda:99", "--out", f / "run"], "'cuda:99'"),
    row(
        "train-device-absent",
        lambda w, f, s: [
            "train",
            "--model",
            "mace",
            "--dataset",
            "md17-ethanol",
            "--device",
            "cuda:99",
            "--out",
            f / "m",
        ],
        "'cuda:99'",
    ),
]


def _torch_bytes(payload: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save({key: torch.as_tensor(value) for key, value in payload.items()}, buffer)
    return buffer.getvalue()


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("case", ROWS)
def test_bad_input_gives_one_error_line(
    case: Row,
    world: World,
    shared_datasets: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("EGRAFFBENCH_DATA", str(tmp_path / "cache"))
    folder = tmp_path / "row"
    folder.mkdir()
    args = case.make(world, folder, shared_datasets)
    before = _listing(folder)
    code, out, err = invoke(args, capsys)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in out + err, err
    assert code == case.code, err
    assert len(errors) == 1, err
    assert case.fragment in errors[0], errors[0]
    assert _listing(folder) == before  # no output, partial or empty, is left behind


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_respect_the_umask(umask: int, tmp_path: Path) -> None:
    from egraffbench.fileio import atomic_write_text

    previous = os.umask(umask)
    try:
        path = atomic_write_text(tmp_path / "out.json", "{}")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_model_is_saved_as_one_unit(world: World, tmp_path: Path) -> None:
    from egraffbench.errors import ModelError
    from egraffbench.models.storage import load_force_field

    stale = _copy_model(world, tmp_path)
    other = build_force_field(
        "mace",
        [29, 79],
        4.0,
        TrainingStatistics({29: 0.0, 79: 0.0}),
        load_preset("mace", "test").hyperparameters,
    )
    save_force_field(other, tmp_path / "other")
    # a crash between the two writes: new weights beside the previous save's model.json
    (stale / "weights.pt").write_bytes((tmp_path / "other" / "weights.pt").read_bytes())
    with pytest.raises(ModelError, match=r"not the weights model\.json was saved with"):
        load_force_field(stale)


def test_interrupting_run_marks_it_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("egraffbench.cli.run_command.run_benchmark", interrupted)
    code, _out, err = invoke(["run", "--models", "emt", "--out", tmp_path / "run"], capsys)
    assert code != 0 and "interrupted: the run is stored as interrupted" in err
    assert "Traceback" not in err


def test_loading_mace_prints_nothing(world: World) -> None:
    import subprocess
    import sys

    code = f"from egraffbench.models.storage import load_force_field; load_force_field({str(world.model)!r})"
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert process.returncode == 0 and process.stdout == "" and "cuequivariance" not in process.stderr


def test_a_bug_still_shows_its_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import egraffbench.cli.analyze_command as a\n"
        "def bug(*args, **kwargs): raise ZeroDivisionError('a bug')\n"
        "a.compare_trajectories = bug\n"
        "from egraffbench.cli.main import app\n"
        f"app(['analyze', {str(tmp_path / 'x.extxyz')!r}, '--reference', {str(tmp_path / 'x.extxyz')!r}])\n"
    )
    write(tmp_path / "x.extxyz", _structures())
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert process.returncode == 1 and "Traceback" in process.stderr and "ZeroDivisionError" in process.stderr
    assert "error:" not in process.stderr


def test_analyze_says_what_it_compares_when_atom_counts_differ(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames = _structures()
    write(tmp_path / "smaller.extxyz", [atoms[:28] for atoms in frames])
    code, _out, err = invoke(["analyze", tmp_path / "smaller.extxyz", "--reference", world.structure], capsys)
    assert code == 0, err
    assert "warning: comparing" in err and "28 atoms" in err and "32 atoms" in err


def test_data_list_survives_one_bad_cached_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EGRAFFBENCH_DATA", str(_npy_as_npz(tmp_path)))
    monkeypatch.setenv("COLUMNS", "250")
    code, out, err = invoke(["data", "list"], capsys)
    assert code == 0 and "Traceback" not in err, err
    assert "test unreadable" in out and "md17-aspirin" in out


def test_run_with_a_file_as_data_root_fails_its_jobs_in_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _file(tmp_path, "root", "x")
    command = ["run", "--models", "emt", "--data-root", root, "--out", tmp_path / "run"]
    code, _out, err = invoke(command, capsys)
    assert code == 1 and "Traceback" not in err, err
    assert "failed emt/emt-cu3au/seed0" in err
