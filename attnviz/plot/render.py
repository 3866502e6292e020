"""From a record file to a figure file: the one code path the pipeline and the API share."""

from __future__ import annotations

import os

from attnviz.config import PlotConfig
from attnviz.plot.layouts import layout_figures, save_pdf
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
) -> None:
    """Draw `layout` of `view` from the record at `record_path` into the PDF `out_path`."""
    record = load_record(record_path)
    data = view_data(record, view, style.ignore_first_token)
    title = figure_title(record, view)
    save_pdf(layout_figures(layout, data, style, title), out_path, title)
