"""The report's figures are written as PNG in one draw: the same bytes as matplotlib's ``savefig`` of the same
figure, whose constrained layout has run (tick labels and titles moved clear of their neighbours)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from egraffbench.report.plots import DPI, png_bytes


def _crowded_figure() -> Figure:
    """Two rows of panels with long tick labels and two-line titles: the layout must move them apart."""
    figure = Figure(figsize=(6.0, 4.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    rng = np.random.default_rng(7)
    for index, axes in enumerate(figure.subplots(2, 3).flat):
        values = rng.normal(scale=10.0 ** (index + 1), size=(2, 500))
        axes.scatter(*values, s=4, alpha=0.5, linewidths=0)
        axes.set_title(f"model {index}\nMAE {np.abs(values[0] - values[1]).mean():.3g}", fontsize=11)
        axes.set_xlabel("reference F (meV/Å)")
        axes.set_ylabel("predicted F (meV/Å)")
    return figure


def _saved(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def test_a_figure_drawn_once_is_the_png_savefig_writes() -> None:
    drawn, saved = png_bytes(_crowded_figure()), _saved(_crowded_figure())
    assert drawn == saved
    assert Image.open(io.BytesIO(drawn)).size == (600, 400)


def test_the_layout_engine_runs_in_the_one_draw() -> None:
    """Without its layout the same figure gives other pixels: the equality above is not that of two
    figures both drawn without it."""
    unlaid = _crowded_figure()
    unlaid.set_layout_engine("none")
    pngs = (png_bytes(_crowded_figure()), _saved(unlaid))
    pixels = [np.asarray(Image.open(io.BytesIO(png))) for png in pngs]
    assert pixels[0].shape == pixels[1].shape
    assert np.any(pixels[0] != pixels[1])
