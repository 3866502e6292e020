"""Layouts: grids of heatmaps for a view (layer averages, per-head pages), and saving them.

A layout returns `matplotlib.figure.Figure` objects that no pyplot state knows about, so nothing
is left open; `save_pdf` writes them deterministically (no creation date, Type 42 fonts).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from attnviz.atomic import atomic_path
from attnviz.config import LAYOUTS, PlotConfig
from attnviz.plot.heatmap import heatmap
from attnviz.views import ViewData


def panel_grid(n_panels: int, data: ViewData, style: PlotConfig, title: str):
    """A figure with `n_panels` heatmap axes in rows of `style.num_figs_per_row`.

    Margins are computed in inches from the longest token label, so the layout costs nothing
    at draw time; only the outer panels carry token labels (all panels share the tokens).
    """
    cols = max(1, min(style.num_figs_per_row, n_panels))
    rows = math.ceil(n_panels / cols)
    side, pt = style.panel_inches, style.font_size / 72  # inches
    longest = max(len(t) for t in [*data.row_tokens, *data.col_tokens, "0"])
    labels = min(2.0, 0.15 + 0.62 * pt * longest)  # room for the rotated token labels
    gap_x, gap_y, top = 0.75, 0.35 + 1.6 * pt, 0.45 + 2 * pt  # colorbar, panel title, suptitle
    width = labels + cols * side + (cols - 1) * gap_x + 0.75
    height = top + rows * side + (rows - 1) * gap_y + labels
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(
        rows,
        cols,
        squeeze=False,
        gridspec_kw=dict(
            left=labels / width,
            right=1 - 0.75 / width,
            bottom=labels / height,
            top=1 - top / height,
            wspace=gap_x / side,
            hspace=gap_y / side,
        ),
    ).ravel()
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    for i, ax in enumerate(axes[:n_panels]):
        ax.tick_params(labelbottom=i + cols >= n_panels, labelleft=i % cols == 0)
    fig.suptitle(title, fontsize=style.font_size + 4, y=1 - 0.15 / height, va="top")
    return fig, list(axes[:n_panels])


def _draw(ax, matrix, data: ViewData, style: PlotConfig, title: str):
    return heatmap(
        matrix,
        data.row_tokens,
        data.col_tokens,
        ax,
        causal=data.causal,
        cmap=style.cmap,
        gamma=style.gamma,
        max_labels=style.max_labels,
        font_size=style.font_size,
        title=title,
    )


def layer_average_figure(data: ViewData, style: PlotConfig, title: str) -> Figure:
    """One panel per layer, each the mean over that layer's heads."""
    layers = data.attention.shape[0]
    fig, axes = panel_grid(layers, data, style, f"{title}: mean over heads")
    for i, ax in enumerate(axes):
        _draw(ax, data.attention[i].mean(axis=0), data, style, f"layer {data.layers[i]}")
    return fig


def head_figures(data: ViewData, style: PlotConfig, title: str) -> Iterator[Figure]:
    """One page per layer, one panel per head."""
    layers, heads = data.attention.shape[:2]  # (layers, heads, q, k)
    for i, layer in enumerate(data.layers[:layers]):
        fig, axes = panel_grid(heads, data, style, f"{title}: layer {layer}")
        for j, ax in enumerate(axes):
            _draw(ax, data.attention[i, j], data, style, f"layer {layer}, head {data.heads[j]}")
        yield fig


def layout_figures(layout: str, data: ViewData, style: PlotConfig, title: str) -> list[Figure]:
    if layout == "layer_average":
        return [layer_average_figure(data, style, title)]
    if layout == "heads":
        return list(head_figures(data, style, title))
    raise ValueError(f"unknown layout '{layout}'; choose one of {', '.join(LAYOUTS)}")


def save_pdf(figures, path: str | os.PathLike, title: str | None = None) -> None:
    """Write figures as the pages of one PDF, atomically and byte-reproducibly."""
    metadata = {"Creator": "attnviz", "Producer": "attnviz", "CreationDate": None}
    if title:
        metadata["Title"] = title
    with matplotlib.rc_context({"pdf.fonttype": 42, "svg.hashsalt": "attnviz"}):
        with atomic_path(path) as tmp, PdfPages(tmp, metadata=metadata) as pdf:
            for fig in figures:
                pdf.savefig(fig)
