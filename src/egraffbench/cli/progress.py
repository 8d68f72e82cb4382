"""Progress of long commands: rich bars on a terminal; plain, timestamped lines (task, status, step, ETA)
at a modest rate when output goes to a file or a batch job's log, where rich's live display prints nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

PLAIN_INTERVAL_S = 30.0  # at most one line per task in this interval, unless its stage changes or it ends


@dataclass
class _Line:
    description: str
    total: float | None
    completed: float = 0.0
    status: str = ""
    started: float = field(default_factory=time.monotonic)
    printed: float = -float("inf")
    started_at: float = 0.0  # `completed` when the rate measurement began (a resumed run starts mid-way)


class PlainProgress:
    """The part of rich's Progress the commands use, printing one line per change worth reporting."""

    def __init__(self, console: Console, interval_s: float = PLAIN_INTERVAL_S, unit: str = "step") -> None:
        self.console, self.interval_s, self.unit = console, interval_s, unit
        self.lines: dict[int, _Line] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        task = len(self.lines)
        self.lines[task] = _Line(description, total, status=str(fields.get("status", "")))
        self._print(self.lines[task])
        return task

    def update(
        self,
        task: int,
        total: float | None = None,
        completed: float | None = None,
        advance: float | None = None,
        **fields: Any,
    ) -> None:
        line = self.lines[task]
        stage_changed = "status" in fields and _stage(str(fields["status"])) != _stage(line.status)
        if total is not None and total != line.total:
            line.total, line.started, line.started_at = total, time.monotonic(), completed or 0.0
        line.completed = completed if completed is not None else line.completed + (advance or 0.0)
        line.status = str(fields.get("status", line.status))
        finished = line.total is not None and line.completed >= line.total
        if stage_changed or finished or time.monotonic() - line.printed >= self.interval_s:
            self._print(line)

    def advance(self, task: int, advance: float = 1.0) -> None:
        self.update(task, advance=advance)

    def _print(self, line: _Line) -> None:
        line.printed = time.monotonic()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        parts = [stamp, line.description]
        if line.status:
            parts.append(line.status)
        if line.total:
            parts.append(f"{self.unit} {line.completed:.0f}/{line.total:.0f}")
            eta = _eta(line)
            if eta is not None:
                parts.append(f"ETA {eta}")
        self.console.print("  ".join(parts), markup=False, highlight=False, soft_wrap=True)


def format_rate(per_second: float) -> str:
    """A rate to three significant figures, without an exponent: a CPU's 0.412 steps/s is not printed as 0."""
    return f"{per_second:.3g}" if abs(per_second) < 100 else f"{per_second:.0f}"


def _stage(status: str) -> str:
    return status.split(":")[0].split(" ")[0]


def _eta(line: _Line) -> str | None:
    done = line.completed - line.started_at
    elapsed = time.monotonic() - line.started
    if line.total is None or done <= 0 or elapsed <= 0 or line.completed >= line.total:
        return None
    seconds = int((line.total - line.completed) * elapsed / done)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def progress_display(console: Console, *columns: Any, unit: str = "step") -> Progress | PlainProgress:
    """Rich progress bars with ``columns`` (default: description, bar, status, elapsed) on a terminal,
    else :class:`PlainProgress` lines counting in ``unit``."""
    if not console.is_terminal:
        return PlainProgress(console, unit=unit)
    columns = columns or (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    return Progress(*columns, console=console)
