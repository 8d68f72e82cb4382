"""Figures drawn in worker processes are byte for byte the figures drawn in this process."""

from __future__ import annotations

from functools import partial

from egraffbench.report import plots
from egraffbench.report.rendering import draw_all

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_parallel_drawing_gives_the_serial_bytes_in_order() -> None:
    colours = plots.model_colours(["a", "b", "c"])
    drawings = [
        partial(plots.speed_stability_figure, {m: plots.Point(10.0 * (i + 1), 0.5 + 0.2 * i)}, colours)
        for i, m in enumerate(("a", "b", "c"))
    ]
    serial = draw_all(drawings, workers=1)
    parallel = draw_all(drawings, workers=2)
    assert parallel == serial
    assert all(png.startswith(PNG_SIGNATURE) for png in serial)
    assert len(set(serial)) == 3  # three different figures, kept in their order
