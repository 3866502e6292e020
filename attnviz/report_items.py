"""What the report and the index show of a sweep: every figure with its bookmarks and title,
every record whose provenance the report lists, every viewer page the index links, and the
checkout's commit. Plain data for the rules' params, from the sweep alone (no file is read)."""

from __future__ import annotations

import subprocess
from dataclasses import asdict

from attnviz import paths
from attnviz.catalogue import ALL_HEADS, KIND_TITLES, VIEWS, selection_title
from attnviz.report import ALL_PROMPTS, COMPARISON
from attnviz.tasks import expectation

LAYOUT_TITLES = {
    "layer_average": "layer averages",
    "heads": "heads per layer",
    "single": "one layer",
}
VARIANT_TITLES = {"plain": "", "top_cells": ", top cells", "regions": ", regions"}
SUMMARY_TITLE = "Head statistics"


def layout_title(layout: str, plot) -> str:
    """A layout in words; a heads page of chosen heads says how they are chosen (`plot`: the
    sweep's PlotConfig)."""
    if layout == "heads" and plot.heads != ALL_HEADS:
        return selection_title(plot.heads, plot.top_k)
    return LAYOUT_TITLES[layout]


def figure_title(view: str, layout: str, variant: str, plot) -> str:
    """A figure's bookmark: "Self-attention: layer averages, top cells"."""
    return f"{VIEWS[view].title}: {layout_title(layout, plot)}{VARIANT_TITLES[variant]}"


def comparison_title(kind: str) -> str:
    """A comparison figure's bookmark: "Comparison with circles"."""
    return KIND_TITLES[kind].capitalize()


def item(path: str, bookmarks: list[str]) -> dict:
    return {"path": path, "thumbnail": paths.thumbnail(path), "bookmarks": bookmarks}


def report_items(sweep) -> list[dict]:
    """Every figure of the sweep with its bookmarks: model > prompt set > prompt > figure
    (head statistics under "all prompts"), then comparison > prompt set > prompt > kind."""
    plot = sweep.config.plot
    items = []
    for model, prompt_set, prompt in sweep.pairs():
        if prompt.id == sweep.prompt_ids(prompt_set)[0]:
            summary = paths.head_summary(model, prompt_set)
            items.append(item(summary, [model, prompt_set, ALL_PROMPTS, SUMMARY_TITLE]))
        for view, layout, variant in sweep.figures(model, prompt):
            path = paths.figure(model, prompt_set, prompt.id, view, layout, variant)
            title = figure_title(view, layout, variant, plot)
            items.append(item(path, [model, prompt_set, prompt.id, title]))
    for name, prompt_set, prompt, kind in sweep.comparisons():
        path = paths.comparison(name, prompt_set, prompt.id, kind)
        bookmarks = [f"{COMPARISON}{name}", prompt_set, prompt.id, comparison_title(kind)]
        items.append(item(path, bookmarks))
    return items


def record_items(sweep) -> list[dict]:
    """Every record of the sweep, keyed "model/prompt_set/prompt", with what it must have been
    made for: the report's provenance pages read them."""
    return [
        {
            "key": f"{model}/{prompt_set}/{prompt.id}",
            "path": paths.record(model, prompt_set, prompt.id),
            "expected": expectation(sweep, model, prompt_set, prompt.id),
        }
        for model, prompt_set, prompt in sweep.pairs()
    ]


def viewer_pages(sweep) -> dict[str, str]:
    """ "model/prompt_set/prompt" -> its interactive viewer page, for the index's links."""
    return {
        f"{model}/{prompt_set}/{prompt.id}": paths.viewer_page(model, prompt_set, prompt.id)
        for model, prompt_set, prompt in sweep.pairs()
    }


def config_yaml(sweep) -> str:
    """The fully composed configuration, as the provenance pages print it."""
    import yaml

    return yaml.safe_dump(asdict(sweep.config), sort_keys=False, allow_unicode=True)


def git_commit(folder: str) -> str:
    """The commit of the checkout at `folder` (the report's provenance), or a note that there is
    none."""
    try:
        return subprocess.run(
            ["git", "-C", folder, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
