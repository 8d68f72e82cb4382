"""The words a reader of the report sees besides the numbers: how to read it, figure titles and captions,
the leaderboard caption and the metric definitions. Placeholders in braces are filled by the report."""

from __future__ import annotations

from egraffbench.report import ranking

HOW_TO_READ = (
    "Each task has a leaderboard: one row per model, its metrics over all seeds with 95 % intervals, the "
    "best value per column in green, ranks, and every test error beside a trivial baseline that a model must "
    "beat to have learned anything. The figures below each table show where the numbers come from; each "
    "caption says how to read it. The findings are computed from the same numbers. Definitions are at the "
    "end."
)

FINDINGS_NOTE = (
    "Computed from this run's numbers, not written by hand. With few replicas, seeds or models they are "
    "indications, not conclusions."
)

LEADERBOARD = (
    "↓: lower is better, ↑: higher is better. Green: best value of the column among ranked models. Grey "
    "lines under a value: its 95 % interval, its rank, and for errors its ratio to the trivial baseline in "
    "the last row (red when the model is no better than that baseline). "
    + ranking.SUMMARY
    + " Hover over a column header for its definition."
)

STRUCTURE = (
    "Structure of {system}",
    "Top: {what}, averaged over the MD frames of each model (all replicas and seeds) and over the reference "
    "test frames (black). A model that reproduces the structure lies on the black curve; WF and JSD in the "
    "table measure the gap. Bottom: model minus reference.",
)
STRUCTURE_GRID = (
    "Structure of each test system",
    "One panel per test system ({count}): {what}, averaged over the MD frames of each model (all replicas "
    "and seeds) and over the reference test frames (black). A model that reproduces a system's structure "
    "lies on its black curve. WF and JSD in the table pool the systems; `egraffbench results --system NAME` "
    "gives them per system.",
)
WHAT_RDF = "g(r), the radial distribution function"
WHAT_HR = "h(r), the normalised histogram of all interatomic distances"

SURVIVAL = (
    "Stability: Kaplan–Meier survival",
    "Fraction of MD replicas (all seeds pooled) that have not yet failed a stability check, against "
    "simulated time; shaded: 95 % confidence band. A curve that stays at 1 to the end means no replica "
    "failed. Curves that coincide are drawn slightly apart so that each stays visible.",
)

VIOLATION = (
    "Energy and force violation frame by frame (the values behind the table)",
    "EV and FV of every frame the table's EV and FV aggregate: {what} Energies are relative to the "
    "per-element energies E0 fitted on the training split, as in the table. Line = geometric mean over the "
    "replicas of all seeds at that time, band = lowest to highest replica (log scale). The legend's EV and "
    "FV pool every frame of every replica by the shifted geometric mean, as the table does, so they are the "
    "table's values. 0 means the model's energy (forces) equal the reference; 1 is the worst.",
)
VIOLATION_REPLAY = (
    "the deterministic NVE replays of reference-trajectory mode, each started on a test frame with its "
    "velocities and compared with the reference frame at the same time since its start, over the scoring "
    "horizon. Rising curves: the replay leaves the reference trajectory."
)
VIOLATION_PRODUCTION = (
    "the production MD against the oracle evaluated on the frames the model itself generated, along the "
    "recorded run. Rising curves: the model drifts into configurations it does not describe."
)
VIOLATION_BOTH = "{replay} For the test systems with an oracle: {production}"
VIOLATION_STALE = (
    "EV/FV figure not drawn: the stored series of {models} hold the production MD's EV of absolute "
    "energies (score stage before version 7), not the numbers of the table. Run `{command}` again to "
    "re-score them (the score stage only: training, MD and replays stay cached unless the presets or "
    "package versions changed since)."
)

SPEED_STABILITY = (
    "Speed vs stability",
    "Each trained model's MD speed (steps/s counted over live replicas, log scale) against its fraction "
    "of stable replicas, bars = 95 % "
    "intervals. Up and right is better; the dashed line joins the Pareto front, the models that no other "
    "model beats on both. Reference potentials are left out.",
)

ERROR_STABILITY = (
    "Force error vs stability",
    "Test-split force MAE against the fraction of stable replicas, one point per trained model (bars = 95 % "
    "intervals). If low error meant stable MD, the points would run from top left to bottom right. Right of "
    "the dashed line a model is worse than predicting zero forces.",
)

TRAINING = (
    "Training curves",
    "Validation errors after each training epoch (log scale; one line per seed, the first seed solid). The "
    "dashed lines are the trivial baselines on the test split: a curve that never drops well below them "
    "means the model learned next to nothing.",
)

PARITY = (
    "Parity: predicted vs reference on the test split",
    "One column per model (its seed-{seed} model), on {frames} test frames spread evenly over the test "
    "split. Top: energy per atom relative to the composition energy Σ n_z E0_z fitted on the training split "
    "(the per-element baseline predicts 0 for every frame). Bottom: every force component. Points on the "
    "grey diagonal are exact. The MAE in each panel's title is over these frames only; the leaderboard's E "
    "and F MAE, over the whole test split, differ from it by that sampling.",
)

DIFFUSION_UNDEFINED = (
    "defined only for periodic test systems whose frames form one contiguous reference trajectory (and needs "
    "the task's data)"
)

DEFINITIONS: tuple[tuple[str, str], ...] = (
    (
        "E MAE, F MAE",
        "Mean absolute error on the test split: energy per atom (meV/atom) and every Cartesian force "
        "component (meV/Å).",
    ),
    (
        "Trivial baselines",
        "Zero forces (its F MAE is the mean |F| of the test split) and energy from composition alone, E = "
        "Σ_z n_z E0_z with per-element energies E0 fitted by least squares on the training split. '0.20 × "
        "baseline' under an error means the model's error is 20 % of the baseline's; near 1 means the model "
        "learned next to nothing.",
    ),
    (
        "WF (Wright's factor, %)",
        "100 · Σ(s − s_ref)² / Σ s_ref² between the structure function s(r) of the MD frames and that of the "
        "reference test frames: g(r) for periodic systems, the distance histogram h(r) for molecules. 0 = "
        "identical.",
    ),
    (
        "JSD",
        "Jensen–Shannon divergence between the same two structure functions normalised to probabilities; 0 = "
        "identical, ln 2 ≈ 0.69 = no overlap.",
    ),
    (
        "EV, FV",
        "Energy and force violation per MD frame, |Ê − E| / (|Ê| + |E|) and ‖F̂ − F‖ / (‖F̂‖ + ‖F‖), with "
        "energies relative to the per-element reference energies fitted on the training split, against the "
        "reference energy and forces of that frame; geometric mean over frames and replicas. 0 = exact, 1 = "
        "worst. With an oracle potential: the oracle on the model's own MD frames. With a reference "
        "trajectory (MD17): deterministic NVE replays that start on the reference trajectory (its positions "
        "and velocities) compared with the reference frame at the same time, over the dataset's scoring "
        "horizon.",
    ),
    (
        "Fidelity",
        "Trajectory fidelity time (fs): per replay, the first time its FV exceeds 0.1 (or it fails), "
        "censored at the scoring horizon; mean over replays and seeds. Only with a reference trajectory.",
    ),
    (
        "Stable, median TTF",
        "A replica fails at the first check where positions or energy are not finite, the temperature "
        "exceeds 5 × the target, two atoms come closer than 0.5 Å, a bond of a molecule stretches by more "
        "than 0.5 Å, or (periodic) the RDF drifts from the reference. 'stable' is the fraction of replicas "
        "that never failed (Wilson 95 % interval); median TTF is the median time to failure from the "
        "Kaplan–Meier curve, equal to the run length when most replicas survived (interval from the curve's "
        "confidence band).",
    ),
    (
        "NVE drift",
        "|slope| of the total energy per atom (potential + kinetic) against time, meV/atom/ps, fitted by "
        "least squares over each replica's frames up to its failure; only for tasks whose MD is NVE. 0 = "
        "energy conserved.",
    ),
    (
        "VDOS error, ADF error",
        "Total variation distance ½∫|p − p_ref| between the vibrational density of states (from the velocity "
        "autocorrelation, for a contiguous reference trajectory) or the bond-angle distribution (neighbours "
        "within 1.2 × the largest sum of covalent radii) of the MD and of the reference frames; 0 = "
        "identical, 1 = no overlap.",
    ),
    (
        "D error",
        "|D_model − D_ref| of the diffusion coefficient (Å²/ps, MSD slope / 6) of the most mobile element, "
        "over the stable replicas, for periodic systems with a contiguous reference trajectory.",
    ),
    (
        "MD speed, MD cost",
        "MD steps per second of wall time for the batch of all replicas, and wall time per atom per step "
        "(µs), counting only the atom-steps of replicas still running: a failed replica leaves the batch, "
        "which makes the later steps cheaper (batch speed and batch cost are the speed as it ran, which "
        "favours unstable models). All four depend on the machine and its load.",
    ),
    (
        "Intervals",
        "[low, high] under a value is its 95 % interval: bootstrap over replicas and seeds for MD scores "
        "(percentile; BCa for NVE drift, VDOS and ADF error); over seeds and test structures for test "
        "errors (two-stage bootstrap, consecutive test frames in blocks: with one seed it covers the test "
        "structures only; results of "
        "evaluate version 2 or earlier: over seeds); over seeds for speed and training time (zero width "
        "with one seed).",
    ),
    (
        "Rank, mean rank, place",
        ranking.RULE + " Reference potentials are shown in italics.",
    ),
)
