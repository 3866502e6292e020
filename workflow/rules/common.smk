# Helpers: the sweep (composed once per workflow run) and the paths of what it makes.
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

from attnviz import resources
from attnviz.catalogue import DEMO_MODELS, KIND_TITLES, VIEWS, selection_title
from attnviz.config import cached_sweep, model_source
from attnviz.errors import AttnvizError
from attnviz.report import ALL_PROMPTS, COMPARISON

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


def stats_mem_mb(wildcards, input, attempt):
    """Records are read one at a time: the largest one counts."""
    return resources.stats_mem_mb(list(input.records), attempt)


def comparison_mem_mb(wildcards, input, attempt):
    """One prompt's records of the compared models at a time: the largest times the models."""
    models = len({Path(record).parts[1] for record in input.records})
    return resources.stats_mem_mb(list(input.records), attempt) * models


def set_records_of(wildcards):
    """Every record of one model on one prompt set (a rule with wildcards)."""
    return set_records(wildcards.model, wildcards.prompt_set)


def set_records(model, prompt_set):
    return expand(record_paths(prompt_set), model=model)


HEAD_STATS = "results/{model}/{prompt_set}/head_stats.csv"


def rule_name(verb_object, *names):
    """The name of the job of a (model or comparison, prompt set): plot_figures_minilm_demo."""
    return "_".join([verb_object, *(re.sub(r"[^A-Za-z0-9_]", "_", n) for n in names)])


def model_sets():
    return [
        (model, prompt_set)
        for model in SWEEP.models
        for prompt_set in SWEEP.prompt_sets
    ]


def expectation(model, prompt_set, prompt_id):
    """What a record must have been made for: checked by each job that reads it."""
    prompt = asdict(SWEEP.prompt(prompt_set, prompt_id))
    return {"model": model, "prompt": prompt, "settings": EXTRACT_SETTINGS}


def expected_set_records(wildcards):
    return [
        expectation(wildcards.model, wildcards.prompt_set, prompt)
        for prompt in SWEEP.prompt_ids(wildcards.prompt_set)
    ]


def set_figures(model, prompt_set):
    """(record, expectation, view, layout, variant, figure path) of every figure of a model
    on a set."""
    for prompt in SWEEP.prompt_sets[prompt_set].prompts:
        folder = f"results/{model}/{prompt_set}/{prompt.id}"
        expected = expectation(model, prompt_set, prompt.id)
        for view, layout, variant in SWEEP.figures(model, prompt):
            path = f"{folder}/{view}/{layout}-{variant}.pdf"
            yield f"{folder}/attention.pt", expected, view, layout, variant, path


def set_tasks(model, prompt_set):
    """The figures one job draws (attnviz.plot.batch.FigureTask fields), grouped by record."""
    return [
        dict(
            record=r,
            expected=e,
            view=v,
            layout=lay,
            variant=var,
            figure=f,
            thumbnail=thumbnail(f),
        )
        for r, e, v, lay, var, f in set_figures(model, prompt_set)
    ]


def set_outputs(model, prompt_set, kind):
    return [task[kind] for task in set_tasks(model, prompt_set)]


def thumbnail(path):
    return path.removesuffix(".pdf") + ".png"


def comparison_sets():
    return sorted(
        {(name, prompt_set) for name, prompt_set, _, _ in SWEEP.comparisons()}
    )


def comparison_tasks(name, prompt_set):
    """The figures of comparison `name` on a prompt set (ComparisonTask fields)."""
    models = SWEEP.config.comparison[name].models
    tasks = []
    for _, set_name, prompt, kind in SWEEP.comparisons():
        if (_, set_name) == (name, prompt_set):
            path = f"results/comparisons/{name}/{prompt_set}/{prompt.id}/{kind}.pdf"
            records = [
                f"results/{m}/{prompt_set}/{prompt.id}/attention.pt" for m in models
            ]
            views = SWEEP.comparison_views(name, prompt)
            tasks.append(
                dict(
                    records=records,
                    expected=[expectation(m, prompt_set, prompt.id) for m in models],
                    views=views,
                    kind=kind,
                    figure=path,
                    thumbnail=thumbnail(path),
                )
            )
    return tasks


def comparison_records(name, prompt_set):
    return sorted(
        {r for task in comparison_tasks(name, prompt_set) for r in task["records"]}
    )


def comparison_outputs(name, prompt_set, kind):
    return [task[kind] for task in comparison_tasks(name, prompt_set)]


def comparison_settings(name):
    comparison = SWEEP.config.comparison[name]
    return {k: getattr(comparison, k) for k in ("layer", "head", "word_level")}


def item(path, bookmarks):
    return {
        "path": path,
        "thumbnail": thumbnail(path),
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
