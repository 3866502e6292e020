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


def render_figure(
    record_path: str | os.PathLike,
    view: str,
    layout: str,
    style: PlotConfig,
    out_path: str | os.PathLike,
    variant: str = "plain",
) -> None:
    """Draw `layout` of `view` (highlight `variant`) from the record at `record_path` into
    `out_path` (.pdf, or .png/.svg for one page); nothing is written if anything fails."""
    record = load_record(record_path)
    data = view_data(record, view, style.ignore_first_token, style.renormalize)
    title = figure_title(record, view)
    figures = layout_figures(layout, data, style, title, variant)
    save_figures(figures, out_path, title, style.dpi)
