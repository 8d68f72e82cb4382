"""The shipped dataset registry: names, physics facts, checksums against the offline copy, and validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from egraffbench.data import data_root, get_dataset_spec, list_datasets
from egraffbench.data.checksums import file_digests
from egraffbench.data.embedded import EMBEDDED_PARAMETERS
from egraffbench.data.registry import REGISTRY_FILE, load_registry
from egraffbench.errors import ConfigError, UnknownNameError

PAPER_DATASETS = [
    "md17-aspirin",
    "md17-ethanol",
    "md17-naphthalene",
    "md17-salicylic-acid",
    "3bpa",
    "acac",
    "lips",
    "gete",
    "lips20",
]


def test_every_benchmark_dataset_is_registered() -> None:
    names = list_datasets()
    assert set(PAPER_DATASETS) | {"emt-cu3au"} <= set(names)
    assert len(names) == len(set(names))


def test_lips20_systems_are_addressable(shared_datasets: Path) -> None:
    offline_systems = sorted(p.name for p in (shared_datasets / "lips20").iterdir() if p.is_dir())
    assert len(offline_systems) == 16
    for system in offline_systems:
        spec = get_dataset_spec(f"lips20/{system}")
        assert spec.temperature_K == 3000.0 and spec.periodic
    family = get_dataset_spec("lips20")
    assert len(family.members) == 20  # the 16 offline systems and the 4 glasses
    assert family.splits["test"].frames == 20 * 100


def test_lips20_splits_partition_each_system() -> None:
    spec = get_dataset_spec("lips20/Li7P3S11")
    ranges = sorted(spec.splits[split].parts[0].frame_range for split in ("train", "val", "test"))
    assert ranges == [(0, 800), (800, 900), (900, 1000)]  # disjoint, together the whole trajectory
    assert spec.splits["all"].parts[0].frame_range == (0, 1000)


def test_physical_facts() -> None:
    md17 = get_dataset_spec("md17-aspirin")
    assert md17.test_frame_spacing_fs == 0.5 and md17.splits["test"].contiguous and not md17.periodic
    assert md17.temperature_K == 500.0 and md17.atoms_per_frame == 21
    for molecule in ("3bpa", "acac"):
        assert not get_dataset_spec(molecule).periodic  # 50 Å box in the files, molecules here
    assert get_dataset_spec("3bpa").temperature_K == 600.0
    assert get_dataset_spec("3bpa").splits["train"].temperature_K == 300.0
    assert get_dataset_spec("acac").temperature_K == 300.0
    assert get_dataset_spec("lips").temperature_K == 520.0 and get_dataset_spec("lips").periodic
    gete = get_dataset_spec("gete")
    assert gete.splits["test"].contiguous and gete.test_frame_spacing_fs is None  # spacing not published
    assert all(get_dataset_spec(name).units.energy == "eV" for name in list_datasets())


def test_embedded_entry_matches_its_generator() -> None:
    spec = get_dataset_spec("emt-cu3au")
    params = EMBEDDED_PARAMETERS
    assert spec.generator == "embedded" and spec.oracle == "emt" and spec.periodic
    assert spec.temperature_K == params.test_temperature_K
    assert spec.test_frame_spacing_fs == params.test_interval_fs
    assert spec.splits["train"].frames == params.train_frames
    assert spec.splits["val"].frames == params.val_frames
    assert spec.splits["test"].frames == params.test_frames
    assert spec.splits["train"].temperature_K == params.train_temperature_K
    assert spec.atoms_per_frame == 4 * params.cells_per_side**3
    assert set(spec.elements) == {params.host, params.guest}


def test_every_split_is_produced_by_a_source() -> None:
    for name in list_datasets():
        spec = get_dataset_spec(name)
        if spec.generator is not None:
            continue
        outputs = {source.output for source in spec.sources}
        for split in spec.splits.values():
            for part in split.parts:
                produced = part.path in outputs or any(o.startswith(part.path + "/") for o in outputs)
                assert produced, f"{name}: nothing fetches {part.path}"


def test_checksums_match_the_offline_copy(shared_datasets: Path) -> None:
    """Recorded sha256 and git blob SHA-1 are those of the byte-identical offline files."""
    checked = 0
    seen = set()
    for name in list_datasets():
        for source in get_dataset_spec(name).sources:
            local = shared_datasets / source.file
            if source.file in seen or not local.is_file():
                continue
            seen.add(source.file)
            sha256, git_sha1 = file_digests(local)
            assert git_sha1 == source.git_blob_sha1, source.file
            if source.sha256_from == "offline-copy":
                assert sha256 == source.sha256, source.file
            checked += 1
    assert checked >= 100  # md17, 3bpa, acac, botnet, lips, gete and 16 LiPS20 systems


def test_unknown_names_suggest_close_ones() -> None:
    with pytest.raises(UnknownNameError, match="did you mean md17-aspirin"):
        get_dataset_spec("md17-asprin")
    with pytest.raises(UnknownNameError, match="no split 'training'; available: train, val, test"):
        get_dataset_spec("gete").split("training")


def _registry_with(tmp_path: Path, old: str, new: str) -> Path:
    text = REGISTRY_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "datasets.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("    periodic: false", "    periodic: maybe", "datasets.md17-aspirin.periodic"),
        ("sha256: 94b8d42736c1a90bdd3b", "sha256: 94b8", "datasets.md17-aspirin.sources.0"),
        ("file: md17/aspirin/train.npz", "file: ../escape.npz", "datasets.md17-aspirin.sources.0.file"),
        ("elements: [H, C, O]", "elements: [H, C, Qq]", "datasets.md17-aspirin.elements"),
        ("    oracle: null", "    oracel: null", "datasets.md17-aspirin.oracel"),
    ],
)
def test_invalid_registry_names_the_field(tmp_path: Path, old: str, new: str, field: str) -> None:
    with pytest.raises(ConfigError, match=rf"field '{field}'"):
        load_registry(_registry_with(tmp_path, old, new))


def test_data_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EGRAFFBENCH_DATA", str(tmp_path / "here"))
    assert data_root() == tmp_path / "here"
    monkeypatch.delenv("EGRAFFBENCH_DATA")
    assert data_root().parts[-2:] == ("egraffbench", "datasets")
