"""The report's figures as PNG bytes (matplotlib's object API on the Agg canvas: no display, no global
pyplot state). Every model keeps one colour across all figures; the reference is black."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.ticker import FuncFormatter, MaxNLocator

from egraffbench.report.parity import Parity
from egraffbench.report.series import StructureCurves, ViolationSeries
from egraffbench.store.catalog import COLUMN_BY_KEY, format_number

DPI = 100
REFERENCE_COLOUR = "black"
LOG_FLOOR = 1e-10  # violations at or below this are drawn at it on log axes
_PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def model_colours(models: Sequence[str]) -> dict[str, str]:
    """One colour per model, in the given order (cycling after ten)."""
    return {model: _PALETTE[i % len(_PALETTE)] for i, model in enumerate(models)}


@dataclass(frozen=True)
class Margins:
    """A fixed layout in inches: the space around the panels and between them."""

    left: float
    right: float
    top: float
    bottom: float
    between_columns: float
    between_rows: float


def _figure(
    width: float, height: float, rows: int = 1, columns: int = 1, margins: Margins | None = None, **grid: Any
) -> tuple[Figure, Any]:
    """A figure and its grid of panels, laid out by matplotlib's constrained layout, or at fixed
    ``margins`` where a figure's labels are known to fit them: constrained layout measures every tick label
    and title twice before the drawing measures them again (about half of a 12-panel figure's time)."""
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if margins is None else None)
    FigureCanvasAgg(figure)
    if margins is not None:
        panels_width = width - margins.left - margins.right - (columns - 1) * margins.between_columns
        panels_height = height - margins.top - margins.bottom - (rows - 1) * margins.between_rows
        grid["gridspec_kw"] = dict(
            left=margins.left / width,
            right=1 - margins.right / width,
            top=1 - margins.top / height,
            bottom=margins.bottom / height,
            wspace=margins.between_columns * columns / panels_width,
            hspace=margins.between_rows * rows / panels_height,
        )
    return figure, figure.subplots(rows, columns, squeeze=False, **grid)


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG, drawn once. ``savefig`` would draw it twice (a draw without rendering to run the
    layout engine, then the rendering draw), and tick labels are re-measured in each draw; the canvas's own
    draw runs the layout and renders in one pass, to the same bytes (tests/test_report_figures.py)."""
    figure.canvas.draw()
    buffer = io.BytesIO()
    imsave(buffer, figure.canvas.buffer_rgba(), format="png", origin="upper", dpi=DPI)
    return buffer.getvalue()


def _plain_log_ticks(axis: Any) -> None:
    """Tick labels of a log axis as plain numbers (0.5, 2, 300) rather than powers of ten."""
    formatter = FuncFormatter(lambda value, _: f"{value:g}")
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(
        FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else "")
    )


def _tidy(axes: Axes, x: str, y: str, title: str | None = None) -> None:
    if axes.get_xscale() == "linear":
        axes.xaxis.set_major_locator(MaxNLocator(6))
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    if title:
        axes.set_title(title, fontsize=11)
    axes.grid(alpha=0.3)


GRID_COLUMNS = 4  # panels per row of the structure grid


def structure_grid_figure(structures: Sequence[StructureCurves], colours: Mapping[str, str]) -> bytes:
    """s(r) of each model over the reference, one panel per test system, GRID_COLUMNS panels a row."""
    rows = -(-len(structures) // GRID_COLUMNS)
    figure, axes = _figure(12, 2.5 * rows + 0.5, rows, GRID_COLUMNS)
    for panel, curves in zip(axes.flat, structures, strict=False):
        reference = curves.reference
        panel.plot(reference.r, reference.values, color=REFERENCE_COLOUR, lw=2, label="reference (test data)")
        for model, curve in curves.models.items():
            panel.plot(curve.r, curve.values, color=colours[model], lw=1.1, label=model)
        _tidy(panel, "r (Å)", "g(r)" if curves.kind == "rdf" else "h(r) (1/Å)", curves.system)
    for panel in axes.flat[len(structures) :]:
        panel.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside upper center", ncols=min(len(labels), 7), fontsize=9)
    return png_bytes(figure)


def structure_figure(curves: StructureCurves, colours: Mapping[str, str], system: str) -> bytes:
    """s(r) of each model over the reference (top) and the difference model − reference (bottom)."""
    figure, axes = _figure(10, 6.2, 2, 1, sharex=True, height_ratios=[2, 1])
    top, bottom = axes[0, 0], axes[1, 0]
    label = "g(r)" if curves.kind == "rdf" else "h(r) (1/Å)"
    reference = curves.reference
    top.plot(reference.r, reference.values, color=REFERENCE_COLOUR, lw=2.5, label="reference (test data)")
    for model, curve in curves.models.items():
        top.plot(curve.r, curve.values, color=colours[model], lw=1.3, label=model)
        bottom.plot(curve.r, curve.values - reference.values, color=colours[model], lw=1.3)
    bottom.axhline(0.0, color=REFERENCE_COLOUR, lw=1)
    name = "radial distribution function g(r)" if curves.kind == "rdf" else "distance histogram h(r)"
    _tidy(top, "", label, f"{system}: {name} of the MD frames vs the reference")
    _tidy(bottom, "r (Å)", "model − reference")
    top.legend(fontsize=9, ncols=2, loc="best")
    return png_bytes(figure)


def survival_figure(stability: Mapping[str, Mapping[str, Any]], colours: Mapping[str, str]) -> bytes:
    """Kaplan–Meier survival with its 95 % band per model, up to the run length."""
    figure, axes = _figure(10, 4.2)
    plot = axes[0, 0]
    run_length = max(s["run_length_ps"] for s in stability.values())
    for index, (model, scores) in enumerate(stability.items()):
        curve = scores["survival"]
        times = np.append(curve["time_ps"], run_length)
        survival = np.append(curve["survival"], curve["survival"][-1])
        low, high = np.append(curve["low"], curve["low"][-1]), np.append(curve["high"], curve["high"][-1])
        offset = 0.004 * index  # separates curves that coincide (e.g. all replicas stable)
        label = f"{model} ({scores['stable']}/{scores['replicas']} stable)"
        plot.step(times, survival - offset, where="post", color=colours[model], lw=1.8, label=label)
        plot.fill_between(times, low, high, step="post", color=colours[model], alpha=0.08)
    plot.set_xlim(0, run_length)
    plot.set_ylim(-0.03, 1.05)
    _tidy(
        plot,
        "simulated time (ps)",
        "fraction of replicas still stable",
        "Kaplan–Meier survival of MD replicas",
    )
    figure.legend(fontsize=9, loc="outside right upper")
    return png_bytes(figure)


def violation_figure(series: Mapping[str, ViolationSeries], colours: Mapping[str, str]) -> bytes:
    """EV (left) and FV (right) against time since the start of the replays (fs) or of the production MD
    (ps): geometric mean over replicas, band = min … max, log scale; the legend gives each model's EV and FV
    pooled over all frames, as the table shows them."""
    figure, axes = _figure(10, 4.0, 1, 2)
    replays = all(values.segment == "replay" for values in series.values())
    unit, scale = ("fs", 1.0) if replays else ("ps", 1e-3)
    where = "replays" if replays else "production MD"
    for column, (name, field) in enumerate((("energy violation EV", "ev"), ("force violation FV", "fv"))):
        plot = axes[0, column]
        for model, values in series.items():
            band = np.maximum(getattr(values, field), LOG_FLOOR)
            time = scale * values.time_fs
            shown = ", ".join(
                f"{key.upper()} {format_number(values.pooled(key), COLUMN_BY_KEY[key])}"
                for key in ("ev", "fv")
            )
            plot.plot(time, band[:, 0], color=colours[model], lw=1.5, label=f"{model} ({shown})")
            plot.fill_between(time, band[:, 1], band[:, 2], color=colours[model], alpha=0.15)
        plot.set_yscale("log")
        _tidy(
            plot,
            f"time since the start of each {'replay' if replays else 'replica'} ({unit})",
            f"{field.upper()} (0 = exact, 1 = worst)",
            f"{name} along the {where}",
        )
    figure.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=9, loc="outside lower center", ncols=3)
    return png_bytes(figure)


@dataclass(frozen=True)
class Point:
    """A model's position in a scatter plot, with 95 % intervals (None: no interval)."""

    x: float
    y: float
    x_interval: tuple[float, float] | None = None
    y_interval: tuple[float, float] | None = None


def _bar(value: float, interval: tuple[float, float] | None) -> list[list[float]] | None:
    """Matplotlib's [[below], [above]] error of ``value``; an interval that misses the value by rounding
    (or a percentile interval that does not hold the mean) gives a zero-length bar on that side."""
    if interval is None:
        return None
    return [[max(0.0, value - interval[0])], [max(0.0, interval[1] - value)]]


def _error_bars(plot: Axes, point: Point, colour: str) -> None:
    xerr, yerr = _bar(point.x, point.x_interval), _bar(point.y, point.y_interval)
    plot.errorbar(point.x, point.y, xerr=xerr, yerr=yerr, fmt="o", color=colour, ms=8, capsize=3, alpha=0.9)


def pareto_front(points: Mapping[str, Point]) -> list[str]:
    """Models not dominated in (x higher, y higher): nobody is at least as good on both and better on one;
    ordered by x."""
    front = [
        m
        for m, p in points.items()
        if not any(
            (q.x >= p.x and q.y >= p.y) and (q.x > p.x or q.y > p.y) for n, q in points.items() if n != m
        )
    ]
    return sorted(front, key=lambda m: points[m].x)


def _annotate(plot: Axes, points: Mapping[str, Point]) -> None:
    """Model names beside their points, moved down in steps where they would overlap a name already placed
    (call once the axis limits are final)."""
    plot.get_xlim(), plot.get_ylim()  # settles pending autoscaling, so that transData is final
    placed: list[tuple[float, float]] = []
    for model, point in sorted(points.items(), key=lambda item: (-item[1].y, item[1].x)):
        x, y = plot.transData.transform((point.x, point.y))  # pixels
        shift = 7.0  # points
        while any(abs(x - px) < 80 and abs(y + shift * DPI / 72 - py) < 14 for px, py in placed):
            shift -= 12.0
        placed.append((x, y + shift * DPI / 72))
        plot.annotate(model, (point.x, point.y), textcoords="offset points", xytext=(7, shift), fontsize=9)


def speed_stability_figure(points: Mapping[str, Point], colours: Mapping[str, str]) -> bytes:
    """MD speed (x, log) against fraction of stable replicas (y); the Pareto front dashed."""
    figure, axes = _figure(6.2, 4.6)
    plot = axes[0, 0]
    for model, point in points.items():
        _error_bars(plot, point, colours[model])
    front = pareto_front(points)
    xs, ys = [points[m].x for m in front], [points[m].y for m in front]
    plot.plot(xs, ys, "--", color="grey", lw=1.2)
    plot.scatter(xs, ys, s=260, facecolors="none", edgecolors="grey", lw=1.5, label="on the Pareto front")
    plot.set_xscale("log")
    _plain_log_ticks(plot.xaxis)
    plot.set_ylim(-0.05, 1.1)
    _annotate(plot, points)
    _tidy(
        plot,
        "MD speed (steps/s, log scale) →  faster",
        "fraction of replicas stable →  better",
        "Speed vs stability",
    )
    plot.legend(fontsize=8, loc="lower left")
    return png_bytes(figure)


def error_stability_figure(
    points: Mapping[str, Point], colours: Mapping[str, str], baseline: float | None
) -> bytes:
    """Test force MAE (x, meV/Å) against fraction of stable replicas (y); the zero-force baseline dashed."""
    figure, axes = _figure(6.2, 4.6)
    plot = axes[0, 0]
    for model, point in points.items():
        _error_bars(plot, point, colours[model])
    if baseline is not None:
        force = COLUMN_BY_KEY["force_mae"]  # the x axis: its unit, as the leaderboard prints it
        shown = format_number(baseline / force.scale, force)
        plot.axvline(
            baseline, color="grey", ls="--", lw=1.2, label=f"zero-force baseline ({shown} {force.unit})"
        )
        plot.legend(fontsize=8, loc="lower left")
    right = max(
        [p.x if p.x_interval is None else p.x_interval[1] for p in points.values()] + [baseline or 0.0]
    )
    plot.set_xlim(0, 1.15 * right)
    plot.set_ylim(-0.05, 1.1)
    _annotate(plot, points)
    _tidy(
        plot,
        "test force MAE (meV/Å) ←  better",
        "fraction of replicas stable →  better",
        "Does low force error mean stable MD?",
    )
    return png_bytes(figure)


def training_figure(
    logs: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    colours: Mapping[str, str],
    baselines: tuple[float, float] | None,
) -> bytes:
    """Validation force MAE (meV/Å) and energy MAE (meV/atom) per epoch, one line per seed; the trivial
    baselines (zero forces, composition energy; test split) as dashed lines; ``baselines`` in meV/Å and
    meV/atom."""
    figure, axes = _figure(10, 4.0, 1, 2)
    panels = (
        ("val_force_mae", "validation force MAE (meV/Å)"),
        ("val_energy_mae_per_atom", "validation energy MAE (meV/atom)"),
    )
    for column, (key, label) in enumerate(panels):
        plot = axes[0, column]
        for model, seeds in logs.items():
            for index, records in enumerate(seeds):
                epochs = [r["epoch"] for r in records]
                values = [1000.0 * r[key] for r in records]
                plot.plot(
                    epochs,
                    values,
                    "-o",
                    ms=3,
                    color=colours[model],
                    lw=1.4,
                    alpha=1.0 if index == 0 else 0.5,
                    label=model if index == 0 else None,
                )
        if baselines is not None:
            name = "zero-force baseline" if column == 0 else "per-element mean energy baseline"
            plot.axhline(baselines[column], color="grey", ls="--", lw=1.2)
            plot.annotate(
                name,
                (0.99, baselines[column]),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="bottom",
                fontsize=8,
                color="dimgrey",
            )
        plot.set_yscale("log")
        _plain_log_ticks(plot.yaxis)
        _tidy(plot, "epoch", label, label.split(" (")[0] + " during training")
        plot.xaxis.set_major_locator(MaxNLocator(6, integer=True))
    figure.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=9, loc="outside lower center", ncols=6)
    return png_bytes(figure)


# What constrained layout gives every published parity figure (a two-line title above, a tick label of up to
# five characters at 7 pt beside each panel and past the last one), and a little more.
PARITY_MARGINS = Margins(left=0.7, right=0.15, top=0.46, bottom=0.48, between_columns=0.62, between_rows=0.72)


def parity_figure(data: Mapping[str, Parity], colours: Mapping[str, str]) -> bytes:
    """Predicted vs reference energy (top row) and force components (bottom row), one column per model."""
    columns = max(1, len(data))
    figure, axes = _figure(max(4.0, 2.6 * columns), 5.6, 2, columns, PARITY_MARGINS)
    for column, (model, parity) in enumerate(data.items()):
        energy, force = COLUMN_BY_KEY["energy_mae_per_atom"], COLUMN_BY_KEY["force_mae"]
        pairs = (
            (parity.energy_reference, parity.energy_predicted, "E − E0", energy),
            (parity.force_reference, parity.force_predicted, "F", force),
        )
        for row, (reference, prediction, quantity, shown) in enumerate(pairs):
            truth, predicted, unit = reference * shown.scale, prediction * shown.scale, shown.unit
            plot = axes[row, column]
            finite = np.isfinite(predicted)
            low = float(min(truth.min(), predicted[finite].min(initial=truth.min())))
            high = float(max(truth.max(), predicted[finite].max(initial=truth.max())))
            plot.plot([low, high], [low, high], color="grey", lw=1)
            plot.scatter(truth, predicted, s=6 if row else 14, color=colours[model], alpha=0.5, linewidths=0)
            mae = float(np.mean(np.abs(prediction - reference)))  # stored unit
            plot.set_aspect("equal", adjustable="datalim")
            _tidy(
                plot,
                f"reference {quantity} ({unit})",
                f"predicted {quantity} ({unit})" if column == 0 else "",
                (f"{model}\n" if row == 0 else "") + f"MAE {format_number(mae, shown)} {unit}",
            )
            plot.tick_params(labelsize=7)
    return png_bytes(figure)
