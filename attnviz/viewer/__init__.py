"""An interactive, offline viewer of a record: a page per prompt (model view, a large map with
tooltips, zoom and pan, a token view), from the pipeline or from Python."""

from __future__ import annotations

import html
import os
from pathlib import Path

from attnviz.config import VIEWER_STYLE_KEYS
from attnviz.viewer.options import ViewerConfig, viewer_options
from attnviz.viewer.page import inline_page, open_record, write_page


def save_viewer(record, path: str | os.PathLike, **options) -> Path:
    """Write the viewer of `record` (a dict, or the path of a saved record) to `path` (.html),
    with its per-head data in `<stem>_files/` beside it; open it from file:// in any browser.
    `options`: the figures' colour options (cmap, gamma, scale, vmin, vmax,
    ignore_first_token) and the viewer's own (max_cells, thumb_cells, exact_tokens, top_cells,
    title); an unknown one is an error. Returns the page's path."""
    config = viewer_options(options)
    return write_page(record, path, config)


class Viewer:
    """The viewer inline in a notebook (Jupyter shows `_repr_html_`): an iframe holding the
    whole page and its data."""

    def __init__(self, page: str, height: int):
        self.page, self.height = page, height

    def _repr_html_(self) -> str:
        return (
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            f"style='width:100%;height:{self.height}px;border:1px solid #ddd'></iframe>"
        )


def show(record, height: int = 900, **options) -> Viewer:
    """The viewer of `record` inline in a Jupyter notebook (the same page as `save_viewer`,
    its data inside it); same options."""
    return Viewer(inline_page(record, viewer_options(options)), height)


def build_viewers(
    records: list[str], out_dir: str | os.PathLike, style: dict, expected: list | None = None
) -> list[Path]:
    """The pipeline's job for one (model, prompt set): a page per record, named by its prompt
    (the record's folder), in `out_dir`. `style`: the sweep's plot options (those the viewer
    shares with the figures are used); `expected`: what each record must have been made for."""
    config = viewer_options({k: style[k] for k in VIEWER_STYLE_KEYS if k in style})
    expected = expected or [None] * len(records)
    return [
        write_page(open_record(path, e), Path(out_dir) / f"{Path(path).parent.name}.html", config)
        for path, e in zip(records, expected, strict=True)
    ]


__all__ = ["ViewerConfig", "build_viewers", "save_viewer", "show"]
