"""The report: every figure of a sweep in one PDF.

Cover (the sweep and its counts), contents (every figure with its page), the figures with
bookmarks model > prompt set > prompt > figure, and provenance pages (attnviz version and git
commit, library versions, each model's source, revision and weight hash, each prompt's hash,
device and dtype, and the fully composed configuration). Nothing in it depends on the clock,
so the same sweep gives the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError

LINES_PER_PAGE = 64
# What the provenance pages say of each model, from its records' metadata.
MODEL_FIELDS = (
    "source",
    "revision",
    "commit_hash",
    "weights_sha256",
    "model_type",
    "model_dtype",
    "device",
    "tokenizer",
)


ALL_PROMPTS = "all prompts"  # the bookmark of a prompt set's pages on all its prompts
COMPARISON = "comparison "  # the bookmark of a comparison starts so, where a model's is its name


@dataclass
class ReportEntry:
    """One figure PDF and where it sits: (model, prompt set, prompt, figure title)."""

    path: str
    bookmarks: tuple[str, str, str, str]


def text_pages(title: str, lines: Sequence[str], heading: str | None = None) -> bytes:
    """A4 pages of monospaced lines (LINES_PER_PAGE a page), as one PDF."""
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    buffer = BytesIO()
    chunks = [lines[i : i + LINES_PER_PAGE] for i in range(0, max(len(lines), 1), LINES_PER_PAGE)]
    metadata = {"CreationDate": None, "Producer": "attnviz", "Creator": "attnviz"}
    with matplotlib.rc_context({"pdf.fonttype": 42}), PdfPages(buffer, metadata=metadata) as pdf:
        for number, chunk in enumerate(chunks):
            fig = Figure(figsize=(8.27, 11.69))  # A4 portrait
            top = 0.95
            if number == 0 and heading:
                fig.text(0.07, 0.95, heading, fontsize=20, weight="bold", va="top")
                top = 0.9
            fig.text(
                0.07,
                top,
                "\n".join(chunk),
                fontsize=7.5,
                family="monospace",
                va="top",
                linespacing=1.45,
            )
            fig.text(0.07, 0.03, f"{title} | attnviz", fontsize=7, color="0.4")
            pdf.savefig(fig)
    return buffer.getvalue()


def _pages(n: int) -> int:
    return max(1, -(-n // LINES_PER_PAGE))


def cover_lines(entries: Sequence[ReportEntry], provenance: dict) -> list[str]:
    own = [e for e in entries if not e.bookmarks[0].startswith(COMPARISON)]  # a model's figures
    prompts = [e.bookmarks[:3] for e in own if e.bookmarks[2] != ALL_PROMPTS]
    models = list(dict.fromkeys(e.bookmarks[0] for e in own))
    sets = list(dict.fromkeys(e.bookmarks[1] for e in entries))
    pairs = list(dict.fromkeys(prompts))
    views = list(dict.fromkeys(e.bookmarks[3].split(":")[0] for e in entries))
    lines = [
        f"{len(models)} models x {len(sets)} prompt sets: {len(pairs)} (model, prompt) pairs,",
        f"{len(views)} views, {len(entries)} figures.",
        "",
        "Models",
    ]
    for name in models:
        model = provenance.get("models", {}).get(name, {})
        lines.append(f"  {name:<16} {model.get('architecture', '')}: {model.get('source', '')}")
    lines += ["", "Prompt sets"]
    for name in sets:
        count = len({prompt for _, in_set, prompt in pairs if in_set == name})
        lines.append(f"  {name:<16} {count} prompts")
    lines += [
        "",
        "Views",
        *(f"  {view}" for view in views),
        "",
        "Bookmarks: model > prompt set > prompt > figure.",
        f"attnviz {provenance.get('attnviz', '')}, commit {provenance.get('commit', '')}",
    ]
    return lines


def contents_lines(entries: Sequence[ReportEntry], first_pages: Sequence[int]) -> list[str]:
    lines, last = [], (None, None, None)
    for entry, page in zip(entries, first_pages, strict=True):
        model, prompt_set, prompt, figure = entry.bookmarks
        if (model, prompt_set, prompt) != last:
            lines.append(f"{model} / {prompt_set} / {prompt}")
            last = (model, prompt_set, prompt)
        lines.append(f"    {figure:<70.70} {page + 1:>5}")
    return lines


def provenance_lines(provenance: dict) -> list[str]:
    lines = [
        f"attnviz        {provenance.get('attnviz', '')}",
        f"git commit     {provenance.get('commit', '')}",
        "",
        "Libraries (as recorded by the extraction jobs)",
    ]
    for name, version in sorted(provenance.get("versions", {}).items()):
        lines.append(f"  {name:<14} {version}")
    lines += ["", "Models"]
    for name, model in provenance.get("models", {}).items():
        lines.append(f"  {name}")
        for key in MODEL_FIELDS:
            lines.append(f"    {key:<15} {model.get(key)}")
    lines += ["", "Prompts (sha256 of the prompt's fields)"]
    for key, digest in provenance.get("prompts", {}).items():
        lines.append(f"  {key:<40} {digest}")
    lines += ["", "Composed configuration", *provenance.get("config", "").splitlines()]
    return lines


def provenance_from_records(records: dict[str, dict], config_yaml: str, commit: str) -> dict:
    """What the provenance pages say, from the records' metadata ({"model/set/prompt": record})."""
    import attnviz

    models, prompts, versions = {}, {}, {}
    for key, record in records.items():
        meta = record["meta"]
        fields = ("architecture", *MODEL_FIELDS)
        models.setdefault(meta["model"], {k: meta.get(k) for k in fields})
        prompts[key] = meta.get("prompt_sha256")
        versions.update(meta.get("versions", {}))
    return {
        "models": models,
        "prompts": prompts,
        "versions": versions,
        "config": config_yaml,
        "attnviz": attnviz.__version__,
        "commit": commit,
    }


def build_report(
    entries: Sequence[ReportEntry],
    out: str | os.PathLike,
    title: str,
    provenance: dict | None = None,
) -> None:
    """Merge the figures into `out` behind a cover and contents, with bookmarks
    model -> prompt set -> prompt -> figure, and provenance pages at the end. A missing or
    unreadable figure is an error that names it, and no report is written."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError

    provenance = provenance or {}
    readers = []
    for entry in entries:
        if not os.path.isfile(entry.path):
            raise AttnvizError(f"report: figure {entry.path} is missing; run its plot rule again")
        try:
            reader = PdfReader(entry.path)
            len(reader.pages)
        except (PyPdfError, OSError, ValueError) as exc:
            raise AttnvizError(
                f"report: figure {entry.path} is unreadable ({exc}); delete it and run again"
            ) from None
        readers.append(reader)
    cover = cover_lines(entries, provenance)
    contents_count = _pages(len(entries) + len({e.bookmarks[:3] for e in entries}))
    first_pages, page = [], 1 + contents_count
    for reader in readers:
        first_pages.append(page)
        page += len(reader.pages)

    writer = PdfWriter()
    writer.append(PdfReader(BytesIO(text_pages(title, cover, heading=title))))
    writer.add_outline_item(title="Cover", page_number=0)
    writer.append(
        PdfReader(
            BytesIO(text_pages(title, contents_lines(entries, first_pages), heading="Contents"))
        )
    )
    writer.add_outline_item(title="Contents", page_number=1)
    parents: dict[tuple, object] = {}
    for entry, reader, first in zip(entries, readers, first_pages, strict=True):
        writer.append(reader)
        parent = None
        for depth in range(1, 4):  # model, prompt set, prompt
            key = entry.bookmarks[:depth]
            if key not in parents:
                parents[key] = writer.add_outline_item(
                    title=key[-1], page_number=first, parent=parent
                )
            parent = parents[key]
        writer.add_outline_item(title=entry.bookmarks[3], page_number=first, parent=parent)
    provenance_page = len(writer.pages)
    writer.append(
        PdfReader(BytesIO(text_pages(title, provenance_lines(provenance), heading="Provenance")))
    )
    writer.add_outline_item(title="Provenance", page_number=provenance_page)
    writer.page_mode = "/UseOutlines"
    writer.add_metadata({"/Title": title, "/Producer": "attnviz"})
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        writer.write(fh)


def report_entries(items: list[dict]) -> list[ReportEntry]:
    """Entries from the plain dicts a workflow rule passes as params."""
    return [ReportEntry(item["path"], tuple(item["bookmarks"])) for item in items]


def report_from_workflow(
    figures: list[dict], records: list[dict], out: str, title: str, config_yaml: str, commit: str
) -> None:
    """The pipeline's report: figures and records as the workflow lists them."""
    from attnviz.record import load_record

    loaded = {item["key"]: load_record(item["path"]) for item in records}
    provenance = provenance_from_records(loaded, config_yaml, commit)
    build_report(report_entries(figures), out, title, provenance)
