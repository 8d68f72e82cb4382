"""Fetching: HTTP from a local server (Range resume, interruption, checksums), local import, archives."""

from __future__ import annotations

import bz2
import hashlib
import io
import shutil
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from egraffbench.data import fetch_dataset, load_dataset
from egraffbench.data.archives import unpack
from egraffbench.data.download import download_source, part_path
from egraffbench.data.registry import DatasetSpec, SourceSpec
from egraffbench.errors import ChecksumError, DatasetError

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB


class _Server(ThreadingHTTPServer):
    """Serves `files` by path; honours Range unless told not to; can drop the connection part-way."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.range_headers: list[str | None] = []
        self.bytes_sent = 0
        self.honour_range = True
        self.drop_after: int | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        data = self.server.files.get(self.path)
        requested = self.headers.get("Range")
        self.server.range_headers.append(requested)
        if data is None:
            self.send_error(404)
            return
        start = (
            int(requested.removeprefix("bytes=").split("-")[0])
            if requested and self.server.honour_range
            else 0
        )
        if start >= len(data) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.drop_after is not None:
            body, self.server.drop_after = body[: self.server.drop_after], None
            self.close_connection = True
        # counted before writing: the client may assert as soon as it has read the body, before this
        # handler thread would run another line
        self.server.bytes_sent += len(body)
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _source(url: str, data: bytes, file: str = "set/data.bin", **extra: object) -> SourceSpec:
    return SourceSpec(
        file=file, url=url, sha256=hashlib.sha256(data).hexdigest(), sha256_from="public-file", **extra
    )


def _cache_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_verifies_then_places(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    download_source(_source(server.url("/data.bin"), PAYLOAD), tmp_path)
    assert (tmp_path / "set" / "data.bin").read_bytes() == PAYLOAD
    assert _cache_files(tmp_path) == ["set/data.bin"]
    download_source(_source(server.url("/data.bin"), PAYLOAD), tmp_path)
    assert len(server.range_headers) == 1  # already verified: no second request


def _half_downloaded(tmp_path: Path) -> tuple[int, Path]:
    """The first half of PAYLOAD left in the part file of `set/data.bin`: (bytes held, part file)."""
    half = len(PAYLOAD) // 2
    part = part_path(tmp_path / "set" / "data.bin")
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:half])
    return half, part


def test_resume_with_range(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    half, part = _half_downloaded(tmp_path)
    download_source(_source(server.url("/data.bin"), PAYLOAD), tmp_path)
    assert server.range_headers == [f"bytes={half}-"]
    assert server.bytes_sent == len(PAYLOAD) - half  # only the rest travelled
    assert (tmp_path / "set" / "data.bin").read_bytes() == PAYLOAD and not part.exists()


def test_server_without_range_support_restarts(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.honour_range = False
    part = part_path(tmp_path / "set" / "data.bin")
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD[:1000])
    download_source(_source(server.url("/data.bin"), PAYLOAD), tmp_path)
    assert (tmp_path / "set" / "data.bin").read_bytes() == PAYLOAD


def test_interrupted_download_leaves_only_a_part_file_and_resumes(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    server.drop_after = 300_000
    source = _source(server.url("/data.bin"), PAYLOAD)
    with pytest.raises(DatasetError, match="interrupted after 300000 bytes"):
        download_source(source, tmp_path)
    assert _cache_files(tmp_path) == ["set/data.bin.part"]  # nothing at the final name
    download_source(source, tmp_path)
    assert server.range_headers[-1] == "bytes=300000-"
    assert (tmp_path / "set" / "data.bin").read_bytes() == PAYLOAD


def test_checksum_mismatch_discards_the_download(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD[:-1] + b"\x00"  # one byte differs
    with pytest.raises(ChecksumError, match=r"set/data\.bin: sha256 [0-9a-f]{64}, expected"):
        download_source(_source(server.url("/data.bin"), PAYLOAD), tmp_path)
    assert _cache_files(tmp_path) == []


def test_git_blob_sha1_and_size_are_checked(server: _Server, tmp_path: Path) -> None:
    server.files["/data.bin"] = PAYLOAD
    blob = hashlib.sha1(f"blob {len(PAYLOAD)}\0".encode() + PAYLOAD).hexdigest()
    good = SourceSpec(file="a.bin", url=server.url("/data.bin"), git_blob_sha1=blob, bytes=len(PAYLOAD))
    download_source(good, tmp_path)
    assert (tmp_path / "a.bin").read_bytes() == PAYLOAD
    wrong_size = SourceSpec(
        file="b.bin", url=server.url("/data.bin"), git_blob_sha1=blob, bytes=len(PAYLOAD) + 1
    )
    with pytest.raises(ChecksumError, match="size 1048576 bytes, expected 1048577"):
        download_source(wrong_size, tmp_path)
    assert not (tmp_path / "b.bin").exists()


def test_http_error_is_a_dataset_error(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="HTTP 404"):
        download_source(_source(server.url("/missing.bin"), b"x"), tmp_path)
    assert _cache_files(tmp_path) == []


def test_bz2_source_is_decompressed_after_verification(server: _Server, tmp_path: Path) -> None:
    compressed = bz2.compress(PAYLOAD)
    server.files["/data.npz.bz2"] = compressed
    source = _source(
        server.url("/data.npz.bz2"), compressed, file="x/data.npz.bz2", unpack="bz2", unpack_to="x/data.npz"
    )
    download_source(source, tmp_path)
    assert (tmp_path / "x" / "data.npz").read_bytes() == PAYLOAD


def _tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_tar_extraction_and_traversal_rejected(server: _Server, tmp_path: Path) -> None:
    good = _tar_with({"set/a.txt": b"alpha", "set/b.txt": b"beta"})
    server.files["/good.tar.gz"] = good
    download_source(
        _source(server.url("/good.tar.gz"), good, file="good.tar.gz", unpack="tar", unpack_to="good"),
        tmp_path,
    )
    assert (tmp_path / "good" / "set" / "b.txt").read_bytes() == b"beta"

    evil = _tar_with({"ok.txt": b"fine", "../evil.txt": b"gotcha"})
    server.files["/evil.tar.gz"] = evil
    root = tmp_path / "root"
    with pytest.raises(DatasetError, match="unsafe member rejected"):
        download_source(
            _source(server.url("/evil.tar.gz"), evil, file="evil.tar.gz", unpack="tar", unpack_to="out"), root
        )
    assert not (tmp_path / "evil.txt").exists() and not (root / "evil.txt").exists()
    assert not (root / "out").exists()  # no half-extracted folder
    assert _cache_files(root) == ["evil.tar.gz"]  # the verified archive, nothing else


def test_zip_traversal_rejected(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fine.txt", b"fine")
        zipped.writestr("../evil.txt", b"gotcha")
    with pytest.raises(DatasetError, match=r"unsafe member '\.\./evil\.txt'"):
        unpack(archive, "zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_fetch_dataset_over_http(server: _Server, data_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()
    positions = np.random.default_rng(1).uniform(0, 3, (4, 2, 3))
    np.savez(
        buffer,
        pos=positions,
        energy=np.array([[-1.0], [-2.0], [-3.0], [-4.0]]),
        forces=np.zeros((4, 2, 3)),
        cell=np.eye(3) * 6,
        atomic_numbers=np.array([1, 1]),
        pbc=np.array([False] * 3),
    )
    server.files["/tiny.npz"] = buffer.getvalue()
    spec = DatasetSpec(
        name="tiny",
        description="two hydrogens",
        periodic=False,
        temperature_K=300.0,
        elements=("H",),
        splits={"train": {"path": "tiny/train.npz", "format": "npz", "frames": 4}},
        sources=(_source(server.url("/tiny.npz"), buffer.getvalue(), file="tiny/train.npz"),),
        citation="-",
        licence="-",
    )
    monkeypatch.setattr("egraffbench.data.download.get_dataset_spec", lambda name: spec)
    monkeypatch.setattr("egraffbench.data.dataset.get_dataset_spec", lambda name: spec)
    with pytest.raises(DatasetError, match=r"run `egraffbench data fetch tiny`"):
        load_dataset("tiny", "train")
    assert fetch_dataset("tiny") == data_cache
    frames = load_dataset("tiny", "train")
    assert [a.get_potential_energy() for a in frames] == [-1.0, -2.0, -3.0, -4.0]
    assert np.array_equal(frames[2].positions, positions[2])


def test_import_from_local_folder(shared_datasets: Path, data_cache: Path) -> None:
    fetch_dataset("md17-ethanol", shared_datasets)
    for split in ("train", "val", "test"):
        copied = data_cache / "md17" / "ethanol" / f"{split}.npz"
        assert copied.read_bytes() == (shared_datasets / "md17" / "ethanol" / f"{split}.npz").read_bytes()
    assert len(load_dataset("md17-ethanol", "val")) == 50
    copied = data_cache / "md17" / "ethanol" / "val.npz"
    copied.write_bytes(b"damaged")
    fetch_dataset("md17-ethanol", shared_datasets)  # a cached file that fails its checksum is replaced
    assert copied.read_bytes() == (shared_datasets / "md17" / "ethanol" / "val.npz").read_bytes()


def test_tampered_local_copy_is_refused(shared_datasets: Path, data_cache: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "offline" / "md17" / "ethanol" / "val.npz"
    tampered.parent.mkdir(parents=True)
    shutil.copyfile(shared_datasets / "md17" / "ethanol" / "val.npz", tampered)
    data = bytearray(tampered.read_bytes())
    data[5000] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"md17/ethanol/val\.npz: sha256 [0-9a-f]{64}, expected"):
        fetch_dataset("md17-ethanol", tmp_path / "offline")
    assert _cache_files(data_cache) == []


def test_local_folder_without_the_dataset(data_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="holds none of the files of gete"):
        fetch_dataset("gete", tmp_path)
    assert _cache_files(data_cache) == []


def test_byte_progress_counts_what_the_file_holds(server: _Server, tmp_path: Path) -> None:
    """A resumed download reports bytes held from the resume point up to the whole file, with its size."""
    server.files["/data.bin"] = PAYLOAD
    half, _ = _half_downloaded(tmp_path)
    heard: list[tuple[int, int | None]] = []
    source = _source(server.url("/data.bin"), PAYLOAD)
    download_source(source, tmp_path, on_bytes=lambda url, held, total: heard.append((held, total)))
    assert heard and heard[0][0] > half and heard[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [held for held, _ in heard] == sorted(held for held, _ in heard)
