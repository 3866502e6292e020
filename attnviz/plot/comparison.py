"""Figures that compare models on one prompt (see `attnviz.compare`): the difference of two
models on a diverging map centred on 0, two models in one map with circles, the stability over
runs and the evolution over checkpoints. Figures are built without pyplot (nothing stays open).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure

from attnviz.catalogue import check_models
from attnviz.compare import Aligned, difference, symmetric_limit
from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.plot.heatmap import heatmap
from attnviz.plot.layouts import Panel, axis_titles, heatmap_options, panel_grid
from attnviz.plot.overlays import comparison_circles, evolution_sparklines, stability_circles

COMPARISON_INCHES = 5.5  # the side of a comparison's one panel, at least
DIFFERENCE_CMAP = "RdBu_r"  # diverging: blue where B is lower, white at 0, red where higher


def difference_heatmap(
    first: np.ndarray,
    second: np.ndarray,
    row_labels=None,
    col_labels=None,
    ax=None,
    *,
    cmap: str = DIFFERENCE_CMAP,
    **options,
) -> dict:
    """`second` - `first` (q, k each) on a diverging map centred on 0: linear, from -L to L
    with L the largest |difference|. Returns the image and L."""
    values = difference(np.stack([first, second]))  # (q, k)
    limit = symmetric_limit(values)
    options.update(gamma=1.0, vmin=-limit, vmax=limit)  # a power norm would move the centre
    image = heatmap(values, row_labels, col_labels, ax, cmap=cmap, **options)
    return {"image": image, "limit": limit}


def _panel_title(kind: str, names: Sequence[str]) -> str:
    if kind == "difference":
        return f"{names[1]} − {names[0]}"
    if kind == "circles":
        return f"cells: {names[0]}, circles: {names[1]} (radius: |difference|)"
    if kind == "stability":
        return f"mean of {len(names)} runs, circles: standard error"
    return f"mean of {len(names)} checkpoints, lines: {names[0]} → {names[-1]}"


def comparison_figure(
    kind: str,
    matrices: np.ndarray,
    labels: tuple[Sequence[str], Sequence[str]],
    model_names: Sequence[str],
    title: str,
    style: PlotConfig,
    *,
    special: tuple[Sequence[bool] | None, Sequence[bool] | None] = (None, None),
    causal: bool = False,
) -> Figure:
    """One figure comparing `matrices` (models, q, k) of `model_names` on shared `labels`
    (rows, columns), e.g. from `attnviz.compare.align`. `kind`: difference (2 models:
    B − A centred on 0), circles (2: cells A, circles B), stability (2 or more runs: mean and
    standard error) or evolution (2 or more checkpoints in training order: sparklines).
    `style` gives the font size, colour map (not for difference), gamma, labels and scale."""
    matrices = np.asarray(matrices, dtype=np.float32)  # (models, q, k)
    check_models(kind, len(matrices))
    if len(model_names) != len(matrices):
        raise AttnvizError(
            f"{len(matrices)} matrices but {len(model_names)} model names; give one name each"
        )
    rows, cols = list(labels[0]), list(labels[1])
    panel = Panel(matrices[0], _panel_title(kind, model_names), rows, cols, *special, causal=causal)
    # one panel, with room for the title and the models' names
    wide = replace(style, panel_inches=max(style.panel_inches, COMPARISON_INCHES))
    fig, [ax], _ = panel_grid([panel], wide, title, per_row=1)
    options = {**heatmap_options(panel, style), "colorbar": True}
    if kind == "difference":
        del options["cmap"]
        difference_heatmap(matrices[0], matrices[1], rows, cols, ax, **options)
    else:
        if style.scale == "fixed":
            options.update(vmin=style.vmin, vmax=style.vmax)
        if kind == "circles":
            comparison_circles(matrices[0], matrices[1], rows, cols, ax, **options)
        elif kind == "stability":
            stability_circles(matrices, rows, cols, ax, **options)
        else:
            evolution_sparklines(matrices, rows, cols, ax, **options)
    axis_titles(ax, style)
    return fig


def aligned_figure(kind: str, aligned: Aligned, title: str, style: PlotConfig) -> Figure:
    """`comparison_figure` of the models `attnviz.compare.align` lined up."""
    return comparison_figure(
        kind,
        aligned.matrices,
        aligned.labels,
        aligned.models,
        title,
        style,
        special=aligned.special,
        causal=aligned.causal,
    )
