"""The head summary: one layers x heads map per head statistic, to see at a glance which heads
are focused, which park on a sink token, which look one token back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from attnviz.plot.heatmap import label_positions

PER_ROW = 4
FONT = 7.0


def head_summary_figure(
    stats: Mapping[str, np.ndarray],
    title: str,
    layers: Sequence[int] | None = None,
    heads: Sequence[str] | None = None,
) -> Figure:
    """A figure with one (layers, heads) heatmap per statistic of `stats` (name -> array, as
    `attnviz.head_stats` gives), each titled with its name and with its own colour bar, axes
    labelled with the model's layer indices (`layers`) and head labels (`heads`; default
    0, 1, ...). NaN cells are blank (a statistic that does not apply, e.g. generated_to_source
    of prompts that generated nothing) and the panel says so. A statistic with one value in
    every cell (sink_special of a model without special tokens) is drawn in grey, without a
    colour bar, its value in the panel title. The figure is not known to pyplot: nothing is
    left open."""
    n_layers, n_heads = next(iter(stats.values())).shape
    layers = list(range(n_layers)) if layers is None else list(layers)
    heads = [str(h) for h in (range(n_heads) if heads is None else heads)]
    cols = min(PER_ROW, len(stats))
    rows = math.ceil(len(stats) / cols)
    cell = 0.25  # inches per head column and layer row, within bounds below
    width = min(3.2, max(1.6, cell * n_heads))  # one panel, inches
    height = min(4.5, max(1.6, cell * n_layers))
    fig = Figure(figsize=(cols * (width + 1.2), rows * (height + 1.0) + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(stats) :]:
        ax.set_axis_off()
    colours = colormaps["viridis"].with_extremes(bad="white")
    grey = ListedColormap(["0.85"]).with_extremes(bad="white")
    for ax, (name, values) in zip(axes, stats.items(), strict=False):
        values = np.ma.masked_invalid(np.asarray(values, dtype=np.float64))  # (layers, heads)
        constant = values.count() > 0 and values.min() == values.max()
        cmap = grey if constant else colours
        image = ax.imshow(values, cmap=cmap, interpolation="nearest", aspect="auto")
        for axis, labels, inches in ((ax.xaxis, heads, width), (ax.yaxis, layers, height)):
            ticks = label_positions(len(labels), max(2, int(inches / (1.6 * FONT / 72))))
            axis.set_ticks(ticks, [str(labels[i]) for i in ticks], fontsize=FONT)
        ax.set_xlabel("Head", fontsize=FONT + 1)
        ax.set_ylabel("Layer", fontsize=FONT + 1)
        ax.tick_params(length=2, pad=1)
        blank = int(np.ma.getmaskarray(values).sum())
        if blank < values.size and not constant:
            bar = fig.colorbar(image, ax=ax, fraction=0.08, pad=0.02)
            bar.ax.tick_params(labelsize=FONT)
        notes = [f"constant: {values.min():.4g}"] if constant else []
        if blank:
            notes.append(
                "blank: " + ("no values" if blank == values.size else f"{blank} without a value")
            )
        ax.set_title("\n".join([name, *(f"({note})" for note in notes)]), fontsize=FONT + 2)
    fig.suptitle(title, fontsize=FONT + 4)
    return fig
