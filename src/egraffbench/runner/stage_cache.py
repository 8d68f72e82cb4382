"""Content-addressed stage outputs: `<root>/<stage>/<key>/` holds a stage's artifacts, the inputs it was keyed
on (`inputs.json`) and, written last, its `result.json`: a stage is finished when that file exists.

`result.json` also records the sha256 of every artifact in the folder. Before a finished stage is reused its
result must parse and hold the stage's fields, every artifact must match its checksum, and the stage's own
structural check (e.g. the trajectory opens and has the frames the result says) must pass; otherwise the
folder is emptied, a one-line warning names it, and the stage is computed again.

A stage may name a predecessor: the key of a result that is provably also this key's (e.g. the same MD made
before a setting existed that could not have acted on it). When this key has no finished result and the
predecessor's passes verification and its ``carries_over`` test, its artifacts are hard-linked (copied across
file systems) into this key's folder and its result stored here with ``adopted_from`` naming it.

A file lock per key folder lets concurrent workers that need the same stage (e.g. two tasks sharing a
training set) compute it once: the second waits, then reuses the first's result.

A stage that resumes an interrupted attempt from its checkpoints (training, MD) is computed by every attempt
that left them: `attempts.json` records the kernels each attempt computed with (torch's CPU capability and
numpy's vector units, egraffbench.runner.machine), and the finished result lists them under
``attempt_kernels``. An attempt that resumes with other kernels than the last one warns, naming the
environment variables that would continue it as it began: the result is a valid run, but not the bits an
uninterrupted run on either machine gives.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from egraffbench.errors import EgraffbenchError
from egraffbench.fileio import atomic_write_json
from egraffbench.runner.hashing import file_checksum
from egraffbench.runner.machine import kernel_record, kernels_phrase, pinning_phrase, same_kernels

RESULT_FILE = "result.json"
STAGE_FOLDER = "stages"  # the cache's folder inside a run folder: STAGE_FOLDER/<stage>/<key>/
INPUTS_FILE = "inputs.json"
LOCK_FILE = ".lock"
ATTEMPTS_FILE = "attempts.json"  # the kernels of each attempt at a resumable stage, oldest first
CHECKSUMS = "_checksums"  # key of result.json: artifact path (relative to the folder) -> sha256
ATTEMPT_KERNELS = "attempt_kernels"  # key of a resumable stage's result.json: the kernels that computed it
_BOOKKEEPING = (RESULT_FILE, INPUTS_FILE, LOCK_FILE, ATTEMPTS_FILE)


@dataclass(frozen=True)
class StageCheck:
    """What a reusable result of a stage holds: its ``fields``, and ``artifacts(folder, result)`` that raises
    (EgraffbenchError or OSError) when the stage's files are unusable."""

    fields: Sequence[str] = ()
    artifacts: Callable[[Path, dict[str, Any]], None] | None = None
    resumes: bool = False  # compute continues an interrupted attempt from the checkpoints it left


@dataclass(frozen=True)
class Predecessor:
    """A key whose finished result is also the result sought when ``carries_over(folder, result)`` says so."""

    key: str
    carries_over: Callable[[Path, dict[str, Any]], bool]


class StaleStageError(Exception):
    """A finished stage whose result or artifacts fail verification."""


@contextmanager
def _locked(path: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the lock file ``path``; ``on_wait()`` is called first if another holder makes this wait."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _artifacts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in _BOOKKEEPING)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def verified_result(folder: Path, check: StageCheck) -> dict[str, Any] | None:
    """The result stored in ``folder`` once every check passes; None if the stage has not finished;
    StaleStageError saying what is wrong otherwise."""
    path = folder / RESULT_FILE
    if not path.is_file():
        return None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise StaleStageError(f"{RESULT_FILE} is unreadable ({error})") from error
    if not isinstance(stored, dict) or not isinstance(stored.get(CHECKSUMS), dict):
        raise StaleStageError(f"{RESULT_FILE} records no artifact checksums")
    checksums = stored.pop(CHECKSUMS)
    missing = [name for name in check.fields if name not in stored]
    if missing:
        raise StaleStageError(f"{RESULT_FILE} lacks {', '.join(missing)}")
    present = {str(p.relative_to(folder)) for p in _artifacts(folder)}
    for name in sorted(set(checksums) | present):
        if name not in checksums or name not in present or file_checksum(folder / name) != checksums[name]:
            raise StaleStageError(f"{name} differs from the file the stage wrote")
    if check.artifacts is not None:
        try:
            check.artifacts(folder, stored)
        except (EgraffbenchError, OSError) as error:
            raise StaleStageError(str(error)) from error
    return stored


def _empty(folder: Path) -> None:
    """Remove everything in ``folder`` but its lock file."""
    for entry in folder.iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not supported
        shutil.copy2(source, target)


def _store_result(folder: Path, result: dict[str, Any]) -> None:
    """Write ``result`` as the folder's finished result, with the checksum of every artifact beside it."""
    checksums = {str(p.relative_to(folder)): file_checksum(p) for p in _artifacts(folder)}
    atomic_write_json(folder / RESULT_FILE, {**result, CHECKSUMS: checksums})


def _kernel_list(value: Any) -> list[dict[str, Any]]:
    """``value`` if it is a list of kernel records (`machine.kernel_record`), else none: a record this code
    cannot read says nothing of the attempts."""
    keys = {"torch_kernels", "numpy_vector_units"}
    if isinstance(value, list) and all(isinstance(a, dict) and keys <= a.keys() for a in value):
        return value
    return []


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _earlier_kernels(folder: Path) -> list[dict[str, Any]]:
    """The kernels of the earlier attempts recorded in ``folder``; none where unrecorded or unreadable (the
    attempts of versions that did not record them are unknown)."""
    return _kernel_list(_read_json(folder / ATTEMPTS_FILE))


def first_attempt_kernels(folder: Path) -> dict[str, Any] | None:
    """The kernels of the first attempt at the stage in ``folder`` (what computed its first MD step or
    training epoch), from its attempts or its finished result; None where neither records them."""
    result = _read_json(folder / RESULT_FILE)
    stored = _kernel_list(result.get(ATTEMPT_KERNELS)) if isinstance(result, dict) else []
    attempts = _earlier_kernels(folder) or stored
    return attempts[0] if attempts else None


def _kernel_change(folder: Path, earlier: dict[str, Any], now: dict[str, Any]) -> str:
    """The warning for an attempt that continues ``folder`` with other kernels than the last one."""
    pins = pinning_phrase(earlier, now)
    remedy = (
        f"to continue it as it began, stop and rerun with {pins}"
        if pins
        else "this machine cannot compute with them"
    )
    return (
        f"stage {folder} was begun with {kernels_phrase(earlier)} and continues with "
        f"{kernels_phrase(now)}: its result will not be the bits of an uninterrupted run; {remedy} "
        "(docs/md.md)"
    )


def stage_result_path(stage: str, key: str) -> str:
    """Where the result record of (stage, key) lives, relative to a run folder (POSIX separators)."""
    return f"{STAGE_FOLDER}/{stage}/{key}/{RESULT_FILE}"


class StageCache:
    """Stage outputs under ``root``, one folder per (stage, key); ``warn`` receives one line per discarded
    stage or change of kernels (default: stderr); ``kernels`` gives the kernels this process computes with."""

    def __init__(
        self,
        root: Path,
        warn: Callable[[str], None] | None = None,
        kernels: Callable[[], dict[str, Any]] = kernel_record,
    ) -> None:
        self.root = Path(root)
        self.warn = warn or _warn
        self.kernels = kernels

    def folder(self, stage: str, key: str) -> Path:
        """Where the outputs of ``stage`` for ``key`` live."""
        return self.root / stage / key

    def result(self, stage: str, key: str, check: StageCheck | None = None) -> dict[str, Any] | None:
        """The finished, verified result of (stage, key), or None (missing or failing verification)."""
        try:
            return verified_result(self.folder(stage, key), check or StageCheck())
        except StaleStageError:
            return None

    def get_or_compute(
        self,
        stage: str,
        key: str,
        inputs: dict[str, Any],
        compute: Callable[[Path], dict[str, Any]],
        check: StageCheck | None = None,
        predecessor: Predecessor | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The result of (stage, key) and whether it was reused (or adopted from ``predecessor``);
        ``compute(folder)`` runs if it is missing or fails verification (the folder is emptied first, with a
        warning).

        ``compute`` may find partial outputs of an interrupted earlier attempt in its folder and resume them.
        """
        check = check or StageCheck()
        cached = self.result(stage, key, check)
        if cached is not None:
            return cached, True
        folder = self.folder(stage, key)
        folder.mkdir(parents=True, exist_ok=True)
        waiting = f"stage {stage} {key} is being computed by another process or worker: waiting to reuse it"
        with _locked(folder / LOCK_FILE, lambda: self.warn(waiting)):
            try:
                cached = verified_result(folder, check)
            except StaleStageError as error:
                self.warn(f"cached stage {folder} is corrupt ({error}): discarded, recomputing it")
                _empty(folder)
            else:
                if cached is not None:
                    return cached, True
            if predecessor is not None and self._adopt(stage, folder, inputs, predecessor, check):
                return verified_result(folder, check) or {}, True
            atomic_write_json(folder / INPUTS_FILE, inputs)
            if not check.resumes:
                _store_result(folder, compute(folder))
            else:
                kernels = self._begin_attempt(folder)
                _store_result(folder, {**compute(folder), ATTEMPT_KERNELS: kernels})
        return verified_result(folder, check) or {}, False

    def _begin_attempt(self, folder: Path) -> list[dict[str, Any]]:
        """Record this attempt's kernels in ``folder``; returns the distinct kernels of every attempt whose
        outputs it continues (none when the folder holds no partial outputs), warning when they change."""
        earlier = _earlier_kernels(folder) if _artifacts(folder) else []
        now = self.kernels()
        if earlier and not same_kernels(earlier[-1], now):
            self.warn(_kernel_change(folder, earlier[-1], now))
        attempts = [*earlier, now]
        atomic_write_json(folder / ATTEMPTS_FILE, attempts)
        return [
            kernels
            for i, kernels in enumerate(attempts)
            if not any(same_kernels(kernels, earlier_kernels) for earlier_kernels in attempts[:i])
        ]

    def _adopt(
        self, stage: str, folder: Path, inputs: dict[str, Any], predecessor: Predecessor, check: StageCheck
    ) -> bool:
        """Store the predecessor's result in ``folder`` if it is finished, verified and carries over."""
        source = self.folder(stage, predecessor.key)
        found = self.result(stage, predecessor.key, check)
        if found is None or not predecessor.carries_over(source, found):
            return False
        _empty(folder)  # partial outputs of an interrupted computation
        for artifact in _artifacts(source):
            _link_or_copy(artifact, folder / artifact.relative_to(source))
        atomic_write_json(folder / INPUTS_FILE, inputs)
        _store_result(folder, {**found, "adopted_from": predecessor.key})
        return True
