"""Which frames of its data file a test system is, without reading the data: from the dataset registry's
split frame ranges. A job stores them in its task card (`store.schema.FrameRange`), so that two tasks that
test the same frames of a file (lips20's frames 900–999 of Li2PS3-orth, also among the 1000 its
unseen-structure twin tests) can be compared on those frames alone (finding 3, `report.shared_systems`)."""

from __future__ import annotations

from egraffbench.data.registry import get_dataset_spec
from egraffbench.tasks.schema import SystemSpec


def system_frames(system: SystemSpec) -> range | None:
    """The indices, in its data file, of a test system's frames in the order they are evaluated; None where
    the registry does not tell (a file source, a split of several parts, or a part of unknown length)."""
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
    return frames if system.frames is None else frames[system.frames[0] : system.frames[1]]
