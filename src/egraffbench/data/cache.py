"""Where datasets live on disk, and writing there atomically (a reader never sees a half-written file)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from platformdirs import user_cache_dir

DATA_ENV_VAR = "EGRAFFBENCH_DATA"


def data_root() -> Path:
    """The dataset cache folder: `$EGRAFFBENCH_DATA`, else `<user cache dir>/egraffbench/datasets`."""
    configured = os.environ.get(DATA_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(user_cache_dir("egraffbench")) / "datasets"


def temporary_sibling(target: Path, tag: str = "tmp") -> Path:
    """A hidden path beside `target`, unique to this process, for building `target` before it is renamed."""
    return target.with_name(f".{target.name}.{os.getpid()}.{tag}")


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success it replaces `target`, on error it is removed.

    Works for a file or a folder written at the yielded path; a folder already at `target` is removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_sibling(target)
    try:
        yield temporary
        if temporary.is_dir() and target.is_dir():
            shutil.rmtree(target)
        os.replace(temporary, target)
    finally:
        if temporary.is_dir():
            shutil.rmtree(temporary)
        else:
            temporary.unlink(missing_ok=True)
