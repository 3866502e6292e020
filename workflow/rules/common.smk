# Helpers: the sweep (composed once per workflow run) and the paths of what it makes.
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from attnviz import resources
from attnviz.config import DEMO_MODELS, LAYOUTS, VARIANTS, cached_sweep, model_source
from attnviz.errors import AttnvizError
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
    "heads": "heads per layer",
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


def extraction_mem_mb(wildcards, attempt):
    """Scales with the model's weights, and with each retry."""
    model = SWEEP.models[wildcards.model]
    return resources.extraction_mem_mb(model, model_source(model), attempt)


def extraction_gpus(wildcards):
    return resources.extraction_gpus(SWEEP.models[wildcards.model])


def plot_mem_mb(wildcards, input, attempt):
    return resources.plot_mem_mb(input.record, attempt)


def report_items():
    """Every figure of the sweep with its bookmarks: model > prompt set > prompt > figure."""
    items = []
    for model, prompt_set, prompt in SWEEP.pairs():
        folder = f"results/{model}/{prompt_set}/{prompt.id}"
        for view, layout, variant in SWEEP.figures(model, prompt):
            path = f"{folder}/{view}/{layout}-{variant}.pdf"
            title = (
                f"{VIEWS[view].title}: {LAYOUT_TITLES[layout]}{VARIANT_TITLES[variant]}"
            )
            bookmarks = [model, prompt_set, prompt.id, title]
            thumbnail = path.removesuffix(".pdf") + ".png"
            items.append({"path": path, "thumbnail": thumbnail, "bookmarks": bookmarks})
    return items


REPORT_ITEMS = report_items()
RECORD_ITEMS = [
    {
        "key": f"{model}/{prompt_set}/{prompt.id}",
        "path": f"results/{model}/{prompt_set}/{prompt.id}/attention.pt",
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
