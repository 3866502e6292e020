"""Checks of the composed config: names, choices, paths and combinations of each model, prompt
set, plot and extract group, the heads the plot picks and each comparison; each fails with one
line that names the key and the fix."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from attnviz import paths
from attnviz.catalogue import (
    ALL_HEADS,
    ARCHITECTURES,
    DEMO_MODELS,
    DEVICES,
    DTYPES,
    KINDS,
    LAYOUTS,
    SCALES,
    SPECIAL_TOKENS,
    STORAGE_DTYPES,
    VARIANTS,
    VIEWS,
    check_models,
    parse_selection,
    statistic_applies,
    views_for,
)
from attnviz.config.schemas import (
    ComparisonConfig,
    ExtractConfig,
    ModelConfig,
    PlotConfig,
    PromptConfig,
    PromptSetConfig,
    SweepConfig,
)
from attnviz.config.sweep import Sweep
from attnviz.errors import AttnvizError
from attnviz.values import check_extract_values, check_plot_values

RESERVED_NAMES = ("models", "logs", "comparisons")  # folders of their own under results/
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PERIODIC = re.compile(r"(.+?)\1{19,}$")  # as Snakemake's PeriodicityDetector (20 repeats)
MAX_NAME = 100


def check_choice(key: str, value: str, allowed) -> None:
    """`value` must be one of `allowed`; the error names `key` and the choices."""
    if value not in allowed:
        raise AttnvizError(f"{key} is '{value}'; choose one of {', '.join(allowed)}")


def check_name(what: str, name: str) -> str:
    """A name that becomes a path or a wildcard: letters, digits, '_', '-', '.' only, at most
    MAX_NAME characters, and not ending in a part repeated 20 times (Snakemake takes such a
    wildcard for an endless recursion)."""
    shown = name if len(name) <= 40 else f"{name[:40]}..."
    if not _NAME.match(name) or name in RESERVED_NAMES:
        raise AttnvizError(
            f"{what} '{shown}' cannot be used as a folder name; use letters, digits, '_', '-' "
            f"and '.' (not first), and not {' or '.join(RESERVED_NAMES)}"
        )
    if len(name) > MAX_NAME:
        raise AttnvizError(
            f"{what} '{shown}' is {len(name)} characters long; shorten it to at most {MAX_NAME} "
            "(it becomes a folder name)"
        )
    periodic = _PERIODIC.search(name)
    if periodic:
        raise AttnvizError(
            f"{what} '{shown}' ends in '{periodic.group(1)}' repeated "
            f"{len(periodic.group(0)) // len(periodic.group(1))} times, which Snakemake refuses "
            "as a wildcard; choose a name that does not repeat itself"
        )
    return name


def model_source(model: ModelConfig, models_dir: str = paths.MODELS) -> str:
    """Where `from_pretrained` loads this model from: a hub id or a folder."""
    if model.demo is not None:
        return f"{models_dir}/{model.demo}"
    return model.hub_id if model.hub_id is not None else str(Path(model.path).expanduser())


def check_model(name: str, model: ModelConfig) -> None:
    check_choice(f"config: model.{name}.architecture", model.architecture, ARCHITECTURES)
    check_choice(f"config: model.{name}.dtype", model.dtype, DTYPES)
    check_choice(f"config: model.{name}.device", model.device, DEVICES)
    given = [k for k in ("hub_id", "path", "demo") if getattr(model, k) is not None]
    if len(given) != 1:
        raise AttnvizError(
            f"config: model '{name}' needs exactly one of hub_id, path or demo (got "
            f"{', '.join(given) or 'none'})"
        )
    if model.mem_gb is not None and model.mem_gb <= 0:
        raise AttnvizError(
            f"config: model.{name}.mem_gb is {model.mem_gb}; give a positive number of GB "
            "or null (estimated from the weight files)"
        )
    if model.demo is not None:
        check_choice(f"config: model.{name}.demo", model.demo, DEMO_MODELS)
    if model.gguf_file is not None and not (
        model.path is not None and (Path(model.path).expanduser() / model.gguf_file).is_file()
    ):
        raise AttnvizError(
            f"config: model '{name}': gguf_file '{model.gguf_file}' is not a file in path "
            f"'{model.path}'; give the GGUF file's folder as path and its name as gguf_file"
        )
    if model.path is not None and not Path(model.path).expanduser().is_dir():
        raise AttnvizError(
            f"config: model '{name}': path '{model.path}' is not a folder; give the folder "
            "written by save_pretrained, or use hub_id for a hub model"
        )


def check_prompt_set(name: str, prompt_set: PromptSetConfig) -> None:
    if not prompt_set.prompts:
        raise AttnvizError(
            f"config: prompt set '{name}' has no prompts; add some under prompts: in "
            f"conf/prompts/{name}.yaml"
        )
    seen = set()
    for prompt in prompt_set.prompts:
        check_name(f"prompt id in set '{name}'", prompt.id)
        if prompt.id in seen:
            raise AttnvizError(f"config: prompt set '{name}' has prompt id '{prompt.id}' twice")
        seen.add(prompt.id)
        where = f"prompt '{prompt.id}' in set '{name}'"
        has_pair = prompt.question is not None or prompt.context is not None
        if has_pair == (prompt.text is not None):
            raise AttnvizError(f"config: {where} needs either text or question + context")
        texts = [prompt.question, prompt.context] if has_pair else [prompt.text]
        if any(t is None or not t.strip() for t in texts):
            raise AttnvizError(f"config: {where} has an empty text; write the prompt text")


def check_prompt_fits(prompt: PromptConfig, architecture: str) -> None:
    """A prompt asks only for what a model of this architecture can do."""
    where = f"prompt '{prompt.id}'"
    if prompt.text is None and architecture != "encoder":
        raise AttnvizError(
            f"{where} is a question/context pair, which needs an encoder model; "
            "give it a text instead (or leave this model out of its prompt set's sweep)"
        )
    if prompt.target is not None and architecture != "encoder_decoder":
        raise AttnvizError(
            f"{where} has a target text, which only an encoder-decoder model reads; "
            "remove target or use such a model"
        )
    if prompt.max_new_tokens is not None and architecture == "encoder":
        raise AttnvizError(
            f"{where} asks to generate {prompt.max_new_tokens} tokens, but an encoder-only "
            "model does not generate; remove max_new_tokens or use a decoder model"
        )
    if prompt.max_new_tokens is not None and prompt.max_new_tokens < 1:
        raise AttnvizError(f"{where}: max_new_tokens must be at least 1")


def check_plot(plot: PlotConfig, where: str = "config: plot") -> PlotConfig:
    for layout in plot.layouts:
        check_choice(f"{where}.layouts", layout, LAYOUTS)
    for variant in plot.variants:
        check_choice(f"{where}.variants", variant, VARIANTS)
    check_choice(f"{where}.scale", plot.scale, SCALES)
    if plot.num_figs_per_row < 1:
        raise AttnvizError(f"{where}.num_figs_per_row must be at least 1")
    if plot.heads != ALL_HEADS:
        try:
            parse_selection(plot.heads)
        except AttnvizError as exc:
            raise AttnvizError(f"{where}.heads: {exc}") from None
    if plot.top_k < 1:
        raise AttnvizError(f"{where}.top_k is {plot.top_k}; choose at least 1 head")
    check_plot_values(plot, where)
    return plot


def check_extract(extract: ExtractConfig, where: str = "config: extract") -> ExtractConfig:
    check_choice(f"{where}.storage_dtype", extract.storage_dtype, STORAGE_DTYPES)
    check_choice(f"{where}.special_tokens", extract.special_tokens, SPECIAL_TOKENS)
    if extract.batch_size < 1:
        raise AttnvizError(f"{where}.batch_size must be at least 1")
    if extract.max_new_tokens < 1:
        raise AttnvizError(f"{where}.max_new_tokens must be at least 1")
    for key, least in (("full_max_tokens", 1), ("map_size", 2), ("top_cells", 1)):
        if getattr(extract, key) < least:
            raise AttnvizError(f"{where}.{key} is {getattr(extract, key)}; choose at least {least}")
    check_extract_values(extract, where)
    return extract


def check_head_selection(sweep: SweepConfig) -> None:
    """plot.heads picks heads by a statistic that every heads page it applies to has."""
    plot, extract = sweep.plot, sweep.extract
    if plot.heads == ALL_HEADS or "heads" not in plot.layouts:
        return
    if extract.head_mean:
        raise AttnvizError(
            f"config: plot.heads={plot.heads} picks heads but extract.head_mean keeps only their "
            "mean; set plot.heads=all or extract.head_mean=false"
        )
    if extract.heads is not None and extract.layers is not None:
        total = len(extract.heads) * len(extract.layers)
        if plot.top_k > total:
            raise AttnvizError(
                f"config: plot.top_k is {plot.top_k} but extract keeps {total} heads "
                f"({len(extract.layers)} layers x {len(extract.heads)}); choose at most {total}"
            )
    _, statistic = parse_selection(plot.heads)
    for model_name, model in sweep.model.items():
        for set_name, prompt_set in sweep.prompts.items():
            generates = any(p.max_new_tokens is not None for p in prompt_set.prompts)
            for view in Sweep(sweep).views(model_name):
                spec = VIEWS[view]
                if not spec.rollout and not statistic_applies(
                    statistic, spec.section, generates and model.architecture == "decoder"
                ):
                    raise AttnvizError(
                        f"config: plot.heads={plot.heads}: view {view} of model '{model_name}' "
                        f"has no {statistic} (prompt set '{set_name}'); choose a statistic it has, "
                        "e.g. bottom_k_by_entropy"
                    )


def check_comparison(
    name: str, comparison: ComparisonConfig, sweep: SweepConfig, model_options: set[str]
) -> bool:
    """Whether comparison `name` is drawn: an error if it is wrong; False (with a note) if
    some of its models exist in conf/model/ but are not in this sweep."""
    where = f"config: comparison '{name}'"
    unknown = [m for m in comparison.models if m not in sweep.model and m not in model_options]
    if unknown:
        raise AttnvizError(
            f"{where}: unknown model '{unknown[0]}'; choose from "
            f"{', '.join(sorted(model_options | set(sweep.model)))} in conf/comparison/{name}.yaml"
        )
    missing = [m for m in comparison.models if m not in sweep.model]
    if missing:
        print(
            f"attnviz: comparison '{name}' left out: {', '.join(missing)} not in this sweep",
            file=sys.stderr,
        )
        return False
    for kind in comparison.kinds:
        check_choice(f"{where}: kinds", kind, KINDS)
        try:
            check_models(kind, len(comparison.models))
        except AttnvizError as exc:
            raise AttnvizError(f"{where}: {exc}") from None
    for model in comparison.models:
        architecture = sweep.model[model].architecture
        view = comparison.view
        if view is not None and (
            VIEWS.get(view) is None or VIEWS[view].architecture != architecture
        ):
            raise AttnvizError(
                f"{where}: view '{view}' does not fit model '{model}' ({architecture}); "
                f"choose one of {', '.join(views_for(architecture))} or null"
            )
    for prompt_set in comparison.prompt_sets or []:
        if prompt_set not in sweep.prompts:
            raise AttnvizError(
                f"{where}: prompt set '{prompt_set}' is not in the sweep; choose from "
                f"{', '.join(sweep.prompts)} or null (all)"
            )
    return True
