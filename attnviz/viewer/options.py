"""The viewer's options: the figures' colour options, and how much data the page carries."""

from __future__ import annotations

from dataclasses import dataclass

from attnviz.catalogue import SCALES
from attnviz.config import check_choice, checked
from attnviz.errors import AttnvizError

# Colormaps offered in the page besides the chosen one.
COLORMAPS = ("viridis", "magma", "Blues", "Purples", "Greys", "RdBu_r")


@dataclass
class ViewerConfig:
    """Options of `attnviz.save_viewer` / `attnviz.show` (unknown keys are an error)."""

    cmap: str = "viridis"  # a matplotlib colormap, as the figures
    gamma: float = 1.0  # power-norm exponent, as the figures
    scale: str = "panel"  # panel | figure (one scale for the section) | fixed (vmin..vmax)
    vmin: float = 0.0
    vmax: float = 1.0
    ignore_first_token: bool = False  # drop row and column 0 (the first token) from the maps
    max_cells: int = 512  # a map with more tokens a side is max-pooled to about this many cells
    thumb_cells: int = 48  # the model view's thumbnails: about this many cells a side
    exact_tokens: int = 1024  # pooled maps up to this many tokens load exact cells on zoom
    top_cells: int = 4096  # longer ones keep each head's highest cells exact
    title: str | None = None  # the page title (default: model / prompt)


def viewer_options(options: dict) -> ViewerConfig:
    """`options` as a checked ViewerConfig: an unknown key or a bad value is a one-line error."""
    config = checked(ViewerConfig, options, "viewer")
    check_choice("viewer.scale", config.scale, SCALES)
    from matplotlib import colormaps

    if config.cmap not in colormaps:
        raise AttnvizError(
            f"viewer.cmap '{config.cmap}' is not a matplotlib colormap; "
            f"choose e.g. one of {', '.join(COLORMAPS)}"
        )
    if config.gamma <= 0:
        raise AttnvizError(f"viewer.gamma is {config.gamma}; choose a positive power")
    if config.max_cells < 16 or config.thumb_cells < 4:
        raise AttnvizError("viewer.max_cells must be at least 16 and viewer.thumb_cells 4")
    if config.exact_tokens < 0 or config.top_cells < 0:
        raise AttnvizError("viewer.exact_tokens and viewer.top_cells cannot be negative")
    return config
