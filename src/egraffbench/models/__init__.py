"""Force fields behind one interface: energy, forces, stress for batches of systems; save/load; ASE bridge."""

# First: every adapter module lives in this package, so this runs before any of them imports e3nn.
import egraffbench.models.torch_setup  # noqa: F401
from egraffbench.models.base import ForceField, TrainingStatistics, unoptimised_torchscript
from egraffbench.models.graph import AtomicBatch, batch_from_arrays, batch_from_atoms
from egraffbench.models.registry import ARCHITECTURES, REFERENCE_POTENTIALS, build_force_field
from egraffbench.models.storage import load_force_field, save_force_field

__all__ = [
    "ARCHITECTURES",
    "REFERENCE_POTENTIALS",
    "AtomicBatch",
    "ForceField",
    "TrainingStatistics",
    "batch_from_arrays",
    "batch_from_atoms",
    "build_force_field",
    "load_force_field",
    "save_force_field",
    "unoptimised_torchscript",
]
