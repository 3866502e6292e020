"""The HTML index of a sweep: every figure as a thumbnail linking to its PDF."""

from __future__ import annotations

import html
import os
from pathlib import Path

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError

STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-weight: normal; margin: 1.2em 0 0.4em; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; width: 220px; }
figure img { width: 220px; border: 1px solid #ddd; }
figcaption { font-size: 0.8em; }
"""


def build_index(
    figures: list[dict],
    out: str | os.PathLike,
    title: str,
    report: str,
    viewers: dict[str, str] | None = None,
) -> None:
    """Write `out`: for each model, prompt set and prompt, its figures as thumbnails (each
    item's `thumbnail`) linking to the PDF (`path`), and a link to its interactive viewer
    (`viewers["model/prompt_set/prompt"]`, if any); links are relative to `out`'s folder."""
    viewers = viewers or {}
    root = Path(out).parent
    missing = [f["thumbnail"] for f in figures if not os.path.isfile(f["thumbnail"])]
    if missing:
        raise AttnvizError(f"index: thumbnail {missing[0]} is missing; run its plot rule again")

    def link(path: str) -> str:
        return html.escape(os.path.relpath(path, root).replace(os.sep, "/"))

    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(figures)} figures. The whole sweep in one PDF: "
        f"<a href='{link(report)}'>{html.escape(os.path.basename(report))}</a>.</p>",
    ]
    model = prompt = None
    for item in figures:
        name, prompt_set, prompt_id, figure = item["bookmarks"]
        if name != model:
            if prompt is not None:
                parts.append("</div>")
            parts.append(f"<h2>{html.escape(name)}</h2>")
            model, prompt = name, None
        if (prompt_set, prompt_id) != prompt:
            if prompt is not None:
                parts.append("</div>")
            viewer = viewers.get(f"{name}/{prompt_set}/{prompt_id}")
            viewer = f" <a href='{link(viewer)}'>interactive viewer</a>" if viewer else ""
            parts.append(f"<h3>{html.escape(prompt_set)} / {html.escape(prompt_id)}{viewer}</h3>")
            parts.append("<div class='figures'>")
            prompt = (prompt_set, prompt_id)
        parts.append(
            f"<figure><a href='{link(item['path'])}'><img src='{link(item['thumbnail'])}' "
            f"alt='{html.escape(figure)}'></a><figcaption>{html.escape(figure)}</figcaption>"
            "</figure>"
        )
    if prompt is not None:
        parts.append("</div>")
    parts.append("</body></html>")
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
