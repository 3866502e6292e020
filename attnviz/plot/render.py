"""From a record file to a figure file: the one code path the pipeline and the API share."""

from __future__ import annotations

import functools
import gc
import os

from attnviz.catalogue import ALL_HEADS, KIND_TITLES, VIEWS, parse_selection, selection_title
from attnviz.compare import align
from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.head_stats import (
    SectionStats,
    read_stats_csv,
    record_head_stats,
    select_heads,
    table_stats,
)
from attnviz.long_views import too_long
from attnviz.plot.comparison import aligned_figure
from attnviz.plot.head_summary import head_summary_figure
from attnviz.plot.layouts import chosen_head_figures, layout_figures, save_figures
from attnviz.plot.thumbnail import save_thumbnail
from attnviz.record import load_record
from attnviz.views import view_data


def collector_paused(draw):
    """Run `draw` (one figure, drawn and saved) with Python's cycle collector paused. A figure
    is some 10^5 short-lived matplotlib objects linked in cycles; a collector that runs while
    they are alive traverses them again and again (a third of the drawing time) where one pass
    after the figure frees them all."""

    @functools.wraps(draw)
    def paused(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return draw(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


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


def _captioned(figures: list, text: str) -> list:
    for fig in figures:
        fig.text(0.01, 0.004, text, fontsize=6, color="0.35", va="bottom")
    return figures


def chosen_heads(
    record: dict, view: str, style: PlotConfig, stats: SectionStats | None = None
) -> list[tuple[int, int, str]]:
    """The heads `style.heads` picks (`top_k_by_<statistic>`, ...) for `view`: (stored layer,
    stored head, the statistic's value) each, by `stats` (the model's statistics over its
    prompt set) or else by this record's own statistics."""
    if "heads" not in VIEWS[view].layouts:  # the catalogue says which layouts draw a view
        raise AttnvizError(
            f"view '{view}' has no heads to choose from; draw it as "
            f"{' or '.join(VIEWS[view].layouts)}, or set plot.heads=all"
        )
    stats = stats or record_head_stats(record)[VIEWS[view].section]
    _, name = parse_selection(style.heads)
    picks = select_heads(stats.stats, style.heads, style.top_k)
    return [(i, j, f"{name} {stats.stats[name][i, j]:.3g}") for i, j in picks]


def record_figures(
    record: dict,
    view: str,
    layout: str,
    style: PlotConfig,
    variant: str = "plain",
    head_stats: dict[str, SectionStats] | None = None,
) -> list:
    """The captioned figures of `layout` of `view` of a record (not yet saved). With
    `style.heads` other than all, the heads layout is one page of the heads it picks, by the
    model's `head_stats` (section -> statistics, as `table_stats` gives) if given."""
    if "reduced" in record and style.regions and variant != "plain":
        raise too_long(record, "plot.regions")  # token positions; a long map holds blocks
    data = view_data(
        record, view, style.ignore_first_token, style.renormalize, word_level=style.word_level
    )
    title = figure_title(record, view) + (" (words)" if style.word_level else "")
    if "reduced" in record:  # a long record: say how its maps are pooled
        title = title.replace(VIEWS[view].title, data.title)
    if layout == "heads" and style.heads != ALL_HEADS:
        stats = (head_stats or {}).get(VIEWS[view].section)
        chosen = chosen_heads(record, view, style, stats)
        heading = f"{title}: {selection_title(style.heads, len(chosen))}"
        figures = chosen_head_figures(data, chosen, style, heading, variant)
    else:
        figures = layout_figures(layout, data, style, title, variant)
    return _captioned(figures, caption(record, view, style))


@collector_paused
def render_figure(
    record_path: str | os.PathLike,
    view: str,
    layout: str,
    style: PlotConfig,
    out_path: str | os.PathLike,
    variant: str = "plain",
    thumbnail: str | os.PathLike | None = None,
    head_stats_table: str | os.PathLike | None = None,
    expected: dict | None = None,
) -> None:
    """Draw `layout` of `view` (highlight `variant`) from the record at `record_path` into
    `out_path` (.pdf, or .png/.svg for one page), and its first page into the PNG `thumbnail`
    if given; nothing is written if anything fails. `head_stats_table`: the model's table of
    head statistics (`attnviz.head_stats.write_set_stats`), which chooses the heads of
    `style.heads`.
    `expected`: what the record must have been made for (`attnviz.record.check_expected`)."""
    record = load_record(record_path, expected)
    stats = table_stats(read_stats_csv(head_stats_table)) if head_stats_table else None
    figures = record_figures(record, view, layout, style, variant, stats)
    _save(figures, out_path, figure_title(record, view), style.dpi, thumbnail)


@collector_paused
def draw_record_figure(
    record: dict, task, style: PlotConfig, stats: dict[str, SectionStats] | None, key: str
) -> None:
    """Draw one figure of a loaded record as `task` (attnviz.plot.batch.FigureTask) says, into
    its files, the PDF stamped with `key`."""
    figures = record_figures(record, task.view, task.layout, style, task.variant, stats)
    _save(figures, task.figure, figure_title(record, task.view), style.dpi, task.thumbnail, key)


def _save(figures, out_path, title: str, dpi: int, thumbnail=None, key=None) -> None:
    if thumbnail is not None:  # the first page's heatmaps, small, for the HTML index
        save_thumbnail(figures[0], thumbnail, THUMBNAIL_DPI)
    save_figures(figures, out_path, title, dpi, key)  # last: a stamped PDF means both are whole


@collector_paused
def render_head_summary(
    table: str | os.PathLike,
    figure_out: str | os.PathLike,
    thumbnail: str | os.PathLike | None = None,
) -> None:
    """The head summary of one model on one prompt set, from its table of head statistics
    (`attnviz.head_stats.write_set_stats`): a page per section of layers x heads maps of each
    statistic's mean over the prompts."""
    rows = read_stats_csv(table)
    model, prompt_set = rows[0]["model"], rows[0]["prompt_set"]
    prompts = len(dict.fromkeys(row["prompt"] for row in rows))
    figures = [
        head_summary_figure(
            means.stats,
            f"{model} | {prompt_set} | head statistics of {section} attention, "
            f"mean over {prompts} prompt{'s' * (prompts > 1)}",
            means.layers,
            means.heads,
        )
        for section, means in table_stats(rows).items()
    ]
    title = f"{model} | {prompt_set} | head statistics"
    _save(figures, figure_out, title, PlotConfig().dpi, thumbnail)


@collector_paused
def render_comparison(
    record_paths: list[str],
    views: list[str],
    kind: str,
    name: str,
    settings: dict,
    style: PlotConfig,
    out_path: str | os.PathLike,
    thumbnail: str | os.PathLike | None = None,
    expected: list[dict] | None = None,
    key: str | None = None,
) -> None:
    """Compare one prompt's records of several models (`settings`: layer, head, word_level of
    a comparison config) as `kind` (difference, circles, stability, evolution); `expected`:
    what each record must have been made for; the PDF stamped with `key` if given."""
    expected = expected or [None] * len(record_paths)
    records = [load_record(p, e) for p, e in zip(record_paths, expected, strict=True)]
    aligned = align(
        records, views, settings["layer"], settings["head"], word_level=settings["word_level"]
    )
    head = "mean over heads" if settings["head"] is None else f"head {aligned.heads[0]}"
    layer = (
        f"layer {aligned.layers[0]}"
        if len(set(aligned.layers)) == 1
        else ("last layers" if settings["layer"] == -1 else f"stored layer {settings['layer']}")
    )
    title = f"{name} | {aligned.prompt_id} | {KIND_TITLES[kind]}"
    fig = aligned_figure(kind, aligned, title, style)
    shown = list(zip(views, aligned.layers, strict=True))
    models = (
        f"{', '.join(aligned.models)} ({views[0]})"
        if len(set(shown)) == 1
        else ", ".join(
            f"{m} ({v}, layer {n})" for m, (v, n) in zip(aligned.models, shown, strict=True)
        )
    )
    text = f"{layer}, {head}, {aligned.level}s | models {models} | prompt '{aligned.prompt_id}'"
    _save(_captioned([fig], text), out_path, title, style.dpi, thumbnail, key)
