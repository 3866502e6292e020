"""Heatmaps with a second quantity drawn in every cell: circles for a comparison or a confidence
interval, sparklines for a series. Each overlay is one artist (a collection or an image), never
one artist per cell, so a 128 x 128 figure draws in well under a second.
"""

from __future__ import annotations

import numpy as np
from matplotlib.collections import EllipseCollection, PathCollection
from matplotlib.path import Path as MplPath

from attnviz.compare import run_spread
from attnviz.errors import AttnvizError
from attnviz.plot.heatmap import contrasting_colours, heatmap

SMALLEST_RADIUS = 0.01  # cells: circles smaller than this are not drawn (invisible anyway)


def _cell_centres(q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:q, 0:k]  # (q, k) each
    return rows.ravel().astype(float), cols.ravel().astype(float)


def _circles(ax, radius: np.ndarray, facecolors: np.ndarray) -> EllipseCollection:
    """One collection of circles centred on the cells, `radius` (q, k) in cell units,
    `facecolors` (q, k, 4)."""
    rows, cols = _cell_centres(*radius.shape)
    shown = radius.ravel() >= SMALLEST_RADIUS
    diameter = 2 * radius.ravel()[shown]
    circles = EllipseCollection(
        diameter,
        diameter,
        np.zeros_like(diameter),
        units="xy",
        offsets=np.column_stack([cols[shown], rows[shown]]),
        offset_transform=ax.transData,
        facecolors=facecolors.reshape(-1, 4)[shown],
        edgecolors="0.15",
        linewidths=0.3,
    )
    ax.add_collection(circles)
    return circles


def _shared_range(*arrays: np.ndarray) -> tuple[float, float]:
    lo = float(min(a.min() for a in arrays))
    hi = float(max(a.max() for a in arrays))
    return lo, hi if hi > lo else lo + 1e-9


def _default_range(options: dict, lo: float, hi: float) -> None:
    """The colour range the caller gave, else `lo`..`hi` (shared by cells and overlay)."""
    options["vmin"] = lo if options.get("vmin") is None else options["vmin"]
    options["vmax"] = hi if options.get("vmax") is None else options["vmax"]


def _check_square_stack(name: str, values: np.ndarray, dims: int) -> None:
    if values.ndim != dims:
        raise AttnvizError(f"{name} has shape {tuple(values.shape)}; give {dims} dimensions")
    if not np.isfinite(values).all():
        raise AttnvizError(f"{name} holds NaN or inf values; give finite attention scores")


def comparison_circles(
    first: np.ndarray,
    second: np.ndarray,
    row_labels=None,
    col_labels=None,
    ax=None,
    *,
    circle_scale: float = 1.0,
    max_circle_ratio: float = 0.45,
    **options,
) -> dict:
    """Cells coloured by `first` (q, k); in each a circle coloured by `second` on the same
    colour scale, its radius proportional to |first - second| (the largest difference gets
    `max_circle_ratio` x `circle_scale` of a cell). Returns the image and the circles."""
    first = np.asarray(first, dtype=np.float32)  # (q, k)
    second = np.asarray(second, dtype=np.float32)  # (q, k)
    _check_square_stack("attn1", first, 2)
    _check_square_stack("attn2", second, 2)
    if first.shape != second.shape:
        raise AttnvizError(
            f"attn2 has shape {second.shape} but attn1 has {first.shape}; compare two maps of "
            "the same tokens"
        )
    lo, hi = _shared_range(first, second)
    _default_range(options, lo, hi)
    image = heatmap(first, row_labels, col_labels, ax, **options)
    ax = image.axes
    difference = np.abs(first - second)
    radius = max_circle_ratio * circle_scale * difference / max(float(difference.max()), 1e-12)
    colours = image.cmap(image.norm(second))  # (q, k, 4)
    return {"image": image, "circles": _circles(ax, radius, colours)}


def stability_circles(
    runs: np.ndarray,
    row_labels=None,
    col_labels=None,
    ax=None,
    *,
    use_std_error: bool = True,
    contrast: float = 2.0,
    white_centre: bool = False,
    circle_scale: float = 1.0,
    max_circle_ratio: float = 0.45,
    pixels_per_cell: int = 100,
    **options,
) -> dict:
    """Cells coloured by the mean over `runs` (runs, q, k); in each a circle whose radius is
    proportional to the uncertainty u (`run_spread`), filled with a radial gradient from the
    colour of mean - contrast x u at the centre (white with `white_centre`) to that of
    mean + contrast x u at the rim. The gradients are one image of at most `pixels_per_cell`
    pixels a cell side (fewer for long inputs), outlines included.
    Returns the image, the gradient image and the (lower, upper) colour bounds."""
    runs = np.asarray(runs, dtype=np.float32)  # (runs, q, k)
    _check_square_stack("matrices", runs, 3)
    mean, spread = run_spread(runs, use_std_error)  # (q, k) each
    lower = mean - contrast * spread if not white_centre else None
    upper = mean + (contrast if not white_centre else 1.0) * spread
    lo, hi = _shared_range(mean, upper, mean if lower is None else lower)
    _default_range(options, lo, hi)
    image = heatmap(mean, row_labels, col_labels, ax, **options)
    ax = image.axes
    q, k = mean.shape
    radius = max_circle_ratio * circle_scale * spread / max(float(spread.max()), 1e-12)  # (q, k)
    s = int(np.clip(min(pixels_per_cell, 1536 // max(q, k)), 4, 64))
    offset = (np.arange(s) + 0.5) / s - 0.5  # pixel centres within a cell, in cell units
    distance = np.hypot(offset[:, None], offset[None, :])  # (s, s)
    fraction = distance / np.maximum(radius, 1e-12)[:, :, None, None]  # (q, k, s, s)
    inside = fraction <= 1
    fraction = np.minimum(fraction, 1)
    rim = image.cmap(image.norm(upper), bytes=True)[:, :, None, None, :]  # (q, k, 1, 1, 4)
    if white_centre:
        centre = np.full_like(rim, 255)
    else:
        centre = image.cmap(image.norm(lower), bytes=True)[:, :, None, None, :]
    rgba = centre + (rim.astype(np.float32) - centre) * fraction[..., None]  # (q, k, s, s, 4)
    rgba = rgba.astype(np.uint8)
    outline = max(1.0, s / 30)  # outline width in pixels: a thirtieth of a cell
    depth = (1 - fraction) * radius[:, :, None, None] * s  # pixels inside the circle's edge
    rgba[inside & (depth <= outline), :3] = 38  # a dark outline, part of the same image
    rgba[..., 3] = np.where(inside & (radius >= SMALLEST_RADIUS)[:, :, None, None], 255, 0)
    rgba = rgba.transpose(0, 2, 1, 3, 4).reshape(q * s, k * s, 4)
    gradient = ax.imshow(
        rgba, extent=(-0.5, k - 0.5, q - 0.5, -0.5), interpolation="nearest", aspect="auto"
    )
    return {
        "image": image,
        "gradient": gradient,
        "bounds": (mean if lower is None else lower, upper),
    }


def cell_grid(ax, shape: tuple[int, int], color="white", linewidth: float = 1.0) -> None:
    """Lines between the cells: two collections, whatever the size."""
    q, k = shape
    ax.vlines(np.arange(1, k) - 0.5, -0.5, q - 0.5, colors=color, linewidth=linewidth)
    ax.hlines(np.arange(1, q) - 0.5, -0.5, k - 0.5, colors=color, linewidth=linewidth)


def evolution_sparklines(
    series: np.ndarray,
    row_labels=None,
    col_labels=None,
    ax=None,
    *,
    normalize: bool = False,
    line_width: float = 0.5,
    colors: tuple[str, str] = ("black", "white"),
    alpha: float = 0.9,
    **options,
) -> dict:
    """Cells coloured by the mean over the checkpoints of `series` (checkpoints, q, k); in each
    cell a sparkline of its value at every checkpoint (higher is up), on one scale for the whole
    matrix (or each cell's own min..max with `normalize`). Lines take the first of `colors` on
    light cells and the second on dark ones.
    Returns the image and the lines (one collection)."""
    series = np.asarray(series, dtype=np.float32)  # (checkpoints, q, k)
    _check_square_stack("attentions_over_time", series, 3)
    steps, q, k = series.shape
    mean = series.mean(axis=0)  # (q, k)
    image = heatmap(mean, row_labels, col_labels, ax, **options)
    ax = image.axes
    if normalize:
        lo, hi = series.min(axis=0), series.max(axis=0)  # (q, k)
    else:
        lo, hi = np.full((q, k), series.min()), np.full((q, k), series.max())
    span = hi - lo  # flat series sit in the middle of their cells
    scaled = np.where(span > 1e-12, (series - lo) / np.maximum(span, 1e-12), 0.5)  # 0..1
    x = np.linspace(-0.4, 0.4, steps)  # (checkpoints,)
    rows, cols = np.mgrid[0:q, 0:k]  # (q, k)
    xs = cols[:, :, None] + x  # (q, k, checkpoints)
    ys = rows[:, :, None] + 0.35 - 0.7 * scaled.transpose(1, 2, 0)  # (q, k, checkpoints)
    lines = np.stack([xs, ys], axis=-1).reshape(q * k, steps, 2)
    on_dark = contrasting_colours(image, mean).reshape(-1) == "white"  # (q * k,)
    # one path per colour (a PDF draws one path op, not q * k of them)
    codes = np.full(steps, MplPath.LINETO, dtype=MplPath.code_type)
    codes[0] = MplPath.MOVETO
    paths, path_colours = [], []
    for colour, where in zip(colors, (~on_dark, on_dark), strict=True):
        chosen = lines[where]  # (cells, checkpoints, 2)
        if len(chosen):
            paths.append(MplPath(chosen.reshape(-1, 2), np.tile(codes, len(chosen))))
            path_colours.append(colour)
    collection = PathCollection(
        paths, facecolors="none", edgecolors=path_colours, linewidths=line_width, alpha=alpha
    )
    ax.add_collection(collection)
    return {"image": image, "lines": collection}
