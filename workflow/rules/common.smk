# Helpers: the sweep (composed once per workflow run) and what its rules need of it. Every path
# comes from attnviz.paths, every job's tasks from attnviz.tasks, the report's contents from
# attnviz.report_items.
import re
import sys
from dataclasses import asdict
from pathlib import Path

from attnviz import paths, report_items, resources, tasks
from attnviz.catalogue import DEMO_MODELS
from attnviz.config import cached_sweep, model_source
from attnviz.errors import AttnvizError

# Every cluster job parses this file again: it reads the sweep composed by the first parse.
try:
    SWEEP = cached_sweep(
        config, Path(workflow.basedir) / "conf", Path(".snakemake/attnviz")
    )
except AttnvizError as error:
    sys.exit(f"attnviz: {error}")

CONDA_ENV = "../envs/attnviz.yaml"  # relative to the rule files
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
    return tasks.set_records(SWEEP, wildcards.prompt_set, wildcards.model)


def expected_set_records(wildcards):
    return tasks.set_expectations(SWEEP, wildcards.model, wildcards.prompt_set)


def rule_name(verb_object, *names):
    """The name of the job of a (model or comparison, prompt set): plot_figures_minilm_demo."""
    return "_".join([verb_object, *(re.sub(r"[^A-Za-z0-9_]", "_", n) for n in names)])


def model_sets():
    return [
        (model, prompt_set)
        for model in SWEEP.models
        for prompt_set in SWEEP.prompt_sets
    ]


def outputs(task_list, kind):
    """One field (figure, thumbnail) of every task of a job."""
    return [task[kind] for task in task_list]


REPORT_ITEMS = report_items.report_items(SWEEP)
