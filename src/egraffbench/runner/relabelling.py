"""MD keyed with and without bond relabelling, and when a result made without it is also the result with it.

Relabelling (``StabilityCriteria.bond_relabelling``) acts only at a checked step where a molecule's bonds
deviate, i.e. where the check without it stops the replica with ``bond-deviation``. A run in which no replica
stopped so never reached such a step: both settings integrate it identically, step for step. The setting is
keyed only when it is on (``MDProtocol.identity``), so keys made before it existed (no relabelling) still name
the same results, and those results carry over to the relabelling key when no replica failed by
``bond-deviation``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from egraffbench.md.trajectory import read_outcomes
from egraffbench.runner.hashing import stage_key
from egraffbench.runner.stage_cache import Predecessor
from egraffbench.runner.stages import STAGE_TRAJECTORIES

SETTING = "bond_relabelling"


def unrelabelled_predecessor(stage: str, inputs: dict[str, Any]) -> Predecessor | None:
    """The same MD stage's key without relabelling, whose result carries over when none of its trajectories
    (``STAGE_TRAJECTORIES``) has a replica that failed by ``bond-deviation``; None when ``inputs`` (with a
    keyed protocol) already have relabelling off."""
    if SETTING not in inputs["protocol"]["stability"]:
        return None
    plain = copy.deepcopy(inputs)
    del plain["protocol"]["stability"][SETTING]

    def carries_over(folder: Path, result: dict[str, Any]) -> bool:
        return not any(
            outcome.failure_reason == "bond-deviation"
            for path in STAGE_TRAJECTORIES[stage](folder, result)
            for outcome in read_outcomes(path).values()
        )

    return Predecessor(stage_key(stage, plain), carries_over)
