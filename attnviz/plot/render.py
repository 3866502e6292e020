"""From a record file to a figure file: the one code path the pipeline and the API share."""

from __future__ import annotations

import os

from attnviz.config import PlotConfig
from attnviz.plot.layouts import layout_figures, save_figures
from attnviz.record import load_record
from attnviz.views import VIEWS, view_data


def figure_title(record: dict, view: str) -> str:
    meta = record["meta"]
    return f"{meta['model']} | {meta['prompt_id']} | {VIEWS[view].title}"


THUMBNAIL_DPI = 30


def caption(record: dict, view: str, style: PlotConfig) -> str:
    """Model, prompt text, view and colour scale: what a reader needs under a figure."""
    meta, prompt = record["meta"], record["meta"].get("prompt", {})
    text = prompt.get("text") or " / ".join(
        t for t in (prompt.get("question"), prompt.get("context")) if t
    )
    text = text if len(text) <= 90 else text[:89] + "..."
    scale = {
        "panel": "colour scale per panel",
        "figure": "one colour scale per figure",
        "fixed": f"fixed colour scale {style.vmin:g}..{style.vmax:g}",
    }[style.scale]
    if style.gamma != 1.0:
        scale += f", power norm gamma {style.gamma:g}"
    return f"{meta['model']} | prompt '{meta['prompt_id']}': {text!r} | view {view} | {scale}" + (
        " | first token ignored" if style.ignore_first_token else ""
    )


def record_figures(
    record: dict, view: str, layout: str, style: PlotConfig, variant: str = "plain"
) -> list:
    """The captioned figures of `layout` of `view` of a record (not yet saved)."""
    data = view_data(record, view, style.ignore_first_token, style.renormalize)
    figures = layout_figures(layout, data, style, figure_title(record, view), variant)
    for fig in figures:
        fig.text(0.01, 0.004, caption(record, view, style), fontsize=6, color="0.35", va="bottom")
    return figures


def render_figure(
    record_path: str | os.PathLike,
    view: str,
    layout: str,
    style: PlotConfig,
    out_path: str | os.PathLike,
    variant: str = "plain",
    thumbnail: str | os.PathLike | None = None,
) -> None:
    """Draw `layout` of `view` (highlight `variant`) from the record at `record_path` into
    `out_path` (.pdf, or .png/.svg for one page), and its first page into the PNG `thumbnail`
    if given; nothing is written if anything fails."""
    record = load_record(record_path)
    figures = record_figures(record, view, layout, style, variant)
    title = figure_title(record, view)
    save_figures(figures, out_path, title, style.dpi)
    if thumbnail is not None:  # the first page, small, for the HTML index
        save_figures(figures[:1], thumbnail, title, dpi=THUMBNAIL_DPI)
