"""The CLI's error boundary: which exceptions are expected failures (bad input, corrupt or unreadable files,
a full disk, a broken results database) and the one line each is reported as. Anything else is a bug and
keeps its traceback."""

from __future__ import annotations

import pickle
import sqlite3

from pydantic import ValidationError

from egraffbench.errors import EgraffbenchError, out_of_space


def one_line(text: str) -> str:
    return "; ".join(part.strip() for part in text.strip().splitlines() if part.strip())


def _os_error(error: OSError) -> str:
    where = f"{error.filename}: " if error.filename else ""
    if out_of_space(error) or "No space left on device" in str(error):
        return (
            f"{where}out of space on the disk (no partial output is kept as if complete); "
            "free some space and rerun the same command"
        )
    if error.filename and error.strerror:
        target = f" -> {error.filename2}" if error.filename2 else ""
        return f"{error.filename}{target}: {error.strerror}"
    return one_line(str(error)) or type(error).__name__


def _validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{error.title}: field '{where}': {first['msg']}, got {first.get('input')!r}{more}"


def expected_failure(error: BaseException) -> str | None:
    """The one-line message of an expected failure; None for an exception that means a bug."""
    if isinstance(error, EgraffbenchError):
        return one_line(str(error))
    if isinstance(error, OSError):
        return _os_error(error)
    if isinstance(error, sqlite3.Error) and getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
        return (
            "results database: out of space on the disk (no partial output is kept as if complete); "
            "free some space and rerun the same command"
        )
    if isinstance(error, sqlite3.Error):
        return f"results database: {one_line(str(error))} (is the file a results.sqlite of egraffbench?)"
    if isinstance(error, ValidationError):
        return _validation_error(error)
    if isinstance(error, pickle.UnpicklingError | UnicodeDecodeError):
        return f"a file is corrupt or not of the expected kind ({one_line(str(error))})"
    return None
