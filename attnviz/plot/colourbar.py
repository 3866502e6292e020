"""A light colour bar: one artist that draws a gradient image, a frame, tick marks and labels
in figure coordinates. It looks like matplotlib's colour bar (the same ticks, on the right) but
makes no Axes, locator or formatter, which in a 30-panel grid cost more than the heatmaps."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import rcParams
from matplotlib.artist import Artist
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.image import BboxImage
from matplotlib.patches import Polygon
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Affine2D, Bbox, BboxTransformTo, TransformedBbox

LABEL = "<colorbar>"  # how tests and callers find the bars among a figure's artists
EXTEND = 0.05  # an extended bar's triangle: this fraction of the bar's length


def tick_values(lo: float, hi: float, length_points: float, font_size: float) -> np.ndarray:
    """The ticks matplotlib's axis would put on a bar from `lo` to `hi`: at most one per two
    label heights, in steps of 1, 2, 2.5 or 5 x 10^n."""
    bins = max(1, min(9, math.floor(length_points / (2 * font_size))))
    values = MaxNLocator(bins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
    slack = 1e-10 * (hi - lo)
    return values[(values >= lo - slack) & (values <= hi + slack)]


def tick_labels(values: np.ndarray) -> list[str]:
    """The values with the fewest decimals that write each exactly (all with the same
    number) and a true minus sign, as matplotlib's default formatter does; a tiny range in 3
    significant digits."""
    step = float(np.diff(values).min()) if len(values) > 1 else max(abs(float(values[0])), 1.0)
    form = next(
        (
            f".{decimals}f"
            for decimals in range(7)
            if np.allclose(np.round(values, decimals), values, rtol=0, atol=step * 1e-6)
        ),
        ".3g",
    )
    minus = "\u2212" if rcParams["axes.unicode_minus"] else "-"
    return [f"{v + 0.0:{form}}".replace("-", minus) for v in values]


class Gradient(BboxImage):
    """The bar's colours, one pixel each, which a vector file (PDF, SVG) embeds as they are and
    scales to the bar (a column of flat colours looks the same at any size) instead of a
    resampled copy at the page's resolution; raster files resample them as BboxImage does."""

    def _check_unsampled_image(self):
        return True  # where the renderer can scale images (else BboxImage's resampled copy)

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        if not unsampled:
            return super().make_image(renderer, magnification)
        colours = np.asarray(self.get_array())  # (N, 1, 4): row 0, the lowest colour, at y 0
        pixels = Affine2D().scale(1 / colours.shape[1], 1 / colours.shape[0])
        return colours, 0, 0, pixels + BboxTransformTo(self.get_window_extent(renderer))


class ColourBar(Artist):
    """The colour scale of `image` as a bar at `bounds` (x, y, width, height in figure
    fractions), labelled on its right in `font_size`; `extend="max"`: a triangle on top for
    values above the scale."""

    def __init__(self, image, bounds, font_size: float, extend: str = "neither"):
        super().__init__()
        fig = image.axes.figure
        self.set_figure(fig)
        self.set_label(LABEL)
        x, y, width, height = bounds
        to_x, to_y = 1 / (72 * fig.get_figwidth()), 1 / (72 * fig.get_figheight())  # per point
        norm, cmap, where = image.norm, image.cmap, fig.transFigure
        box = TransformedBbox(Bbox.from_bounds(x, y, width, height), where)
        gradient = Gradient(box, origin="lower", interpolation="nearest")
        gradient.set_data(cmap(np.linspace(0, 1, cmap.N), bytes=True)[:, None])  # (N, 1, 4) up
        outline = [(x, y), (x + width, y), (x + width, y + height), (x, y + height)]
        parts: list[Artist] = [gradient]
        if extend == "max":
            top = (x + width / 2, y + height * (1 + EXTEND))
            outline.insert(3, top)
            triangle = [(x + width, y + height), top, (x, y + height)]
            parts.append(Polygon(triangle, facecolor=cmap.get_over(), linewidth=0))
        parts.append(
            Polygon(
                outline,
                fill=False,
                linewidth=rcParams["axes.linewidth"],
                edgecolor=rcParams["axes.edgecolor"],
            )
        )
        self.values = tick_values(norm.vmin, norm.vmax, height / to_y, font_size)
        heights = y + height * np.asarray(norm(self.values), dtype=float)
        right, tick = x + width, rcParams["ytick.major.size"] * to_x
        parts.append(
            LineCollection(
                [[(right, h), (right + tick, h)] for h in heights],
                linewidths=rcParams["ytick.major.width"],
                colors=rcParams["ytick.color"],
            )
        )
        left = right + tick + rcParams["ytick.major.pad"] * to_x
        self.texts = [
            Text(left, h, label, fontsize=font_size, va="center_baseline")
            for h, label in zip(heights, tick_labels(self.values), strict=True)
        ]
        for part in [*parts, *self.texts]:
            part.set_figure(fig)
            part.set_transform(where)
        self._parts = parts

    def get_children(self):
        return [*self._parts, *self.texts]

    def draw(self, renderer):
        if self.get_visible():
            for part in self._parts:
                part.draw(renderer)
            self._draw_labels(renderer)
        self.stale = False

    def _draw_labels(self, renderer) -> None:
        """The labels, straight to the renderer: each is one line of the same font, left of
        its x, its baseline half a line's ascent (of "lp", as matplotlib measures a line)
        below its tick, where va="center_baseline" puts it; so no text layout is computed
        for each label (in a grid of bars, a tenth of the drawing time)."""
        if not self.texts:
            return
        font = self.texts[0].get_fontproperties()
        _, height, descent = renderer.get_text_width_height_descent("lp", font, ismath=False)
        gc = renderer.new_gc()
        gc.set_foreground(to_rgba(self.texts[0].get_color()), isRGBA=True)
        canvas_height = renderer.get_canvas_width_height()[1]
        for text in self.texts:
            x, y = text.get_transform().transform(text.get_position())
            y -= (height - descent) / 2
            y = canvas_height - y if renderer.flipy() else y
            renderer.draw_text(gc, x, y, text.get_text(), font, 0, mtext=text)
        gc.restore()
