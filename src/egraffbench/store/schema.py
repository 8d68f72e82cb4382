"""Typed, versioned records of what each stage of a job stores (its `result.json` and the job's `results`)
and of the artifacts the report draws (parity arrays, trivial baselines, structure curves, EV/FV series,
diffusivities). Every record carries ``schema_version``; :func:`read_record` turns stored JSON into a record
and says in one line what is wrong with a record it cannot read (docs/results.md).

Migrations: a record without ``schema_version`` was written before versioning and is read as version 1;
a score block of version 1 stored ``stable_fraction`` and ``median_time_to_failure_ps`` as bare numbers,
read as values without an interval.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from egraffbench.errors import EgraffbenchError


class SchemaError(EgraffbenchError):
    """A stored record that this version of egraffbench cannot read."""


class Stored(BaseModel):
    """Part of a stored record: unknown keys are ignored, NaN and infinities round-trip through JSON."""

    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants")


class Record(Stored):
    """A stored record: ``schema_version`` is the layout it was written in (:attr:`SCHEMA` is the one this
    code writes; older ones are migrated in ``migrate`` or refused)."""

    SCHEMA: ClassVar[int] = 1
    schema_version: int = 0

    @model_validator(mode="before")
    @classmethod
    def _versioned(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or not 1 <= version <= cls.SCHEMA:
            raise ValueError(
                f"schema version {version!r} of {cls.__name__}, this egraffbench reads 1 to {cls.SCHEMA}"
            )
        return {**cls.migrate(version, data), "schema_version": cls.SCHEMA}

    @classmethod
    def migrate(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` of layout ``version`` in this record's current layout (default: unchanged)."""
        return data


R = TypeVar("R", bound=BaseModel)


def _first_problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "record"
    return f"{where}: {problem['msg'].removeprefix('Value error, ')}"


def read_record(kind: type[R], data: Any, where: str) -> R:
    """``data`` (parsed JSON) as a ``kind`` record; SchemaError naming ``where`` and the first problem."""
    try:
        return kind.model_validate(data)
    except ValidationError as error:
        raise SchemaError(f"{where}: not a readable {kind.__name__} ({_first_problem(error)})") from None


def read_record_file(kind: type[R], path: Path) -> R:
    """The ``kind`` record stored as JSON in ``path``; SchemaError if it is missing or unreadable."""
    try:
        text = path.read_text()
    except OSError as error:
        raise SchemaError(f"{path}: cannot read {kind.__name__} ({error.strerror})") from None
    try:
        return kind.model_validate_json(text)
    except ValidationError as error:
        raise SchemaError(f"{path}: not a readable {kind.__name__} ({_first_problem(error)})") from None


# --- stage results ---------------------------------------------------------------------------------------


class StageCost(Stored):
    """What computing a stage cost (docs/performance.md): ``compute_seconds`` is the wall time of the attempt
    that finished it plus ``earlier_seconds``, the work of interrupted earlier attempts that a checkpoint
    carried over (training, MD); ``cpu_seconds``, torch threads and the 1-minute load average at its start
    and end are the finishing attempt's (a load above the threads says the figure was taken on a busy
    machine), ``earlier_cpu_seconds`` the CPU seconds the checkpoint carried: None where it carried none
    (checkpoints and results written before 2026-12-05). Results written before costs were recorded have
    none."""

    compute_seconds: float
    attempt_seconds: float
    earlier_seconds: float = 0.0
    cpu_seconds: float
    earlier_cpu_seconds: float | None = None
    torch_threads: int
    load_start: float
    load_end: float


class AttemptKernels(Stored):
    """The kernels one or more attempts at a resumable stage computed with (egraffbench.runner.machine)."""

    torch_kernels: str
    numpy_vector_units: list[str]
    blas_core: str | None = None  # numpy's OpenBLAS core type (machine.blas_core; absent before 2026-12-04)
    mkl_kernels: str | None = None  # machine.mkl_kernels; absent before 2026-12-04 13:00 UTC
    accelerator: str | None = None  # the GPU, for stages computed on one (machine.accelerator_name)


class TrainResult(Record):
    """The train stage (or what stands for it: a pretrained model, a reference potential)."""

    epochs: int | None = None
    best_epoch: int | None = None
    best_val_loss: float | None = None
    training_seconds: float | None = None
    stopped_because: str | None = None
    parameters: int | None = None
    train_frames: int | None = None  # frames trained on (the split subsampled to max_train_frames)
    val_frames: int | None = None  # frames validated on (max_val_frames)
    train_split_frames: int | None = None  # the training split's frames (absent in early results, whose
    val_split_frames: int | None = None  # train_frames / val_frames were these split sizes)
    pretrained: bool = False
    reference_potential: bool = False
    format: str | None = None
    source: str | None = None
    # the numerics version of the trained or pretrained architecture (runner.hashing.ARCHITECTURE_VERSIONS,
    # 1 where unlisted), part of its stage key; None for a reference potential and in job results written
    # before 2026-12-04 14:00 UTC (stage result files leave it out: the job sets it from the key)
    architecture_version: int | None = None
    cost: StageCost | None = None
    # the distinct kernels of the attempts that trained it, oldest first (runner.stage_cache; empty where
    # not trained here, and in records written before 2026-12-04)
    attempt_kernels: list[AttemptKernels] = Field(default_factory=list)


class Errors(Stored):
    """Energy (eV, eV/atom) and force (eV/Å, per component) errors on test frames."""

    energy_mae: float | None  # None: not finite (stored JSON has no NaN)
    energy_rmse: float | None
    energy_mae_per_atom: float | None
    energy_rmse_per_atom: float | None
    force_mae: float | None
    force_rmse: float | None


class StructureErrorSums(Stored):
    """Per test structure of one test system, in test-frame order: energy error predicted − reference (eV),
    atom count, and the sums of the absolute and squared force-component errors (eV/Å, eV²/Å²), each to 7
    significant digits: what the intervals of the test errors resample (docs/metrics.md)."""

    energy_error: list[float]
    atoms: list[int]
    force_abs_sum: list[float]
    force_sq_sum: list[float]

    @model_validator(mode="after")
    def _aligned(self) -> StructureErrorSums:
        lengths = {len(self.energy_error), len(self.atoms), len(self.force_abs_sum), len(self.force_sq_sum)}
        if len(lengths) != 1:
            raise ValueError("per-structure error lists differ in length")
        return self


class EvaluateResult(Errors, Record):
    """The evaluate stage: errors on all test frames pooled and per test system, and per test system the
    per-structure sums their intervals resample (absent in results of evaluate version 2 and earlier)."""

    frames: int
    systems: dict[str, Errors]
    structures: dict[str, StructureErrorSums] = Field(default_factory=dict)
    cost: StageCost | None = None


class ReplicaStart(Stored):
    """One MD replica of the simulate stage: its test system, start frame, temperature and atoms."""

    system: str
    frame: int
    temperature_K: float
    atoms: int | None = None  # absent in records written before 2026-12 (runner.md_speed copes)


class SimulateResult(Record):
    """The simulate stage: every replica of one batched MD run, its speed and protocol."""

    steps_per_s: float | None = None
    us_per_atom_step: float | None = None
    md_seconds: float | None = None  # MD wall time, carried over interruptions by the MD checkpoint
    resumed_from_step: int | None = None
    replicas: list[ReplicaStart]
    frames_per_replica: list[int] = Field(default_factory=list)  # absent in records of early versions
    atoms: int
    protocol: dict[str, Any]
    cost: StageCost | None = None
    adopted_from: str | None = None  # key of the run without bond relabelling this result carried over from
    attempt_kernels: list[AttemptKernels] = Field(default_factory=list)  # as TrainResult.attempt_kernels


class ReplayReplica(Stored):
    """One replay: its test system, start frame and where its velocities came from."""

    system: str
    frame: int
    velocities: str  # "data" or "central-difference"


class ReplaySystem(Stored):
    """The replays of one reference-mode test system, in one trajectory file of the stage folder."""

    file: str
    horizon_fs: float
    steps_per_s: float | None = None
    protocol: dict[str, Any]
    replicas: list[ReplayReplica]


class ReplayResult(Record):
    """The replay stage: reference mode's EV/FV replays per test system."""

    systems: dict[str, ReplaySystem]
    cost: StageCost | None = None
    adopted_from: str | None = None  # as SimulateResult.adopted_from
    attempt_kernels: list[AttemptKernels] = Field(default_factory=list)  # as TrainResult.attempt_kernels


class Interval(Stored):
    """A value with its 95 % interval (either end None where it has none)."""

    value: float | None
    low: float | None = None
    high: float | None = None


class Survival(Stored):
    """A Kaplan–Meier survival curve (time in ps) with its 95 % band."""

    time_ps: list[float]
    survival: list[float]
    low: list[float]
    high: list[float]


@dataclass
class ReplicaValues:
    """What one replica contributes to the scores (a pydantic dataclass: validated where a ScoreResult is
    read, plain attributes while the score stage fills it in)."""

    system: str
    failure_time_fs: float | None
    failure_reason: str | None
    wf_percent: float | None = None
    jsd: float | None = None
    compared_frames: int = 0  # frames with a reference energy and forces
    ev_log_sum: float | None = None  # Σ ln(1 + EV_t/ε) over compared frames (ε: VIOLATION_EPSILON)
    fv_log_sum: float | None = None
    energy_error_per_atom: float | None = None  # mean |Ê − E| / N along the rollout, eV/atom
    force_error: float | None = None  # mean |F̂ − F| over components along the rollout, eV/Å
    violation_reference: str | None = None  # "oracle" or "reference-trajectory"
    nve_drift: float | None = None  # |d(E_pot + E_kin)/dt| / N, eV/atom/ps (NVE runs)
    vdos_error: float | None = None  # total variation distance of the VDOS from the reference's
    adf_error: float | None = None  # total variation distance of the bond-angle distribution
    segment: str = "production"  # "production" (thermostatted MD) or "replay" (reference mode's EV/FV)
    ev_absolute_log_sum: float | None = None  # as ev_log_sum with absolute energies (paper-style EV)
    fidelity_time_fs: float | None = None  # replays: first time FV > FIDELITY_THRESHOLD, censored at horizon
    horizon_fs: float | None = None  # replays: the scoring horizon τ
    diffusivity_error: float | None = None  # |D − D_ref| (Å²/ps) of the most mobile element, stable replicas
    sensitivity: dict[str, dict[str, float | None]] | None = None  # WF/JSD per `metrics.sensitivity` variant


class ScoreBlock(Stored):
    """MD scores of a set of replicas (one job, one test system, or several seeds pooled)."""

    replicas: int
    stable_fraction: Interval | None = None  # Wilson interval
    median_time_to_failure_ps: Interval | None = None  # interval read off the Kaplan–Meier band
    median_time_to_failure_censored: bool | None = None
    failure_reasons: dict[str, int] = Field(default_factory=dict)
    survival: Survival | None = None
    wf_percent: Interval | None = None
    jsd: Interval | None = None
    nve_drift: Interval | None = None
    vdos_error: Interval | None = None
    adf_error: Interval | None = None
    nve_drift_reason: str | None = None
    vdos_error_reason: str | None = None
    adf_error_reason: str | None = None
    diffusivity_error: Interval | None = None
    fidelity_time_fs: Interval | None = None
    fidelity_threshold: float | None = None
    horizon_fs: float | None = None
    replays: int | None = None
    ev: Interval | None = None
    ev_absolute: Interval | None = None
    fv: Interval | None = None
    rollout_energy_mae_per_atom: Interval | None = None
    rollout_force_mae: Interval | None = None
    violation_reference: str | None = None
    violation_reason: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_numbers(cls, data: Any) -> Any:
        """Score layout 1 stored the stability scores as bare numbers: values without an interval."""
        if isinstance(data, dict):
            data = dict(data)
            for key in ("stable_fraction", "median_time_to_failure_ps"):
                if isinstance(data.get(key), int | float):
                    data[key] = {"value": data[key]}
        return data


class ScoreResult(ScoreBlock, Record):
    """The score stage: scores of all replicas pooled and per test system, and every replica's values."""

    SCHEMA: ClassVar[int] = 2
    run_length_fs: float
    stability_horizon_fs: float | None = None
    metric_groups: list[str]
    element_energies: dict[str, float] = Field(default_factory=dict)
    systems: dict[str, ScoreBlock]
    replica_values: list[ReplicaValues]
    cost: StageCost | None = None

    @property
    def horizon(self) -> float:
        """Where stability is censored (fs): the stability horizon, else the run length."""
        return self.stability_horizon_fs or self.run_length_fs


class FrameRange(Stored):
    """Which frames a test system is: frames ``start`` … ``stop`` − 1 of the data file(s) with content hash
    ``data`` (the same hash for every split of one file)."""

    data: str
    start: int = Field(ge=0)
    stop: int

    @model_validator(mode="after")
    def _ordered(self) -> FrameRange:
        if self.stop <= self.start:
            raise ValueError(f"test frames [{self.start}, {self.stop}) are empty")
        return self


class TaskCard(Record):
    """What the report says about a task: its kind and description, the data digest of each of its
    training sources (tasks whose training sources are the same, or a subset, share training data: an
    in-distribution/out-of-distribution pair), and which frames of which data each test system is, where
    the dataset registry tells (absent in records written before 2026-12-02)."""

    name: str
    kind: str
    description: str = ""
    train: list[str] = Field(default_factory=list)
    test_frames: dict[str, FrameRange] = Field(default_factory=dict)


class JobResults(Record):
    """A job's results as the store keeps them (`jobs.results`): one entry per stage that ran."""

    task: TaskCard | None = None
    training: TrainResult | None = None
    test_errors: EvaluateResult | None = None
    md: SimulateResult | None = None
    replay: ReplayResult | None = None
    scores: ScoreResult | None = None

    def stored(self) -> dict[str, Any]:
        """The JSON the store keeps (stages that did not run left out)."""
        return {key: value for key, value in self.model_dump(mode="json").items() if value is not None}


# --- report artifacts ------------------------------------------------------------------------------------


class Parity(Record):
    """Parity arrays of the evaluate stage: reference and predicted energies (eV/atom, relative to the
    composition energy of ``element_energies``) and force components (eV/Å) on ``frames`` test frames."""

    frames: int
    element_energies: dict[str, float]
    energy_reference: list[float]
    energy_predicted: list[float]
    force_reference: list[float]
    force_predicted: list[float]


class Baselines(Record):
    """Trivial baselines of a task: energy MAE per atom (eV/atom) of E = Σ_z n_z E0_z, force MAE (eV/Å,
    per component) of F = 0, and the fitted E0 (eV) per atomic number."""

    energy_mae_per_atom: float
    force_mae: float
    element_energies: dict[str, float]
    cost: StageCost | None = None

    def of(self, metric: str) -> float | None:
        """The baseline of a leaderboard metric (`energy_mae_per_atom` or `force_mae`), else None."""
        return {"energy_mae_per_atom": self.energy_mae_per_atom, "force_mae": self.force_mae}.get(metric)


class StructureCurve(Stored):
    """g(r) (``kind`` "rdf", periodic) or h(r) ("hr", Å⁻¹, molecules) of a test system on the scoring
    grid: of the reference frames and of this job's finite MD frames (None if it has none), with the number
    of frames each averages (seeds pool by the frame-weighted mean)."""

    system: str
    kind: str
    r_max: float
    r: list[float]
    reference: list[float]
    reference_frames: int
    model: list[float] | None
    model_frames: int


E0_RELATIVE = "E0-relative"  # ViolationTrace.energies of the table's EV (energies relative to the E0)


class ViolationTrace(Stored):
    """EV and FV of one replica at each compared frame (time since the replica's start, ps): the frames the
    table's EV/FV aggregate — a replay of reference-trajectory mode (``segment`` "replay") or a production
    replica against the oracle ("production"). ``energies`` "E0-relative": EV of energies relative to the
    training split's E0 (the table's); "absolute": the paper's EV of absolute energies, what score stages
    before version 7 stored for every production replica (series layout 1)."""

    system: str
    segment: str  # "replay" or "production"
    reference: str  # "oracle" or "reference-trajectory"
    energies: str  # "E0-relative" or "absolute"
    time_ps: list[float]
    ev: list[float]
    fv: list[float]


class Diffusivity(Stored):
    """D (Å²/ps) of the most mobile element of a test system: of its reference trajectory over
    ``window_fs`` and of each replica (None: it failed or had too few frames)."""

    system: str
    element: str
    reference: float
    window_fs: float
    replicas: list[float | None]


class ScoreSeries(Record):
    """What the score stage stores for the report's figures beside its result. Layout 1 (score stage before
    version 7) held a trace of every production replica, with EV of absolute energies: read as such."""

    SCHEMA: ClassVar[int] = 2
    structures: list[StructureCurve] = Field(default_factory=list)
    violations: list[ViolationTrace] = Field(default_factory=list)
    diffusion: list[Diffusivity] = Field(default_factory=list)

    @classmethod
    def migrate(cls, version: int, data: dict[str, Any]) -> dict[str, Any]:
        if version == 1:
            old = {"segment": "production", "energies": "absolute"}
            traces = [{**t, **old} if isinstance(t, dict) else t for t in data.get("violations", [])]
            data = {**data, "violations": traces}
        return data
