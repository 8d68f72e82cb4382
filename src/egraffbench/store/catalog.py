"""What every stored metric is: its name, the results section it comes from and its unit in the store; and
the one leaderboard definition every output uses (console, `results.csv`/`results.json`, the report's HTML,
markdown and `leaderboard.csv`): per column its header, display unit and scale, number format, which
direction is better, whether it counts in the mean rank, its column group and its description. The ranking
rule itself is `egraffbench.report.ranking`. Pure data and number formatting: no plotting, no console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

Section = Literal["test_errors", "scores", "training", "md"]
Group = Literal["accuracy and structure", "violation and stability", "dynamics", "cost"]


class StoredMetric(NamedTuple):
    """A number the store keeps per job and per summary: its name, the results section it is read from, and
    its unit in the store (SI-like: eV, Å, fs, ps, s)."""

    section: Section
    key: str
    unit: str


STORED: tuple[StoredMetric, ...] = (
    StoredMetric("test_errors", "energy_mae", "eV"),
    StoredMetric("test_errors", "energy_rmse", "eV"),
    StoredMetric("test_errors", "energy_mae_per_atom", "eV/atom"),
    StoredMetric("test_errors", "energy_rmse_per_atom", "eV/atom"),
    StoredMetric("test_errors", "force_mae", "eV/Å"),
    StoredMetric("test_errors", "force_rmse", "eV/Å"),
    StoredMetric("scores", "wf_percent", "%"),
    StoredMetric("scores", "jsd", ""),
    StoredMetric("scores", "ev", ""),
    StoredMetric("scores", "fv", ""),
    StoredMetric("scores", "ev_absolute", ""),
    StoredMetric("scores", "fidelity_time_fs", "fs"),
    StoredMetric("scores", "rollout_energy_mae_per_atom", "eV/atom"),
    StoredMetric("scores", "rollout_force_mae", "eV/Å"),
    StoredMetric("scores", "stable_fraction", ""),
    StoredMetric("scores", "median_time_to_failure_ps", "ps"),
    StoredMetric("scores", "nve_drift", "eV/atom/ps"),
    StoredMetric("scores", "vdos_error", ""),
    StoredMetric("scores", "adf_error", ""),
    StoredMetric("scores", "diffusivity_error", "Å²/ps"),
    StoredMetric("training", "training_seconds", "s"),
    StoredMetric("training", "epochs", ""),
    StoredMetric("training", "parameters", ""),
    StoredMetric("md", "steps_per_s", "1/s"),
    StoredMetric("md", "us_per_atom_step", "µs"),
    StoredMetric("md", "live_steps_per_s", "1/s"),  # derived by runner.md_speed from the stored records
    StoredMetric("md", "us_per_live_atom_step", "µs"),
)


@dataclass(frozen=True)
class Column:
    """A leaderboard column: stored metric `key`, short `header`, display `unit` (`scale` × store unit),
    which direction is `better`, whether it counts in the mean rank (quality metrics do; speed and
    training time are costs: ranked, not averaged), its `group` (the console prints one table per group
    when the whole table does not fit), its `description`, its number format: `digits` significant
    digits, or a fixed number of `decimals`; and whether it is a `diagnostic`: shown and ranked, but no
    finding names its best model (the batch's MD speed as it ran, which favours unstable models)."""

    key: str
    header: str
    unit: str
    scale: float
    better: Literal["lower", "higher"]
    in_mean_rank: bool
    group: Group
    description: str
    digits: int = 3
    decimals: int | None = None
    diagnostic: bool = False

    @property
    def arrow(self) -> str:
        """↓ when lower is better, ↑ when higher is."""
        return "↓" if self.better == "lower" else "↑"


_ACCURACY: Group = "accuracy and structure"
_STABILITY: Group = "violation and stability"
_DYNAMICS: Group = "dynamics"
_COST: Group = "cost"

COLUMNS: tuple[Column, ...] = (
    Column(
        "energy_mae_per_atom",
        "E MAE",
        "meV/atom",
        1000.0,
        "lower",
        True,
        _ACCURACY,
        "energy mean absolute error per atom on the test split",
    ),
    Column(
        "force_mae",
        "F MAE",
        "meV/Å",
        1000.0,
        "lower",
        True,
        _ACCURACY,
        "force mean absolute error per Cartesian component on the test split",
    ),
    Column(
        "wf_percent",
        "WF",
        "%",
        1.0,
        "lower",
        True,
        _ACCURACY,
        "Wright's factor of the MD structure function against the reference (0 = identical)",
    ),
    Column(
        "jsd",
        "JSD",
        "",
        1.0,
        "lower",
        True,
        _ACCURACY,
        "Jensen–Shannon divergence of the MD structure function from the reference (0 … ln 2)",
    ),
    Column(
        "ev",
        "EV",
        "",
        1.0,
        "lower",
        True,
        _STABILITY,
        "energy violation, energies relative to the training E0 (0 … 1, geometric mean; reference "
        "trajectories: over the replay horizon)",
    ),
    Column(
        "fv",
        "FV",
        "",
        1.0,
        "lower",
        True,
        _STABILITY,
        "force violation (0 … 1, geometric mean; reference trajectories: over the replay horizon)",
    ),
    Column(
        "fidelity_time_fs",
        "fidelity",
        "fs",
        1.0,
        "higher",
        True,
        _STABILITY,
        "trajectory fidelity time: mean time until a replay's FV first exceeds 0.1, censored at the horizon",
    ),
    Column(
        "stable_fraction",
        "stable",
        "",
        1.0,
        "higher",
        True,
        _STABILITY,
        "fraction of MD replicas that never failed a stability check",
        decimals=2,
    ),
    Column(
        "median_time_to_failure_ps",
        "median TTF",
        "ps",
        1.0,
        "higher",
        True,
        _STABILITY,
        "median time to failure from the Kaplan–Meier curve (the run length if most replicas survived)",
    ),
    Column(
        "nve_drift",
        "NVE drift",
        "meV/atom/ps",
        1000.0,
        "lower",
        True,
        _DYNAMICS,
        "|slope| of the total energy per atom against time in NVE MD (energy conservation)",
    ),
    Column(
        "vdos_error",
        "VDOS error",
        "",
        1.0,
        "lower",
        True,
        _DYNAMICS,
        "total variation distance of the vibrational density of states from the reference's (0 … 1)",
    ),
    Column(
        "adf_error",
        "ADF error",
        "",
        1.0,
        "lower",
        True,
        _DYNAMICS,
        "total variation distance of the bond-angle distribution from the reference's (0 … 1)",
    ),
    Column(
        "diffusivity_error",
        "D error",
        "Å²/ps",
        1.0,
        "lower",
        True,
        _DYNAMICS,
        "|D_model − D_ref| of the most mobile element, stable replicas only",
    ),
    Column(
        "live_steps_per_s",
        "MD speed",
        "steps/s",
        1.0,
        "higher",
        False,
        _COST,
        "MD steps per second of wall time for the whole batch, counting only the atom-steps of replicas "
        "still running (a replica that fails leaves the batch, which must not make the model look faster)",
    ),
    Column(
        "us_per_live_atom_step",
        "MD cost",
        "µs/atom/step",
        1.0,
        "lower",
        False,
        _COST,
        "wall time per atom per MD step of the replicas still running, µs",
    ),
    Column(
        "steps_per_s",
        "batch speed",
        "steps/s",
        1.0,
        "higher",
        False,
        _COST,
        "MD steps per second of wall time for the batch as it ran (faster once replicas fail and leave it)",
        diagnostic=True,
    ),
    Column(
        "us_per_atom_step",
        "batch cost",
        "µs/atom/step",
        1.0,
        "lower",
        False,
        _COST,
        "wall time per MD step of the batch as it ran, over all of its atoms, µs (lower once replicas fail)",
        diagnostic=True,
    ),
    Column("training_seconds", "training", "s", 1.0, "lower", False, _COST, "wall time of training, s"),
)
COLUMN_BY_KEY = {column.key: column for column in COLUMNS}
GROUPS: tuple[Group, ...] = (_ACCURACY, _STABILITY, _DYNAMICS, _COST)

PRETRAINED_NOTE = (
    "pretrained: trained outside egraffbench, not under the benchmark's training protocol; its training data "
    "(which may hold the test frames) is unknown"
)


def format_number(value: float | None, column: Column, digits: int | None = None) -> str:
    """A stored value in the column's display unit, to ``digits`` (default: the column's) significant digits
    or the column's fixed decimals; "n/a" for None."""
    if value is None:
        return "n/a"
    scaled = value * column.scale
    if column.decimals is not None:
        return f"{scaled:.{column.decimals}f}"
    digits = digits or column.digits
    if abs(float(f"{scaled:.{digits}g}")) >= 10**digits:  # 999.6 rounds to 1000: "1000", not "1.00e+03"
        return f"{scaled:.0f}"
    return f"{scaled:#.{digits}g}".rstrip(".")  # '#' keeps trailing zeros: 0.700, 11.0


def format_interval(value: float | None, low: float | None, high: float | None, column: Column) -> str | None:
    """ "[low, high]" with as many decimals as the shown value (so they read against it), or None when there
    is no interval or it has zero width (e.g. one seed)."""
    if value is None or low is None or high is None or low == high:
        return None
    shown = format_number(value, column)
    if "e" in shown:
        low_text, high_text = (format_number(v, column, 2) for v in (low, high))
    else:
        decimals = len(shown.split(".")[1]) if "." in shown else 0
        low_text, high_text = (f"{v * column.scale:.{decimals}f}" for v in (low, high))
    return f"[{low_text}, {high_text}]"
