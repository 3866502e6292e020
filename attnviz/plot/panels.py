"""Panels: a grid of axes placed from computed inches (no layout engine), one heatmap per
panel with its highlight variant (top cells, regions), and one colour scale per panel, per
figure or fixed."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attnviz.analysis import Marks, causal_mask, panel_marks
from attnviz.config import PlotConfig
from attnviz.matrices import ViewData
from attnviz.plot.colourbar import ColourBar
from attnviz.plot.heatmap import colour_limits, contrasting_colours, heatmap


@dataclass
class Panel:
    """One heatmap to draw: a (q, k) matrix, its labels and its title."""

    matrix: np.ndarray
    title: str
    row_tokens: list[str]
    col_tokens: list[str]
    row_special: list[bool] | None
    col_special: list[bool] | None
    causal: bool
    top: list | None = None  # a long record's exact top cells: (row, col, score, label)
    wide_first: bool = False  # draw column 0 (a long record's first token) wider


def panels_of(data: ViewData, matrices: list[tuple]) -> list[Panel]:
    """A panel per (matrix, title) or (matrix, title, (stored layer, head or -1 for the
    mean)), the last with the exact top cells a long record holds for that head."""
    panels = []
    for matrix, title, *which in matrices:
        top = data.top[which[0][0]][which[0][1]] if which and data.top is not None else None
        panels.append(
            Panel(
                matrix,
                title,
                data.row_tokens,
                data.col_tokens,
                data.row_special,
                data.col_special,
                data.causal,
                top,
                data.head_mean is not None,
            )
        )
    return panels


def panel_grid(
    panels: list[Panel],
    style: PlotConfig,
    title: str,
    per_row: int | None = None,
    own_labels: bool = False,
):
    """A figure with one axes per panel in rows of `per_row`; margins in inches from the
    longest token label, so layout costs nothing at draw time. When every panel shows the same
    tokens at the same places (not `own_labels`) only the outer panels carry labels."""
    n = len(panels)
    cols = max(1, min(per_row or style.num_figs_per_row, n))
    rows = math.ceil(n / cols)
    side, pt = style.panel_inches, style.font_size / 72  # inches
    tokens = [t for p in panels for t in (*p.row_tokens, *p.col_tokens)]
    longest = max((len(t) for t in tokens), default=1)
    labels = min(2.0, 0.15 + 0.62 * pt * longest)  # room for the rotated token labels
    shared = not own_labels and all(
        p.row_tokens is panels[0].row_tokens and p.col_tokens is panels[0].col_tokens
        for p in panels
    )
    axis_titles = 1.8 * pt  # room for xlabel / ylabel
    labels += axis_titles if style.xlabel or style.ylabel else 0
    gap_x = 0.75 + (0 if shared else labels)
    gap_y = 0.35 + 1.6 * pt + (0 if shared else labels)
    top = 0.45 + 2 * pt
    right = 0.75 if style.scale == "panel" else 1.1  # a figure colorbar needs more room
    width = labels + cols * side + (cols - 1) * gap_x + right
    caption = 0.25  # inches at the bottom for the caption line
    height = top + rows * side + (rows - 1) * gap_y + labels + caption
    fig = Figure(figsize=(width, height))
    x0, y0 = labels / width, 1 - (top + side) / height  # the first panel's lower left corner
    step_x, step_y = (side + gap_x) / width, (side + gap_y) / height
    size = (side / width, side / height)
    corners = [(x0 + i % cols * step_x, y0 - i // cols * step_y) for i in range(n)]
    axes = [fig.add_axes((*corner, *size)) for corner in corners]  # no empty slots
    # (x, y) ticks and labels: with shared tokens, the bottom row's x and the left column's y
    ticks = [(not shared or i + cols >= n, not shared or i % cols == 0) for i in range(n)]
    fig.suptitle(title, fontsize=style.font_size + 4, y=1 - 0.15 / height, va="top")
    return fig, axes, ticks


def _visible(panel: Panel) -> np.ndarray:
    if panel.causal:
        return panel.matrix[~causal_mask(*panel.matrix.shape)]
    return panel.matrix.ravel()


def _scale(panels: list[Panel], style: PlotConfig) -> tuple[float | None, float | None]:
    if style.scale == "fixed":
        return style.vmin, style.vmax
    if style.scale == "figure":
        return colour_limits(np.concatenate([_visible(p) for p in panels]))
    return None, None


def _enlarged_edges(n: int, marked, factor: float) -> np.ndarray:
    sizes = np.ones(n)
    sizes[sorted(marked)] = factor
    return np.concatenate([[0.0], np.cumsum(sizes)]) - 0.5


def heatmap_options(panel: Panel, style: PlotConfig, vmin=None, vmax=None) -> dict:
    """The keyword arguments of `heatmap` that draw `panel` in `style`."""
    return dict(
        causal=panel.causal,
        cmap=style.cmap,
        gamma=style.gamma,
        vmin=vmin,
        vmax=vmax,
        max_labels=style.max_labels,
        font_size=style.font_size,
        title=panel.title,
        colorbar=style.scale == "panel",
        row_special=panel.row_special,
        col_special=panel.col_special,
    )


def marks_of(panel: Panel, style: PlotConfig, variant: str) -> Marks:
    """What `variant` highlights in `panel` (`attnviz.analysis.panel_marks`), before drawing."""
    return panel_marks(
        panel.matrix,
        panel.causal,
        variant,
        style.top_n,
        style.regions,
        style.auto_regions,
        panel.top,
    )


def draw_panel(
    ax, panel: Panel, style: PlotConfig, variant: str, vmin, vmax, marks: Marks, ticks=(True, True)
) -> dict:
    """Draw one panel with the `marks` of its highlight variant (`marks_of`), with (x, y)
    `ticks` or not; returns what was drawn: the image, the highlighted cells and the boxes
    (top, left, bottom, right)."""
    q, k = panel.matrix.shape
    options = heatmap_options(panel, style, vmin, vmax)
    options["ticks"] = ticks
    first = {0} if panel.wide_first else set()  # a long record's first token: drawn wider
    if panel.wide_first:  # 2 % of the width at least: a sink at every length
        options.update(col_edges=_enlarged_edges(k, first, max(1.0, 0.02 * k)))
    if variant == "top_cells":
        options.update(
            highlight=marks.cells,
            row_edges=_enlarged_edges(q, {r for r, _ in marks.cells}, style.enlarged_size),
            col_edges=_enlarged_edges(k, {c for _, c in marks.cells} | first, style.enlarged_size),
        )
    image = heatmap(panel.matrix, panel.row_tokens, panel.col_tokens, ax, **options)
    rows = options.get("row_edges", np.arange(q + 1) - 0.5)
    cols = options.get("col_edges", np.arange(k + 1) - 0.5)
    if variant == "top_cells" and max(q, k) <= style.score_threshold:
        for r, c in marks.cells:
            value = panel.matrix[r, c]
            ax.text(
                (cols[c] + cols[c + 1]) / 2,
                (rows[r] + rows[r + 1]) / 2,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=style.font_size - 1,
                color=str(contrasting_colours(image, value)),
            )
    if variant == "top_cells" and panel.top is not None:
        exact_scores(ax, panel.top[: style.top_n], style)
    boxes = draw_boxes(ax, marks.boxes, rows, cols, style)
    axis_titles(ax, style)
    return {"image": image, "cells": marks.cells, "boxes": boxes}


def exact_scores(ax, top: list, style: PlotConfig) -> None:
    """The exact scores of a long record's top cells, listed in the panel's corner."""
    lines = [f"{label[:40]}  {score:.3f}" for _, _, score, label in top]
    ax.text(
        0.98,
        0.02,
        "\n".join(lines),
        transform=ax.transAxes,
        ha="right",
        va="bottom",
        fontsize=style.font_size - 1,
        bbox=dict(boxstyle="round,pad=0.2", facecolor="white", alpha=0.8, linewidth=0),
    )


def axis_titles(ax, style: PlotConfig) -> None:
    if style.xlabel:
        ax.set_xlabel(style.xlabel, fontsize=style.font_size + 1, labelpad=2)
        ax.xaxis.set_visible(True)
    if style.ylabel:
        ax.set_ylabel(style.ylabel, fontsize=style.font_size + 1, labelpad=2)
        ax.yaxis.set_visible(True)


def draw_boxes(ax, boxes, row_edges, col_edges, style: PlotConfig) -> list[tuple]:
    """Outline each (top, left, bottom, right) box of cells; with `style.label_regions`,
    name them R1, R2, ... in their centres. Returns the boxes."""
    for number, (top, left, bottom, right) in enumerate(boxes, start=1):
        x, y = col_edges[left], row_edges[top]
        width, height = col_edges[right + 1] - x, row_edges[bottom + 1] - y
        ax.add_patch(
            Rectangle(
                (x, y),
                width,
                height,
                fill=False,
                edgecolor=style.region_color,
                linewidth=style.region_linewidth,
                alpha=style.region_alpha,
            )
        )
        if style.label_regions:
            ax.text(
                x + width / 2,
                y + height / 2,
                f"R{number}",
                ha="center",
                va="center",
                fontsize=style.font_size,
                fontweight="bold",
                color="white",
                bbox=dict(boxstyle="round,pad=0.2", facecolor=style.region_color, alpha=0.6),
            )
    return list(boxes)


def grid_figure(
    panels: list[Panel], style: PlotConfig, title: str, variant: str, per_row: int | None = None
) -> Figure:
    """Panels in a grid, one colour scale per panel, per figure or fixed (style.scale)."""
    marks = [marks_of(p, style, variant) for p in panels]  # found before drawing
    # top cells enlarge different rows in each panel: each panel labels its own
    fig, axes, ticks = panel_grid(panels, style, title, per_row, variant == "top_cells")
    vmin, vmax = _scale(panels, style)
    drawn = [
        draw_panel(ax, p, style, variant, vmin, vmax, m, shown)
        for ax, p, m, shown in zip(axes, panels, marks, ticks, strict=True)
    ]
    if style.scale != "panel":  # one colorbar for the figure, right of the grid
        boxes = [ax.get_position() for ax in axes]
        right = max(b.x1 for b in boxes) + 0.25 / fig.get_figwidth()
        bottom, top = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
        where = [right, bottom, 0.15 / fig.get_figwidth(), top - bottom]
        fig.add_artist(ColourBar(drawn[0]["image"], where, style.font_size))
    return fig
