"""Typed errors. Each carries where the problem is and what was expected; the CLI prints them as one line."""

import errno

NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)  # a full disk or an exhausted quota: "out of space"


def out_of_space(error: BaseException) -> bool:
    """Whether ``error`` says the disk (or the quota) is full."""
    return isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS


class EgraffbenchError(Exception):
    """Base class of every error the CLI reports as a single line."""


class DatasetError(EgraffbenchError):
    """A dataset file or folder is missing, corrupt, or not what its loader expects."""


class UnknownNameError(EgraffbenchError):
    """A dataset, model or task name that is not in its registry."""


class ChecksumError(DatasetError):
    """A downloaded or imported file does not match its published sha256."""


class ConfigError(EgraffbenchError):
    """A configuration value or file is invalid."""


class ModelError(EgraffbenchError):
    """A model checkpoint or model output is unusable (missing file, unknown species, NaN)."""


class TrajectoryError(EgraffbenchError):
    """A trajectory file cannot be read or does not carry what a metric needs."""


class TrainingError(EgraffbenchError):
    """Training cannot go on (e.g. the loss became NaN); the last good checkpoint is kept."""
