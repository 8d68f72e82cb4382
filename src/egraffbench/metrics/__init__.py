"""Pure metric functions on arrays and trajectories (definitions: docs/metrics.md)."""

from egraffbench.metrics.accuracy import energy_force_errors
from egraffbench.metrics.comparison import compare_trajectories, frames_structure_function, structure_kind
from egraffbench.metrics.dynamics import (
    diffusion_coefficient,
    diffusion_coefficients,
    energy_drift,
    mean_squared_displacement,
    unwrap_positions,
    velocity_autocorrelation,
    vibrational_density_of_states,
)
from egraffbench.metrics.scoring import StructureScore, reference_structure, score_structure
from egraffbench.metrics.similarity import jensen_shannon_divergence, mean_absolute_difference, wright_factor
from egraffbench.metrics.stability import (
    FAILURE_REASONS,
    Failure,
    StabilityCriteria,
    bonded_pairs,
    check_stability,
    first_failure,
    kinetic_temperature,
    relabelled_bonds,
    windowed_rdf_mae,
)
from egraffbench.metrics.structure import (
    StructureFunction,
    angular_distribution,
    default_molecule_r_max,
    default_r_max,
    distance_histogram,
    radial_distribution,
    rdf_frames,
    running_coordination,
)
from egraffbench.metrics.survival import (
    SurvivalCurve,
    censored_durations,
    fraction_stable,
    kaplan_meier,
    median_time_to_failure,
)
from egraffbench.metrics.uncertainty import bootstrap_ci
from egraffbench.metrics.violation import energy_violation, force_violation, geometric_mean

__all__ = [
    "FAILURE_REASONS",
    "Failure",
    "StabilityCriteria",
    "StructureFunction",
    "StructureScore",
    "SurvivalCurve",
    "angular_distribution",
    "bonded_pairs",
    "bootstrap_ci",
    "censored_durations",
    "check_stability",
    "compare_trajectories",
    "default_molecule_r_max",
    "default_r_max",
    "diffusion_coefficient",
    "diffusion_coefficients",
    "distance_histogram",
    "energy_drift",
    "energy_force_errors",
    "energy_violation",
    "first_failure",
    "force_violation",
    "fraction_stable",
    "frames_structure_function",
    "geometric_mean",
    "jensen_shannon_divergence",
    "kaplan_meier",
    "kinetic_temperature",
    "mean_absolute_difference",
    "mean_squared_displacement",
    "median_time_to_failure",
    "radial_distribution",
    "rdf_frames",
    "reference_structure",
    "relabelled_bonds",
    "running_coordination",
    "score_structure",
    "structure_kind",
    "unwrap_positions",
    "velocity_autocorrelation",
    "vibrational_density_of_states",
    "windowed_rdf_mae",
    "wright_factor",
]
