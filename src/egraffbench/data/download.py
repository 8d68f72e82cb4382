"""Getting a dataset into the data root: HTTP download or import from a local folder, verified before use.

Downloads go to `<file>.part` and resume from there with an HTTP Range request; a file takes its final name
only after its checksums match (`os.replace`), and archives are unpacked after that, atomically. A checksum
mismatch deletes the partial file, so nothing unverified is ever left where the loaders look.
"""

from __future__ import annotations

import errno
import http.client
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from egraffbench import __version__
from egraffbench.data.archives import unpack
from egraffbench.data.cache import atomic_path, data_root
from egraffbench.data.checksums import is_verified, verify_file
from egraffbench.data.dataset import split_available
from egraffbench.data.embedded import ensure_embedded
from egraffbench.data.registry import DatasetSpec, SourceSpec, get_dataset_spec
from egraffbench.errors import ChecksumError, DatasetError

Reporter = Callable[[str], None]
ByteProgress = Callable[[str, int, int | None], None]  # (url, bytes held, total bytes or None)
TIMEOUT_S = 60.0
_CHUNK = 1 << 20


def _ignore(_: str) -> None:
    """Default reporter: say nothing."""


def part_path(target: Path) -> Path:
    """Where the download of `target` accumulates until it is verified."""
    return target.with_name(target.name + ".part")


def source_ready(source: SourceSpec, root: Path) -> bool:
    """True if what the loaders read from `source` is in `root` (a plain download must also verify)."""
    if source.unpack is not None:
        return (root / source.output).exists()
    return is_verified(root / source.file, source)


def _no_bytes(url: str, held: int, total: int | None) -> None:
    """Default byte progress: say nothing."""


def _http_fetch(
    url: str, part: Path, report: Reporter, timeout: float, on_bytes: ByteProgress = _no_bytes
) -> None:
    """Append the rest of `url` to `part` (Range request) or, if the server ignores ranges, rewrite it."""
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"egraffbench/{__version__}"}
    if start:
        headers["Range"] = f"bytes={start}-"
    try:
        response = urlopen(Request(url, headers=headers), timeout=timeout)
    except HTTPError as error:
        if error.code == 416 and start:  # nothing beyond what we hold: the checksum decides
            return
        raise DatasetError(f"download of {url} failed: HTTP {error.code} {error.reason}") from error
    except (URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DatasetError(
            f"cannot download {url} ({reason}); check the network or import a local copy with --from DIR"
        ) from error
    with response:
        resumed = start > 0 and response.status == 206
        report(f"{'resuming' if resumed else 'downloading'} {url}")
        try:
            held = start if resumed else 0
            total = None if response.length is None else held + response.length
            with part.open("ab" if resumed else "wb") as output:
                while chunk := response.read(_CHUNK):
                    output.write(chunk)
                    held += len(chunk)
                    on_bytes(url, held, total)
            if response.length:  # the server closed before sending its Content-Length
                raise http.client.IncompleteRead(b"", response.length)
        except (OSError, http.client.HTTPException) as error:
            full = isinstance(error, OSError) and error.errno == errno.ENOSPC
            reason = "the disk is full: free some space and" if full else f"({error!r});"
            raise DatasetError(
                f"download of {url} interrupted after {part.stat().st_size} bytes, kept in {part}; "
                f"{reason} run the same fetch again to resume"
            ) from error


def download_source(
    source: SourceSpec,
    root: Path,
    report: Reporter = _ignore,
    timeout: float = TIMEOUT_S,
    on_bytes: ByteProgress = _no_bytes,
) -> None:
    """Download, verify, then place (and unpack) one source under `root`."""
    target = root / source.file
    target.parent.mkdir(parents=True, exist_ok=True)
    if not is_verified(target, source):
        part = part_path(target)
        _http_fetch(source.url, part, report, timeout, on_bytes)
        try:
            verify_file(part, source)
        except ChecksumError as error:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{error}; the download was discarded") from error
        os.replace(part, target)
    if source.unpack is not None:
        unpack(target, source.unpack, root / source.output)


def import_source(source: SourceSpec, source_dir: Path, root: Path, report: Reporter = _ignore) -> bool:
    """Copy one source from a local folder laid out like the data root; False if the folder lacks it.

    The copy is verified before it takes its name. A folder may hold an archive's unpacked form instead of
    the archive; that form has no published checksum and is copied as it is.
    """
    original = source_dir / source.file
    if original.is_file():
        report(f"importing {original}")
        with atomic_path(root / source.file) as temporary:
            shutil.copyfile(original, temporary)
            verify_file(temporary, source)
        if source.unpack is not None:
            unpack(root / source.file, source.unpack, root / source.output)
        return True
    unpacked = source_dir / source.output
    if source.unpack is not None and unpacked.exists():
        report(f"importing {unpacked} (unpacked form: no checksum to verify)")
        with atomic_path(root / source.output) as temporary:
            if unpacked.is_dir():
                shutil.copytree(unpacked, temporary)
            else:
                shutil.copyfile(unpacked, temporary)
        return True
    return False


def _unique_sources(spec: DatasetSpec) -> list[SourceSpec]:
    return list({source.file: source for source in spec.sources}.values())


def fetch_dataset(
    name: str,
    source_dir: Path | None = None,
    *,
    root: Path | None = None,
    report: Reporter = _ignore,
    on_bytes: ByteProgress = _no_bytes,
) -> Path:
    """Bring dataset `name` into the data root (or `root`) and return that root.

    Without `source_dir`: download every missing source from its public URL. With it: import from that
    local folder (laid out like the data root, e.g. the offline copy of the EGraFFBench datasets); files it
    lacks are reported and skipped, and it is an error only if it holds none of them. The embedded dataset
    is generated instead. ``on_bytes`` hears the bytes of each download as they arrive.
    """
    spec = get_dataset_spec(name)
    root = data_root() if root is None else Path(root)
    if spec.generator == "embedded":
        report(f"generating {name} (no download needed)")
        ensure_embedded({split: root / spec.split(split).parts[0].path for split in spec.splits})
        return root
    if source_dir is not None and not Path(source_dir).is_dir():
        raise DatasetError(f"{source_dir}: not a folder; --from needs a folder laid out like the data root")
    pending = [source for source in _unique_sources(spec) if not source_ready(source, root)]
    missing = []
    for source in pending:
        if source_dir is None:
            download_source(source, root, report, on_bytes=on_bytes)
        elif not import_source(source, Path(source_dir), root, report):
            missing.append(source.output)
    if missing and len(missing) == len(pending):
        raise DatasetError(f"{source_dir} holds none of the files of {name} (e.g. {missing[0]})")
    if missing:
        report(f"not in {source_dir}: {', '.join(missing)}")
    absent = [split for split in spec.splits if not split_available(spec, split, root)]
    if absent:
        report(f"{name}: splits not available yet: {', '.join(absent)}")
    return root
