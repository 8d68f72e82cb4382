"""A stop request (SIGTERM) survives library code that swallows the handler's SystemExit, and a stop that
hangs ends with every thread's stack printed instead of silently."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from egraffbench.cli.stop_request import StopRequest

_SWALLOWED = """
import os, signal, time
from egraffbench.cli.stop_request import StopRequest

def steps():  # a generator left unfinished: Python closes it when it is dropped
    try:
        yield
    finally:  # the signal arrives while this runs: its SystemExit is printed as unraisable and dropped
        os.kill(os.getpid(), signal.SIGTERM)
        sum(range(1000))

with StopRequest(grace_s={grace}).handling_sigterm() as stop:
    unfinished = steps()
    next(unfinished)
    del unfinished
    print("swallowed", flush=True)
    {after}
"""


def _run(grace: float, after: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(_SWALLOWED).format(grace=grace, after=after)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)


def test_a_swallowed_sigterm_is_raised_again_at_the_next_check() -> None:
    run_on = "for _ in range(1000):\n        stop.check(); time.sleep(0.01)\n    print('ran on')"
    finished = _run(60.0, run_on)
    assert finished.stdout.split() == ["swallowed"], finished.stderr
    assert finished.returncode == 128 + signal.SIGTERM


def test_a_stop_that_hangs_prints_every_stack_and_exits() -> None:
    hung = _run(1.0, "time.sleep(30)")
    assert hung.stdout.split() == ["swallowed"]
    assert hung.returncode == 1
    assert "Timeout" in hung.stderr and "line" in hung.stderr  # faulthandler's dump names file and line


def test_without_a_signal_nothing_stops_and_the_previous_handler_returns() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    with stop.handling_sigterm():
        assert signal.getsignal(signal.SIGTERM) != before
        stop.check()
    assert signal.getsignal(signal.SIGTERM) == before
