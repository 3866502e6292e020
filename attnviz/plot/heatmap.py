"""The heatmap primitive every view draws with: one image per matrix, never one artist per cell."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.image import AxesImage
from matplotlib.transforms import Affine2D

from attnviz.analysis import causal_mask
from attnviz.errors import AttnvizError
from attnviz.plot.colourbar import ColourBar


def label_positions(
    n: int,
    max_labels: int,
    always: Sequence[int] = (),
    centers: np.ndarray | None = None,
    min_gap: float = 0.0,
) -> np.ndarray:
    """Which tokens get a tick label: every one up to `max_labels` tokens, else every k-th;
    the `always` ones (tokens of highlighted cells) first. A label closer than `min_gap` (in
    data units, at `centers`) to one already chosen is left out, so labels never overlap."""
    step = max(1, math.ceil(n / max(1, max_labels)))
    centers = np.arange(n, dtype=float) if centers is None else np.asarray(centers)
    chosen: list[int] = []
    for index in [*sorted(set(always)), *range(0, n, step)]:
        if index not in chosen and all(abs(centers[index] - centers[j]) >= min_gap for j in chosen):
            chosen.append(index)
    return np.array(sorted(chosen), dtype=int)


def pooled(data: np.ma.MaskedArray, max_pixels: int) -> tuple[np.ma.MaskedArray, int]:
    """Blocks of f x f cells reduced to their maximum, so that peaks survive when a long input
    has more cells than the page has pixels; blocks with no visible cell stay masked."""
    f = math.ceil(max(data.shape) / max_pixels)
    if f <= 1:
        return data, 1
    q, k = data.shape
    rows, cols = math.ceil(q / f) * f, math.ceil(k / f) * f
    padded = np.full((rows, cols), -np.inf, dtype=np.float32)
    padded[:q, :k] = data.filled(-np.inf)
    blocks = padded.reshape(rows // f, f, cols // f, f).max(axis=(1, 3))
    return np.ma.masked_invalid(np.where(np.isneginf(blocks), np.nan, blocks)), f


MIN_EMBEDDED_PIXELS = 64  # a vector file's image of cells: at least this many pixels a side


class CellImage(AxesImage):
    """An image of cells that a vector file (PDF, SVG) embeds as its cells, each repeated to
    MIN_EMBEDDED_PIXELS on the long side, instead of resampled at the page's resolution
    (interpolation 'none'): the same look, a fraction of the time and bytes. Repeated, a cell's
    edges stay sharp in viewers that smooth the images they enlarge. Raster files (PNG) are
    resampled as with 'nearest'."""

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        image, x, y, trans = super().make_image(renderer, magnification, unsampled)
        if unsampled and image is not None:
            times = max(1, math.ceil(MIN_EMBEDDED_PIXELS / max(image.shape[:2])))
            image = image.repeat(times, axis=0).repeat(times, axis=1)  # (rows, cols, 4)
            trans = Affine2D().scale(1 / times) + trans  # from the repeated pixels
        return image, x, y, trans


def cell_image(ax, shown: np.ma.MaskedArray, cmap, norm, extent: tuple) -> CellImage:
    """`ax.imshow(shown, interpolation="none", aspect="auto", extent=extent)`, as a CellImage."""
    image = CellImage(ax, cmap=cmap, norm=norm, interpolation="none", extent=extent)
    image.set_data(shown)
    image.set_clip_path(ax.patch)
    image.set_extent(extent)
    ax.add_image(image)
    return image


ROBUST_CELLS = 10_000  # maps with at least this many visible cells get a robust upper limit
ROBUST_PERCENTILE = 99.0
PIXELS_PER_INCH = 120  # pooled image cells per inch of panel: each cell stays visible on screen


def colour_limits(visible: np.ndarray) -> tuple[float, float]:
    """A colour scale that follows the data: min to max, but for a long map (ROBUST_CELLS
    cells or more) the top ROBUST_PERCENTILE-th percentile, so that a few sink cells near 1
    do not leave every other cell dark (they show at the top colour)."""
    if not visible.size:
        return 0.0, 1.0
    lo, hi = float(visible.min()), float(visible.max())
    if visible.size >= ROBUST_CELLS:
        robust = float(np.percentile(visible, ROBUST_PERCENTILE))
        hi = robust if robust > lo else hi
    return lo, hi


def contrasting_colours(image, values: np.ndarray) -> np.ndarray:
    """Black or white, whichever reads better on the colour `image` gives each of `values`."""
    rgb = np.asarray(image.cmap(image.norm(values)))[..., :3]
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    return np.where(luminance < 0.5, "white", "black")


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
    row_special: Sequence[bool] | None = None,
    col_special: Sequence[bool] | None = None,
    highlight: Sequence[tuple[int, int]] = (),
    row_edges: np.ndarray | None = None,
    col_edges: np.ndarray | None = None,
    max_pixels: int = 1200,
    ticks: tuple[bool, bool] = (True, True),
):
    """Draw `matrix` (q, k) as an image on `ax` and return the image artist.

    `causal` blanks the upper triangle (cells the model cannot attend to) instead of drawing
    zeros; `gamma` != 1 uses a power norm; `vmin`/`vmax` fix the colour scale (else this
    panel's range). Tick labels thin out above `max_labels` tokens but always include the
    tokens of `highlight` cells, which are drawn red; special tokens are bold. `row_edges` and
    `col_edges` (q + 1 and k + 1 increasing positions) give cells unequal sizes. `ticks`:
    whether the (x, y) axes carry ticks and labels (inner panels of a grid whose outer panels
    label the same tokens carry none, which saves most of a grid's drawing time).
    """
    if ax is None:
        from matplotlib.figure import Figure

        ax = Figure(figsize=(4, 4)).subplots()
    matrix = np.asarray(matrix, dtype=np.float32)  # (q, k)
    if not np.isfinite(matrix).all():
        raise AttnvizError(
            f"the attention holds {int((~np.isfinite(matrix)).sum())} non-finite values "
            "(NaN or inf); extract it again, in float32 if the model overflows float16"
        )
    q, k = matrix.shape
    data = np.ma.masked_array(matrix, mask=causal_mask(q, k) if causal else False)
    box = ax.get_position()
    inches = min(box.width * ax.figure.get_figwidth(), box.height * ax.figure.get_figheight())
    shown, f = pooled(data, max(2, min(max_pixels, int(inches * PIXELS_PER_INCH))))
    low, high = colour_limits(shown.compressed())  # of what is shown: peaks kept by max pooling
    lo = vmin if vmin is not None else low
    hi = vmax if vmax is not None else high
    hi = hi if hi > lo else lo + 1e-9
    norm = Normalize(lo, hi) if gamma == 1.0 else PowerNorm(gamma, vmin=lo, vmax=hi)
    colours = colormaps[cmap].with_extremes(bad="white")
    if row_edges is not None or col_edges is not None:
        row_edges = np.arange(q + 1) - 0.5 if row_edges is None else np.asarray(row_edges)
        col_edges = np.arange(k + 1) - 0.5 if col_edges is None else np.asarray(col_edges)
        image = ax.pcolorfast(col_edges, row_edges, data, cmap=colours, norm=norm)
    else:
        extent = (-0.5, shown.shape[1] * f - 0.5, shown.shape[0] * f - 0.5, -0.5)
        image = cell_image(ax, shown, colours, norm, extent)
        row_edges, col_edges = np.arange(q + 1) - 0.5, np.arange(k + 1) - 0.5
    if colorbar:  # first: it takes its room from the axes
        extend = "max" if vmax is None and hi < high else "neither"
        panel_colorbar(image, font_size, extend)
    framed_view(ax, col_edges, row_edges)
    marked_rows = {r for r, _ in highlight}
    marked_cols = {c for _, c in highlight}
    for axis, labels, edges, special, marked, shown in (
        (ax.xaxis, col_labels, col_edges, col_special, marked_cols, ticks[0]),
        (ax.yaxis, row_labels, row_edges, row_special, marked_rows, ticks[1]),
    ):
        if shown:
            token_ticks(axis, labels, edges, special, marked, max_labels, font_size)
        else:  # no ticks, and nothing of the axis to draw or measure (an axis title shows it)
            axis.set_ticks([])
            axis.set_visible(False)
    if title:  # placed above the axes (y given): no search for ticks on top
        ax.set_title(title, fontsize=font_size + 2, y=1.0)
    return image


FRAME_POINTS = 1.5  # white between the image and the frame: the edge cells are never under it


def framed_view(ax, col_edges: np.ndarray, row_edges: np.ndarray) -> None:
    """Show the cells from the first edge to the last (rows top down) and FRAME_POINTS more
    on every side, so that the frame (the axes' edge, where the ticks start) lies outside the
    image."""
    box, (width, height) = ax.get_position(), ax.figure.get_size_inches()
    gap = FRAME_POINTS / 72  # inches
    limits = []
    for edges, inches in ((col_edges, box.width * width), (row_edges, box.height * height)):
        span = edges[-1] - edges[0]
        margin = span * gap / max(inches - 2 * gap, gap)  # data units
        limits.append((edges[0] - margin, edges[-1] + margin))
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1][::-1])


def token_ticks(axis, labels, edges, special, marked, max_labels: int, font_size: float) -> None:
    """Label the cells between `edges` on `axis` with their tokens (`labels`, else indices),
    thinned out to `max_labels` and never overlapping, but keeping the `marked` ones (red);
    `special` ones bold. Tick style first, so each tick is made once, already styled."""
    ax = axis.axes
    x = axis is ax.xaxis
    ax.tick_params(axis="x" if x else "y", length=2, pad=1, labelsize=font_size)
    if x:
        ax.tick_params(axis="x", labelrotation=90)
    box = ax.get_position()
    inches = box.width * ax.figure.get_figwidth() if x else box.height * ax.figure.get_figheight()
    min_gap = (font_size * 1.1 / 72) / max(inches, 1e-3) * (edges[-1] - edges[0])
    centers = (edges[:-1] + edges[1:]) / 2
    ticks = label_positions(len(edges) - 1, max_labels, sorted(marked), centers, min_gap)
    axis.set_ticks(centers[ticks], [str(i) if labels is None else labels[i] for i in ticks])
    for index, tick in zip(ticks, axis.get_major_ticks(), strict=True):
        if special is not None and special[index]:
            tick.label1.set_fontweight("bold")
        if index in marked:
            tick.label1.set_color("red")
            tick.label1.set_fontweight("bold")


def panel_colorbar(
    image, font_size: float, extend: str = "neither", fraction: float = 0.046, pad: float = 0.02
) -> ColourBar:
    """A colour bar right of the image's axes, which give up `fraction` + `pad` of their width
    (as `Figure.colorbar(ax=...)` does, without re-planning the figure's grid), at most 20
    times as tall as it is wide, centred."""
    ax, fig = image.axes, image.axes.figure
    box = ax.get_position()
    ax.set_position([box.x0, box.y0, box.width * (1 - fraction - pad), box.height])
    width = box.width * fraction
    height = min(box.height, 20 * width * fig.get_figwidth() / fig.get_figheight())
    where = [box.x0 + box.width * (1 - fraction), box.y0 + (box.height - height) / 2, width, height]
    return fig.add_artist(ColourBar(image, where, font_size, extend))
