# Helpers: the sweep (composed once per workflow run) and the paths of what it makes.
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from attnviz import resources
from attnviz.compare import KIND_TITLES, KINDS
from attnviz.config import DEMO_MODELS, LAYOUTS, VARIANTS, cached_sweep, model_source
from attnviz.errors import AttnvizError
from attnviz.head_stats import selection_title
from attnviz.report import ALL_PROMPTS, COMPARISON
from attnviz.views import VIEWS

# Every cluster job parses this file again: it reads the sweep composed by the first parse.
try:
    SWEEP = cached_sweep(
        config, Path(workflow.basedir) / "conf", Path(".snakemake/attnviz")
    )
except AttnvizError as error:
    sys.exit(f"attnviz: {error}")

CONDA_ENV = "../envs/attnviz.yaml"  # relative to the rule files
LAYOUT_TITLES = {
    "layer_average": "layer averages",
    "heads": (
        "heads per layer"
        if SWEEP.config.plot.heads == "all"
        else selection_title(SWEEP.config.plot.heads, SWEEP.config.plot.top_k)
    ),
    "single": "one layer",
}
VARIANT_TITLES = {"plain": "", "top_cells": ", top cells", "regions": ", regions"}
PLOT_STYLE = {
    k: v
    for k, v in asdict(SWEEP.config.plot).items()
    if k not in ("layouts", "variants")
}
EXTRACT_SETTINGS = asdict(SWEEP.config.extract)


wildcard_constraints:
    model="|".join(map(re.escape, SWEEP.models)),
    prompt_set="|".join(map(re.escape, SWEEP.prompt_sets)),
    prompt=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    view="|".join(VIEWS),
    layout="|".join(LAYOUTS),
    variant="|".join(VARIANTS),
    demo="|".join(DEMO_MODELS),
    comparison="|".join(map(re.escape, SWEEP.config.comparison)) or "(?!)",
    kind="|".join(KINDS),


def record_paths(prompt_set):
    """The records one extraction job writes: one per prompt of the set."""
    return [
        f"results/{{model}}/{prompt_set}/{prompt}/attention.pt"
        for prompt in SWEEP.prompt_ids(prompt_set)
    ]


def prompt_params(prompt_set):
    return [asdict(prompt) for prompt in SWEEP.prompt_sets[prompt_set].prompts]


def model_params(wildcards):
    return asdict(SWEEP.models[wildcards.model])


def model_source_param(wildcards):
    return model_source(SWEEP.models[wildcards.model])


def model_folder(wildcards):
    """A local model folder is an input (a demo model's comes from prepare_demo_model)."""
    model = SWEEP.models[wildcards.model]
    return [] if model.hub_id is not None else [model_source(model)]


def extraction_mem_mb(prompt_set):
    """Memory of an extraction job of `prompt_set`: scales with the model's weights, with
    the prompts' length, and with each retry."""
    prompts = SWEEP.prompt_sets[prompt_set].prompts

    def mem_mb(wildcards, attempt):
        model = SWEEP.models[wildcards.model]
        return resources.extraction_mem_mb(
            model, model_source(model), attempt, prompts, SWEEP.config.extract
        )

    return mem_mb


def extraction_gpus(wildcards):
    return resources.extraction_gpus(SWEEP.models[wildcards.model])


def plot_mem_mb(wildcards, input, attempt):
    return resources.plot_mem_mb(list(input), attempt)


def stats_mem_mb(wildcards, input, attempt):
    return resources.stats_mem_mb(list(input), attempt)


def set_records(wildcards):
    """Every record of one model on one prompt set."""
    return expand(record_paths(wildcards.prompt_set), model=wildcards.model)


HEAD_STATS = "results/{model}/{prompt_set}/head_stats.csv"


def head_stats_table(wildcards):
    """The heads layout picks its heads (plot.heads) by the model's head statistics."""
    if SWEEP.config.plot.heads == "all":
        return []
    return HEAD_STATS.format(model=wildcards.model, prompt_set=wildcards.prompt_set)


def comparison_records(wildcards):
    """The record of each model of a comparison, for one prompt."""
    return [
        f"results/{model}/{wildcards.prompt_set}/{wildcards.prompt}/attention.pt"
        for model in SWEEP.config.comparison[wildcards.comparison].models
    ]


def expectation(model, prompt_set, prompt_id):
    """What a record must have been made for: checked by each job that reads it."""
    prompt = asdict(SWEEP.prompt(prompt_set, prompt_id))
    return {"model": model, "prompt": prompt, "settings": EXTRACT_SETTINGS}


def expected_record(wildcards):
    return expectation(wildcards.model, wildcards.prompt_set, wildcards.prompt)


def expected_set_records(wildcards):
    return [
        expectation(wildcards.model, wildcards.prompt_set, prompt)
        for prompt in SWEEP.prompt_ids(wildcards.prompt_set)
    ]


def expected_comparison_records(wildcards):
    return [
        expectation(model, wildcards.prompt_set, wildcards.prompt)
        for model in SWEEP.config.comparison[wildcards.comparison].models
    ]


def comparison_views(wildcards):
    prompt = SWEEP.prompt(wildcards.prompt_set, wildcards.prompt)
    return SWEEP.comparison_views(wildcards.comparison, prompt)


def comparison_settings(wildcards):
    comparison = SWEEP.config.comparison[wildcards.comparison]
    return {k: getattr(comparison, k) for k in ("layer", "head", "word_level")}


def item(path, bookmarks):
    return {
        "path": path,
        "thumbnail": path.removesuffix(".pdf") + ".png",
        "bookmarks": bookmarks,
    }


HEAD_STATS_TABLES = expand(
    HEAD_STATS, model=list(SWEEP.models), prompt_set=list(SWEEP.prompt_sets)
)


def report_items():
    """Every figure of the sweep with its bookmarks: model > prompt set > prompt > figure
    (head statistics under "all prompts"), then comparison > prompt set > prompt > kind.
    """
    items = []
    for model, prompt_set, prompt in SWEEP.pairs():
        folder = f"results/{model}/{prompt_set}/{prompt.id}"
        if prompt.id == SWEEP.prompt_ids(prompt_set)[0]:
            summary = f"results/{model}/{prompt_set}/head_summary.pdf"
            items.append(
                item(summary, [model, prompt_set, ALL_PROMPTS, "Head statistics"])
            )
        for view, layout, variant in SWEEP.figures(model, prompt):
            path = f"{folder}/{view}/{layout}-{variant}.pdf"
            title = (
                f"{VIEWS[view].title}: {LAYOUT_TITLES[layout]}{VARIANT_TITLES[variant]}"
            )
            items.append(item(path, [model, prompt_set, prompt.id, title]))
    for name, prompt_set, prompt, kind in SWEEP.comparisons():
        path = f"results/comparisons/{name}/{prompt_set}/{prompt.id}/{kind}.pdf"
        title = KIND_TITLES[kind].capitalize()
        items.append(item(path, [f"{COMPARISON}{name}", prompt_set, prompt.id, title]))
    return items


REPORT_ITEMS = report_items()
RECORD_ITEMS = [
    {
        "key": f"{model}/{prompt_set}/{prompt.id}",
        "path": f"results/{model}/{prompt_set}/{prompt.id}/attention.pt",
        "expected": expectation(model, prompt_set, prompt.id),
    }
    for model, prompt_set, prompt in SWEEP.pairs()
]
CONFIG_YAML = yaml.safe_dump(asdict(SWEEP.config), sort_keys=False, allow_unicode=True)


def git_commit():
    """The checkout's commit (the report's provenance), or a note that there is none."""
    try:
        return subprocess.run(
            ["git", "-C", workflow.basedir, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


COMMIT = git_commit()
