"""The heatmap primitive every view draws with: one image per matrix, never one artist per cell."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, PowerNorm


def label_positions(n: int, max_labels: int) -> np.ndarray:
    """Every index up to `max_labels` tokens, then every k-th so at most `max_labels` remain."""
    step = max(1, math.ceil(n / max(1, max_labels)))
    return np.arange(0, n, step)


def heatmap(
    matrix: np.ndarray,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax=None,
    *,
    causal: bool = False,
    cmap: str = "viridis",
    gamma: float = 1.0,
    vmin: float | None = None,
    vmax: float | None = None,
    max_labels: int = 40,
    font_size: float = 7.0,
    title: str | None = None,
    colorbar: bool = True,
):
    """Draw `matrix` (q, k) as an image on `ax` and return the AxesImage.

    `causal` blanks the upper triangle (cells the model cannot attend to) instead of drawing
    zeros; `gamma` != 1 uses a power norm; tick labels thin out above `max_labels` tokens.
    """
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(4, 4)).subplots()
    q, k = matrix.shape  # (q, k)
    data = (
        np.ma.masked_array(matrix, mask=np.triu(np.ones((q, k), bool), k=1 + k - q))
        if (causal)
        else matrix
    )
    lo = float(np.min(matrix)) if vmin is None else vmin
    hi = float(np.max(matrix)) if vmax is None else vmax
    hi = hi if hi > lo else lo + 1e-9
    norm = Normalize(lo, hi) if gamma == 1.0 else PowerNorm(gamma, vmin=lo, vmax=hi)
    image = ax.imshow(
        data,
        cmap=colormaps[cmap].with_extremes(bad="white"),
        norm=norm,
        interpolation="nearest",
        aspect="auto",
    )
    for axis, labels, n in ((ax.xaxis, col_labels, k), (ax.yaxis, row_labels, q)):
        ticks = label_positions(n, max_labels)
        axis.set_ticks(ticks)
        if labels is None:
            axis.set_ticklabels([str(i) for i in ticks], fontsize=font_size)
        else:
            axis.set_ticklabels([labels[i] for i in ticks], fontsize=font_size)
    ax.tick_params(axis="x", labelrotation=90, length=2, pad=1)
    ax.tick_params(axis="y", length=2, pad=1)
    if title:
        ax.set_title(title, fontsize=font_size + 2)
    if colorbar:
        bar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.02)
        bar.ax.tick_params(labelsize=font_size)
    return image
