"""MD speed counted over live replicas only, from a job's stored simulate and score records.

The batched engine removes a replica from the batch when it fails, so the steps after that cost less: the
batch's plain steps/s (``SimulateResult.steps_per_s``) rises when replicas fail early and favours unstable
models. Here the wall time of all MD attempts (``md_seconds``) is divided by the atom-steps the engine really
integrated: each replica's atoms × the steps it ran (to its failure step, else the stability horizon).
``live_steps_per_s`` is that speed expressed as steps/s of the whole batch; ``us_per_live_atom_step`` is its
cost per atom-step. Both come from stored records, so published runs get them without running MD again.
"""

from __future__ import annotations

from egraffbench.store.schema import JobResults, SimulateResult


def _replica_atoms(md: SimulateResult) -> list[float] | None:
    """Atoms of each replica: stored per replica since simulate records carry them, else the batch's atoms
    shared evenly where every replica is of one test system (None where that cannot be known)."""
    if all(replica.atoms is not None for replica in md.replicas):
        return [float(replica.atoms) for replica in md.replicas]
    if len({replica.system for replica in md.replicas}) != 1:
        return None
    return [md.atoms / len(md.replicas)] * len(md.replicas)


def live_speed(results: JobResults) -> dict[str, float]:
    """``live_steps_per_s`` and ``us_per_live_atom_step`` of one job (empty where its records lack what they
    need: an MD wall time, the replicas' failure times, or the atoms of each replica)."""
    md, scores = results.md, results.scores
    if md is None or scores is None or not md.md_seconds or not md.steps_per_s or not md.replicas:
        return {}
    atoms = _replica_atoms(md)
    production = [v for v in scores.replica_values if v.segment == "production"]  # in the simulate order
    if atoms is None or [v.system for v in production] != [r.system for r in md.replicas]:
        return {}
    horizon_fs = scores.horizon
    run_fs = [
        horizon_fs if v.failure_time_fs is None else min(v.failure_time_fs, horizon_fs) for v in production
    ]
    atom_steps = sum(n * t for n, t in zip(atoms, run_fs, strict=True)) / float(md.protocol["timestep_fs"])
    if atom_steps <= 0:
        return {}
    return {
        "live_steps_per_s": atom_steps / (md.atoms * md.md_seconds),
        "us_per_live_atom_step": 1e6 * md.md_seconds / atom_steps,
    }
