"""SIGTERM (a batch system's wall-time limit, `kill`) stops `egraffbench run` like Ctrl-C: the run is stored
as `interrupted` and the exit code is 128 + 15.

Python runs a signal handler in the main thread between two bytecodes of whatever code runs there, and an
exception raised while an unfinished generator is closed as it is dropped (its `finally` runs), inside a
`__del__` or a weakref callback is printed as "Exception ignored" and dropped, so the handler's SystemExit
alone can be lost and the run go on (CI saw a run ignore SIGTERM for 120 s). The request is therefore kept
and raised again at the next progress callback (every MD step, training epoch and stage). A watchdog
started by the first signal prints every thread's stack and ends the process if the orderly stop has not
finished within ``grace_s``, so a stop never hangs silently (SLURM kills 30 s after its SIGTERM by
default).
"""

from __future__ import annotations

import faulthandler
import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_GRACE_S = 90.0  # above the results store's 60 s busy timeout, which the stop may wait through once


class StopRequest:
    """Whether SIGTERM arrived; :meth:`check` raises SystemExit(128 + 15) once it has."""

    def __init__(self, grace_s: float = STOP_GRACE_S) -> None:
        self.grace_s = grace_s
        self.signum: int | None = None

    def check(self) -> None:
        """Raise SystemExit if a stop was requested (again, if an earlier one was swallowed)."""
        if self.signum is not None:
            raise SystemExit(128 + self.signum)

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.signum is None:
            faulthandler.dump_traceback_later(self.grace_s, exit=True)
        self.signum = signum
        self.check()

    @contextmanager
    def handling_sigterm(self) -> Iterator[StopRequest]:
        """Within the block, SIGTERM requests a stop; the previous handler is restored after it."""
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)
