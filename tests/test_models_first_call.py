"""A model's first call in a process computes the same bits as every later call, for MD forces and training
gradients, whichever comes first: a run that starts or resumes in a fresh process must equal one that had
called the model before (before unoptimised TorchScript, nequip, allegro and mace failed this)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from egraffbench.models import ARCHITECTURES

PROBE = Path(__file__).with_name("first_call_probe.py")
CASES = [(architecture, first) for architecture in sorted(ARCHITECTURES) for first in ("md", "train")]


def probe(case: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter per case: TorchScript's executor state is per process and shared between models.
    return subprocess.run(
        [sys.executable, str(PROBE), *case], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def probes() -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(CASES, pool.map(probe, CASES), strict=True))


@pytest.mark.parametrize("case", CASES, ids=[f"{a}-{first}-first" for a, first in CASES])
def test_first_call_equals_later_calls(probes, case: tuple[str, str]) -> None:
    result = probes[case]
    assert result.returncode == 0, result.stderr[-2000:]
    differences = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(differences) == {"md", "train"}
    for path, values in differences.items():
        assert values == [0.0, 0.0, 0.0], f"{path}: calls 1-3 differ from call 4 by {values}"
