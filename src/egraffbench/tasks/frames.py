"""Which frames of which data file a task's test systems are, without the data: from the dataset
registry's split frame ranges. Two tasks that test the same frames of a file (lips20's frames 900–999 of
Li2PS3-orth, also among the 1000 its unseen-structure twin tests) can then be compared on those frames alone
(finding 3, `report.shared_systems`)."""

from __future__ import annotations

from egraffbench.data.registry import get_dataset_spec
from egraffbench.tasks.schema import SystemSpec, TaskSpec


def system_frames(system: SystemSpec) -> tuple[str, range] | None:
    """The data file of a test system (its path in the data root) and the indices in it of the system's
    frames, in the order they are evaluated; None where the registry does not tell (a file source, a split
    of several parts, or a part of unknown length)."""
    if system.dataset is None or system.split is None:
        return None
    split = get_dataset_spec(system.dataset).split(system.split)
    if len(split.parts) != 1:
        return None
    (part,) = split.parts
    if part.frame_range is not None:
        frames = range(*part.frame_range)
    elif split.frames is not None:
        frames = range(split.frames)
    else:
        return None
    if system.frames is not None:
        frames = frames[system.frames[0] : system.frames[1]]
    return part.path, frames


def frames_of_test_systems(task: TaskSpec) -> dict[str, tuple[str, range]]:
    """Per test system of ``task`` (by name), :func:`system_frames`, for those where the registry tells."""
    found = {system.system_name: system_frames(system) for system in task.test}
    return {name: frames for name, frames in found.items() if frames is not None}
