"""Thumbnails for the HTML index: a figure's heatmaps placed where its axes are, without a
second rendering of the page (its text is illegible at thumbnail size anyway)."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.image import PcolorImage
from PIL import Image

from attnviz.atomic import atomic_path


def _sample(image, ax, size: tuple[int, int]) -> np.ndarray:
    """The image's colours (rows, cols, 4) at the centres of `size` (rows, cols) pixels that
    cover the axes' view; white where the image has no cell."""
    rgba = np.asarray(image.to_rgba(image.get_array(), bytes=True))  # (q, k, 4)
    q, k = rgba.shape[:2]
    if not isinstance(image, PcolorImage):
        left, right, bottom, top = image.get_extent()
    else:  # cells of unequal sizes (enlarged top cells): spread evenly over the view
        (left, right), (bottom, top) = ax.get_xlim(), ax.get_ylim()
    if image.origin == "lower":
        bottom, top = top, bottom  # row 0 at the bottom
    (x0, x1), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
    height, width = size
    xs = x0 + (np.arange(width) + 0.5) / width * (x1 - x0)
    ys = y_high + (np.arange(height) + 0.5) / height * (y_low - y_high)  # from the top down
    cols = np.floor((xs - left) / (right - left) * k).astype(int)
    rows = np.floor((ys - top) / (bottom - top) * q).astype(int)
    out = np.full((height, width, 4), 255, np.uint8)
    inside = (rows[:, None] >= 0) & (rows[:, None] < q) & (cols >= 0) & (cols < k)
    picked = rgba[np.clip(rows, 0, q - 1)[:, None], np.clip(cols, 0, k - 1)]
    out[inside] = picked[inside]
    return out


def thumbnail_pixels(fig, dpi: float) -> np.ndarray:
    """(height, width, 3) RGB: a white page of the figure's size at `dpi` with each axes'
    images drawn in its box."""
    width, height = (max(1, round(s * dpi)) for s in fig.get_size_inches())
    page = np.full((height, width, 3), 255, np.uint8)
    for ax in fig.axes:
        box = ax.get_position()
        x0, x1 = round(box.x0 * width), round(box.x1 * width)
        y0, y1 = round((1 - box.y1) * height), round((1 - box.y0) * height)
        if x1 <= x0 or y1 <= y0:
            continue
        for image in ax.get_images():
            rgba = _sample(image, ax, (y1 - y0, x1 - x0))
            alpha = rgba[..., 3:] / 255.0
            region = page[y0:y1, x0:x1]
            page[y0:y1, x0:x1] = (rgba[..., :3] * alpha + region * (1 - alpha)).astype(np.uint8)
    return page


def save_thumbnail(fig, path: str | os.PathLike, dpi: float) -> None:
    """Write the figure's thumbnail as a PNG, atomically; the same figure gives the same bytes."""
    with atomic_path(path) as tmp:
        Image.fromarray(thumbnail_pixels(fig, dpi)).save(tmp, format="png")
