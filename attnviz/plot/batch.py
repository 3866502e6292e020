"""Many figures in one process: a job draws every figure of one model on one prompt set (or
every figure of one comparison on one prompt set), paying for Python, torch and matplotlib
once. Each figure is written atomically and stamped with a key of what it was drawn from (its
inputs' bytes, the plot settings, attnviz's code), so a rerun after a killed job removes the
killed job's temporary files and redraws only the figures that are missing or were drawn from
something else."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from attnviz.catalogue import ALL_HEADS
from attnviz.config import PlotConfig
from attnviz.head_stats import read_stats_csv, table_stats
from attnviz.plot.render import draw_record_figure, render_comparison
from attnviz.record import load_record

log = logging.getLogger(__name__)
KEY = re.compile(rb"/Keywords \(attnviz-key ([0-9a-f]{64})\)")


@dataclass(frozen=True)
class FigureTask:
    """One figure of a record: its view, layout and variant, and the files it goes to."""

    record: str
    view: str
    layout: str
    variant: str
    figure: str
    thumbnail: str
    expected: dict | None = None  # what the record must have been made for


@dataclass(frozen=True)
class ComparisonTask:
    """One comparison figure: one prompt's records of the compared models, in their views."""

    records: list[str]
    views: list[str]
    kind: str
    figure: str
    thumbnail: str
    expected: list[dict] | None = None  # what each record must have been made for


@cache
def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def code_sha256() -> str:
    """attnviz's own modules: a figure drawn by other code is drawn again."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def figure_key(inputs: Iterable[str], **settings) -> str:
    """What a figure is drawn from: its input files' bytes, its settings and the code."""
    parts = {"inputs": [file_sha256(str(p)) for p in inputs], "code": code_sha256(), **settings}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stamped_key(figure: str | os.PathLike) -> str | None:
    """The key a figure PDF was stamped with (None if it is missing or has none)."""
    try:
        found = KEY.search(Path(figure).read_bytes())
    except FileNotFoundError:
        return None
    return found.group(1).decode() if found else None


def remove_leftovers(paths: Iterable[str]) -> int:
    """Delete the temporary files a killed job left beside `paths` (atomic writes in flight)."""
    removed = 0
    for path in map(Path, paths):
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _draw_missing(tasks: list, key_of: Callable, draw: Callable) -> dict[str, int]:
    """Draw each task whose figure lacks its key (thumbnail first, PDF last: a PDF with the
    key means both are whole); returns how many were drawn and kept."""
    removed = remove_leftovers(p for t in tasks for p in (t.figure, t.thumbnail))
    counts = {"drawn": 0, "kept": 0, "leftovers_removed": removed}
    for task in tasks:
        key = key_of(task)
        if stamped_key(task.figure) == key and Path(task.thumbnail).is_file():
            counts["kept"] += 1
            continue
        draw(task, key)
        counts["drawn"] += 1
        log.info("attnviz: drew %s", task.figure)
    log.info("attnviz: %(drawn)d figures drawn, %(kept)d up to date kept", counts)
    return counts


def render_figures(
    tasks: list[FigureTask], style: PlotConfig, head_stats_table: str | None = None
) -> dict[str, int]:
    """Draw the figures of `tasks` (records of one model and prompt set) in this process, each
    record loaded once; figures already drawn from the same inputs are kept."""
    picks = head_stats_table if style.heads != ALL_HEADS else None
    stats = table_stats(read_stats_csv(head_stats_table)) if picks else None
    settings = asdict(style)
    loaded: dict[str, dict] = {}

    def key_of(task: FigureTask) -> str:
        uses_stats = task.layout == "heads" and picks is not None
        inputs = [task.record, *([picks] if uses_stats else [])]
        return figure_key(
            inputs, view=task.view, layout=task.layout, variant=task.variant, style=settings
        )

    def draw(task: FigureTask, key: str) -> None:
        if task.record not in loaded:
            loaded.clear()  # one record in memory at a time (tasks come grouped by record)
            loaded[task.record] = load_record(task.record, task.expected)
        draw_record_figure(loaded[task.record], task, style, stats, key)

    return _draw_missing(tasks, key_of, draw)


def render_comparisons(
    tasks: list[ComparisonTask], name: str, settings: dict, style: PlotConfig
) -> dict[str, int]:
    """Draw the comparison figures of `tasks` (one comparison on one prompt set)."""

    def key_of(task: ComparisonTask) -> str:
        return figure_key(
            task.records,
            views=task.views,
            kind=task.kind,
            name=name,
            settings=settings,
            style=asdict(style),
        )

    def draw(task: ComparisonTask, key: str) -> None:
        render_comparison(
            task.records,
            task.views,
            task.kind,
            name,
            settings,
            style,
            task.figure,
            task.thumbnail,
            task.expected,
            key,
        )

    return _draw_missing(tasks, key_of, draw)
