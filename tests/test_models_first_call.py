"""A model's first call in a process computes the same bits as every later call, for MD forces and training
gradients, whichever comes first, and the same bits whether or not other models ran before it in the
process: a run that starts or resumes in a fresh process must equal one that had called the model before,
and a job must not depend on the jobs before it (before unoptimised TorchScript, nequip, allegro and mace
failed the first, equiformer the second)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from egraffbench.models import ARCHITECTURES

PROBE = Path(__file__).with_name("first_call_probe.py")
CASES = [
    (architecture, *order)
    for architecture in sorted(ARCHITECTURES)
    for order in (("md", "alone"), ("train", "alone"), ("md", "others"))
]


def probe(case: tuple[str, str, str]) -> subprocess.CompletedProcess[str]:
    # A fresh interpreter per case: TorchScript's executor state is per process and shared between models.
    return subprocess.run(
        [sys.executable, str(PROBE), *case], capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def probes() -> dict[tuple[str, str, str], dict]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(CASES, pool.map(probe, CASES), strict=True))
    for case, result in results.items():
        assert result.returncode == 0, f"{case}: {result.stderr[-2000:]}"
    return {case: json.loads(result.stdout.strip().splitlines()[-1]) for case, result in results.items()}


@pytest.mark.parametrize("case", CASES, ids=[f"{a}-{first}-first-{history}" for a, first, history in CASES])
def test_first_call_equals_later_calls(probes, case: tuple[str, str, str]) -> None:
    differences = probes[case]["differences"]
    assert set(differences) == {"md", "train"}
    for path, values in differences.items():
        assert values == [0.0, 0.0, 0.0], f"{path}: calls 1-3 differ from call 4 by {values}"


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_other_models_run_before_change_nothing(probes, architecture: str) -> None:
    """The five other architectures' MD and training calls, run first in the process, leave this model's
    forces and gradients bit for bit as in a process of its own (equiformer's moved by 7e-9 eV/Å when the
    others ran TorchScript optimised: e3nn's scripted functions are shared)."""
    alone, after_others = probes[(architecture, "md", "alone")], probes[(architecture, "md", "others")]
    assert after_others["digests"] == alone["digests"]
