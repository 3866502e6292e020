"""Layouts: the figures of a view (a panel per layer, per head, of chosen heads, or one layer
and head), and saving them.

A layout returns `matplotlib.figure.Figure` objects that no pyplot state knows about, so nothing
is left open; `save_figures` writes them deterministically (no dates, Type 42 fonts).
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from attnviz.atomic import atomic_path
from attnviz.catalogue import LAYOUTS
from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.matrices import ViewData
from attnviz.plot.fonts import reused_font_subsets
from attnviz.plot.panels import Panel, grid_figure, panels_of

RC = {"pdf.fonttype": 42, "svg.fonttype": "none", "svg.hashsalt": "attnviz"}


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
    matrix, i, j = data.pick(style.layer, style.head, "plot.", "the record")
    head = "mean over heads" if j < 0 else f"head {data.heads[j]}"
    return matrix, f"layer {data.layers[i]}, {head}", (i, j)


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
            with reused_font_subsets(), PdfPages(tmp, metadata=metadata) as pdf:
                for fig in figures:
                    pdf.savefig(fig)
        else:
            figures[0].savefig(tmp, format=suffix, metadata=metadata, dpi=dpi)
