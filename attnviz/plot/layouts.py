"""Layouts: grids of heatmaps for a view, highlight variants, and saving them.

A layout returns `matplotlib.figure.Figure` objects that no pyplot state knows about, so nothing
is left open; `save_figures` writes them deterministically (no dates, Type 42 fonts).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from attnviz.analysis import check_regions, find_regions, top_cells
from attnviz.atomic import atomic_path
from attnviz.catalogue import LAYOUTS
from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.matrices import ViewData
from attnviz.plot.heatmap import causal_mask, colour_limits, contrasting_colours, heatmap

RC = {"pdf.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "attnviz"}


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
    grid = fig.add_gridspec(
        rows,
        cols,
        left=labels / width,
        right=1 - right / width,
        bottom=(labels + caption) / height,
        top=1 - top / height,
        wspace=gap_x / side,
        hspace=gap_y / side,
    )
    axes = [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]  # no empty slots
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


def draw_panel(
    ax, panel: Panel, style: PlotConfig, variant: str, vmin, vmax, ticks=(True, True)
) -> dict:
    """Draw one panel with its highlight variant, with (x, y) `ticks` or not; returns what
    was drawn: the image, the highlighted cells and the boxes (top, left, bottom, right)."""
    q, k = panel.matrix.shape
    masked = causal_mask(q, k) if panel.causal else None
    drawn = {"cells": [], "boxes": []}
    options = heatmap_options(panel, style, vmin, vmax)
    options["ticks"] = ticks
    if panel.wide_first:  # the first token, a sink at every length: 2 % of the width at least
        options.update(col_edges=_enlarged_edges(k, {0}, max(1.0, 0.02 * k)))
    if variant == "top_cells":
        if panel.top is not None:  # a long record: its exact cells, in the blocks drawn
            cells = list(dict.fromkeys((r, c) for r, c, _, _ in panel.top[: style.top_n]))
        else:
            cells = top_cells(panel.matrix, style.top_n, masked)
        drawn["cells"] = cells
        options.update(
            highlight=cells,
            row_edges=_enlarged_edges(q, {r for r, _ in cells}, style.enlarged_size),
            col_edges=_enlarged_edges(
                k, {c for _, c in cells} | ({0} if panel.wide_first else set()), style.enlarged_size
            ),
        )
    drawn["image"] = image = heatmap(
        panel.matrix, panel.row_tokens, panel.col_tokens, ax, **options
    )
    rows = options.get("row_edges", np.arange(q + 1) - 0.5)
    cols = options.get("col_edges", np.arange(k + 1) - 0.5)
    if variant == "top_cells" and max(q, k) <= style.score_threshold:
        for r, c in drawn["cells"]:
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
    if variant in ("top_cells", "regions"):
        boxes = check_regions([tuple(r) for r in style.regions], (q, k))
        if variant == "regions":
            boxes += find_regions(panel.matrix, style.auto_regions, masked=masked)
        drawn["boxes"] = draw_boxes(ax, boxes, rows, cols, style)
    axis_titles(ax, style)
    return drawn


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
    if style.ylabel:
        ax.set_ylabel(style.ylabel, fontsize=style.font_size + 1, labelpad=2)


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
    # top cells enlarge different rows in each panel: each panel labels its own
    fig, axes, ticks = panel_grid(panels, style, title, per_row, variant == "top_cells")
    vmin, vmax = _scale(panels, style)
    drawn = [
        draw_panel(ax, p, style, variant, vmin, vmax, shown)
        for ax, p, shown in zip(axes, panels, ticks, strict=True)
    ]
    if style.scale != "panel":  # one colorbar for the figure, right of the grid
        boxes = [ax.get_position() for ax in axes]
        right = max(b.x1 for b in boxes) + 0.25 / fig.get_figwidth()
        bottom, top = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
        where = [right, bottom, 0.15 / fig.get_figwidth(), top - bottom]
        bar = fig.colorbar(drawn[0]["image"], cax=fig.add_axes(where, label="<colorbar>"))
        bar.ax.tick_params(labelsize=style.font_size)
    return fig


def layer_average_figures(data: ViewData, style: PlotConfig, title: str, variant: str):
    """One panel per layer, each the mean over that layer's heads."""
    matrices = [
        (data.mean_map(i), f"layer {layer}", (i, -1)) for i, layer in enumerate(data.layers)
    ]
    return [grid_figure(panels_of(data, matrices), style, f"{title}: mean over heads", variant)]


def head_figures(data: ViewData, style: PlotConfig, title: str, variant: str):
    """One page per layer, one panel per head."""
    for i, layer in enumerate(data.layers):
        matrices = [
            (data.attention[i, j], f"layer {layer}, head {head}", (i, j))
            for j, head in enumerate(data.heads)
        ]
        yield grid_figure(panels_of(data, matrices), style, f"{title}: layer {layer}", variant)


def chosen_head_figures(
    data: ViewData, chosen: list[tuple[int, int, str]], style: PlotConfig, title: str, variant: str
):
    """One page of chosen heads: (stored layer, stored head, why it was chosen) each."""
    matrices = [
        (data.attention[i, j], f"layer {data.layers[i]}, head {data.heads[j]}: {why}", (i, j))
        for i, j, why in chosen
    ]
    return [grid_figure(panels_of(data, matrices), style, title, variant)]


def _single_matrix(data: ViewData, style: PlotConfig) -> tuple[np.ndarray, str, tuple]:
    layers = len(data.layers)
    if not -layers <= style.layer < layers:
        raise AttnvizError(
            f"plot.layer is {style.layer} but the record holds {layers} layers; "
            f"choose -{layers}..{layers - 1}"
        )
    i = style.layer % layers
    if style.head is None or data.heads == ["mean"]:
        return data.mean_map(i), f"layer {data.layers[i]}, mean over heads", (i, -1)
    if style.head not in range(len(data.heads)):
        raise AttnvizError(
            f"plot.head is {style.head} but the record holds {len(data.heads)} heads; "
            f"choose 0..{len(data.heads) - 1} or null for the mean"
        )
    title = f"layer {data.layers[i]}, head {data.heads[style.head]}"
    return data.attention[i, style.head], title, (i, style.head)


def single_figures(
    data: ViewData, style: PlotConfig, title: str, variant: str, titles: list[str] | None = None
):
    """One (layer, head) panel; for question_context, IzzyViz's five panels. `titles` names
    the panels (one, or five) instead of the defaults."""
    matrix, label, which = _single_matrix(data, style)
    count = 1 if data.question_end is None else 5
    if titles is not None and len(titles) != count:
        raise AttnvizError(
            f"plot_titles has {len(titles)} titles but this figure has {count} panels; give {count}"
        )
    if data.question_end is None:
        panels = panels_of(data, [(matrix, titles[0] if titles else label, which)])
        return [grid_figure(panels, style, title, variant)]
    end, rows, cols = data.question_end, data.row_tokens, data.col_tokens
    q, c = slice(None, end), slice(end, None)

    def part(r: slice, k: slice, name: str) -> Panel:
        row_special = data.row_special[r] if data.row_special else None
        col_special = data.col_special[k] if data.col_special else None
        return Panel(matrix[r, k], name, rows[r], cols[k], row_special, col_special, False)

    panels = [
        Panel(matrix, "whole sequence", rows, cols, data.row_special, data.col_special, False),
        part(q, q, "question -> question"),
        part(c, c, "context -> context"),
        part(q, c, "question -> context"),  # rows: question tokens attending to the context
        part(c, q, "context -> question"),
    ]
    for panel, name in zip(panels, titles or [], strict=False):
        panel.title = name
    return [grid_figure(panels, style, f"{title}: {label}" if title else label, variant, per_row=3)]


def layout_figures(
    layout: str, data: ViewData, style: PlotConfig, title: str, variant: str = "plain"
) -> list[Figure]:
    if data.question_end is not None and layout != "single":
        raise AttnvizError(
            "question_context is drawn as five panels of one layer and head; use layout 'single'"
        )
    if layout == "layer_average":
        return layer_average_figures(data, style, title, variant)
    if layout == "heads":
        return list(head_figures(data, style, title, variant))
    if layout == "single":
        return single_figures(data, style, title, variant)
    raise AttnvizError(f"unknown layout '{layout}'; choose one of {', '.join(LAYOUTS)}")


def save_figures(
    figures, path: str | os.PathLike, title: str | None = None, dpi: int = 200, key=None
) -> None:
    """Write figures atomically and byte-reproducibly: every page of one PDF (its metadata
    stamped with `key`, what it was drawn from, if given), or one PNG/SVG."""
    suffix = os.path.splitext(str(path))[1].lower().lstrip(".")
    if suffix not in ("pdf", "png", "svg", "jpg"):
        raise AttnvizError(f"cannot write '{path}': use a .pdf, .png, .svg or .jpg file name")
    figures = list(figures)
    if suffix != "pdf" and len(figures) != 1:
        raise AttnvizError(
            f"{len(figures)} pages cannot go into one .{suffix} file; write a .pdf, or draw a "
            "one-page layout (layer_average or single)"
        )
    metadata = {
        "pdf": {"Creator": "attnviz", "Producer": "attnviz", "CreationDate": None},
        "svg": {"Date": None, "Creator": "attnviz"},
        "png": {"Software": "attnviz"},
        "jpg": None,
    }[suffix]
    if title and suffix == "pdf":
        metadata["Title"] = title
    if key and suffix == "pdf":
        metadata["Keywords"] = f"attnviz-key {key}"
    with matplotlib.rc_context(RC), atomic_path(path) as tmp:
        if suffix == "pdf":
            with PdfPages(tmp, metadata=metadata) as pdf:
                for fig in figures:
                    pdf.savefig(fig)
        else:
            figures[0].savefig(tmp, format=suffix, metadata=metadata, dpi=dpi)
