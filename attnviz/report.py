"""The report: every figure of a sweep in one PDF, with a cover and nested bookmarks."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError


@dataclass
class ReportEntry:
    """One figure PDF and where it sits: (model, prompt set, prompt, figure title)."""

    path: str
    bookmarks: tuple[str, str, str, str]


def cover_page(title: str, entries: Sequence[ReportEntry]) -> bytes:
    """A one-page PDF naming the sweep: models x prompt sets x prompts, and the figures."""
    import matplotlib
    from matplotlib.figure import Figure

    models = list(dict.fromkeys(e.bookmarks[0] for e in entries))
    sets = list(dict.fromkeys(e.bookmarks[1] for e in entries))
    prompts = Counter((e.bookmarks[0], e.bookmarks[1], e.bookmarks[2]) for e in entries)
    lines = [
        f"{len(models)} models x {len(sets)} prompt sets: {len(prompts)} (model, prompt) "
        f"pairs, {len(entries)} figures",
        "",
        "models: " + ", ".join(models),
        "prompt sets: " + ", ".join(sets),
    ]
    fig = Figure(figsize=(8.27, 11.69))  # A4 portrait
    fig.text(0.08, 0.9, title, fontsize=22, weight="bold", va="top")
    fig.text(0.08, 0.84, "\n".join(lines), fontsize=11, va="top", linespacing=1.6)
    fig.text(
        0.08,
        0.05,
        "Made by attnviz. Bookmarks: model > prompt set > prompt > figure.",
        fontsize=8,
        color="0.4",
    )
    buffer = BytesIO()
    with matplotlib.rc_context({"pdf.fonttype": 42}):
        fig.savefig(buffer, format="pdf", metadata={"CreationDate": None, "Producer": "attnviz"})
    return buffer.getvalue()


def build_report(entries: Sequence[ReportEntry], out: str | os.PathLike, title: str) -> None:
    """Merge the figures into `out` behind a cover page, with bookmarks
    model -> prompt set -> prompt -> figure. A missing or unreadable figure is an error that
    names it, and no report is written."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    writer = PdfWriter()
    writer.append(PdfReader(BytesIO(cover_page(title, entries))))
    writer.add_outline_item(title="Cover", page_number=0)
    parents: dict[tuple, object] = {}
    for entry in entries:
        if not os.path.isfile(entry.path):
            raise AttnvizError(f"report: figure {entry.path} is missing; run its plot rule again")
        try:
            reader = PdfReader(entry.path)
            first_page = len(writer.pages)
            writer.append(reader)
        except (PyPdfError, OSError, ValueError) as exc:
            raise AttnvizError(
                f"report: figure {entry.path} is unreadable ({exc}); delete it and run again"
            ) from None
        parent = None
        for depth in range(1, 4):  # model, prompt set, prompt
            key = entry.bookmarks[:depth]
            if key not in parents:
                parents[key] = writer.add_outline_item(
                    title=key[-1], page_number=first_page, parent=parent
                )
            parent = parents[key]
        writer.add_outline_item(title=entry.bookmarks[3], page_number=first_page, parent=parent)
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": title, "/Producer": "attnviz"})
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        writer.write(fh)


def report_entries(items: list[dict]) -> list[ReportEntry]:
    """Entries from the plain dicts a workflow rule passes as params."""
    return [ReportEntry(item["path"], tuple(item["bookmarks"])) for item in items]
