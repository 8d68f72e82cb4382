"""Conventions shared by the commands: choice lists of enumerated options and the output-flag convention.

Output: ``-o/--output FILE`` names a file a command writes (trajectory, export, metrics JSON); ``--out DIR``
names a folder (a run folder, a model folder, a report folder). Older spellings stay for one release as
hidden, deprecated aliases that print a warning (:func:`deprecated_alias`).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import typer

from egraffbench.errors import ConfigError
from egraffbench.md.protocol import ENSEMBLES

Ensemble = Literal[ENSEMBLES]
Dtype = Literal["float32", "float64"]
StructureKind = Literal["rdf", "hr"]
DEVICE_KINDS = ("cpu", "cuda", "mps")
DEVICE_METAVAR = "[cpu|cuda|cuda:N|mps]"


def choices(name: str, values: Iterable[str]) -> type[StrEnum]:
    """A choice list known only at run time (its members are the strings themselves)."""
    return StrEnum(name, {value: value for value in values})


def parse_device(text: str) -> str:
    """A torch device: cpu, cuda, cuda:N or mps (its spelling only)."""
    kind, _, index = text.partition(":")
    if kind not in DEVICE_KINDS or (index and not index.isdigit()) or (index and kind != "cuda"):
        raise typer.BadParameter(f"'{text}' is not a device: cpu, cuda, cuda:N or mps")
    return text


def missing_device(device: str) -> str | None:
    """Why torch cannot compute on ``device`` (a spelling :func:`parse_device` accepts) on this machine, or
    None when it can."""
    import torch  # here, not at import: `--help` does not wait for torch

    kind, _, index = device.partition(":")
    if kind == "cuda" and not torch.cuda.is_available():
        return f"torch {torch.__version__} sees no CUDA device on this machine"
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        return f"this machine has {torch.cuda.device_count()} CUDA device(s)"
    if kind == "mps" and not torch.backends.mps.is_available():
        return f"torch {torch.__version__} sees no MPS device on this machine"
    return None


def parse_present_device(text: str) -> str:
    """A device :func:`parse_device` accepts and torch can compute on here."""
    reason = missing_device(parse_device(text))
    if reason is not None:
        raise typer.BadParameter(f"'{text}': {reason}")
    return text


def complete_device() -> list[str]:
    """Shell completion of --device."""
    return list(DEVICE_KINDS)


def device_option(help_text: str, here: bool = True) -> Any:
    """The `--device` option (cpu, cuda, cuda:N, mps), checked against what torch sees on this machine when
    ``here`` (else the command checks it where the device must be present)."""
    return typer.Option(
        "--device",
        parser=parse_present_device if here else parse_device,
        autocompletion=complete_device,
        metavar=DEVICE_METAVAR,
        help=help_text,
    )


def deprecated_alias(value: Path | None, old: Path | None, new_flag: str, old_flag: str) -> Path | None:
    """``value`` of the option ``new_flag``, or of its deprecated spelling ``old_flag`` with a warning."""
    if old is None:
        return value
    if value is not None:
        raise ConfigError(f"give {new_flag} only ({old_flag} is its deprecated spelling)")
    typer.secho(f"warning: {old_flag} is deprecated; use {new_flag}", fg=typer.colors.YELLOW, err=True)
    return old


def hidden_alias(flag: str, new_flag: str) -> typer.models.OptionInfo:
    """The typer option of a deprecated spelling (hidden from --help)."""
    return typer.Option(flag, hidden=True, help=f"deprecated spelling of {new_flag}")
