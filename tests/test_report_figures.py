"""The report's figures are written as PNG in one draw: the same bytes as matplotlib's ``savefig`` of the same
figure, whose constrained layout has run (tick labels and titles moved clear of their neighbours); the parity
grid's fixed margins keep its texts on the page and clear of each other."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from egraffbench.report import plots
from egraffbench.report.parity import Parity
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


def _drawn_texts(axes: Axes) -> list[Text]:
    """The title, axis labels and tick labels inside the axes' limits: the texts a draw puts on the page."""
    x_low, x_high = sorted(axes.get_xlim())
    y_low, y_high = sorted(axes.get_ylim())
    ticks = [label for label in axes.get_xticklabels() if x_low <= label.get_position()[0] <= x_high]
    ticks += [label for label in axes.get_yticklabels() if y_low <= label.get_position()[1] <= y_high]
    texts = [axes.title, axes.xaxis.label, axes.yaxis.label, *ticks]
    return [text for text in texts if text.get_visible() and text.get_text()]


def _wide_parity(models: int) -> dict[str, Parity]:
    """Parity data whose tick labels are as wide as published ones get (five characters: −8000 meV/Å)."""
    rng = np.random.default_rng(3)
    energy = rng.uniform(-2.9, 2.9, 50)  # eV/atom: ticks at −2000 … 2000 meV/atom
    force = rng.uniform(-9.0, 9.0, 1000)
    return {
        f"torchmdnet-{i}": Parity(
            energy, energy + rng.normal(0, 0.1, 50), force, force + rng.normal(0, 0.5, 1000)
        )
        for i in range(models)
    }


@pytest.mark.parametrize("models", [1, 3, 6])
def test_the_parity_figures_fixed_layout_keeps_every_text_on_the_page_and_off_its_neighbours(
    models: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parity grid is laid out at fixed margins (`plots.PARITY_MARGINS`), not measured: with the widest
    labels the published figures have, no title, axis or tick label leaves the figure or touches another
    panel or another panel's texts."""
    drawn: list[Figure] = []
    monkeypatch.setattr(plots, "png_bytes", drawn.append)
    data = _wide_parity(models)
    plots.parity_figure(data, plots.model_colours(list(data)))
    (figure,) = drawn
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    page = figure.bbox
    for axes in figure.axes:
        others = [other for other in figure.axes if other is not axes]
        for text in _drawn_texts(axes):
            extent = text.get_window_extent(renderer)
            assert page.x0 <= extent.x0 and extent.x1 <= page.x1, text.get_text()
            assert page.y0 <= extent.y0 and extent.y1 <= page.y1, text.get_text()
            for other in others:
                assert not extent.overlaps(other.bbox), (text.get_text(), "on a neighbouring panel")
                for neighbour in _drawn_texts(other):
                    assert not extent.overlaps(neighbour.get_window_extent(renderer)), (
                        text.get_text(),
                        neighbour.get_text(),
                    )


def test_the_parity_titles_give_the_mae_as_the_leaderboard_prints_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each panel's MAE has three significant digits, trailing zeros kept (an 11.0 meV/atom error reads
    "11.0", not "11"), and is that of the points drawn, in the panel's unit."""
    drawn: list[Figure] = []
    monkeypatch.setattr(plots, "png_bytes", drawn.append)
    energy, force = np.array([0.0, 1.0]), np.array([0.0, 1.0, -1.0, 2.0])
    energy_error, force_error = np.array([0.011, -0.011]), np.array([0.2, -0.2, 0.2, -0.2])
    data = {"mace": Parity(energy, energy + energy_error, force, force + force_error)}
    plots.parity_figure(data, plots.model_colours(list(data)))
    (figure,) = drawn
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["mace\nMAE 11.0 meV/atom", "MAE 200 meV/Å"]
