"""The sweep configuration: dataclass schemas for every group in `conf/`, and one `compose`.

`compose_sweep` runs Hydra's compose API once, checks the result against the schemas (so an
unknown key or a wrong type is an error that names it), checks names, paths and combinations,
and returns a `Sweep`: plain, validated data that the Snakefile turns into jobs.
This module knows nothing of torch or matplotlib; it is imported when the Snakefile is parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from attnviz.atomic import atomic_path
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
    compared_view,
    parse_selection,
    statistic_applies,
    views_for,
)
from attnviz.errors import AttnvizError
from attnviz.values import check_extract_values, check_indices, check_plot_values

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
# The plot options the interactive viewer shares with the figures.
VIEWER_STYLE_KEYS = ("cmap", "gamma", "scale", "vmin", "vmax", "ignore_first_token")
RESERVED_NAMES = ("models", "logs", "comparisons")  # folders of their own under results/
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PERIODIC = re.compile(r"(.+?)\1{19,}$")  # as Snakemake's PeriodicityDetector (20 repeats)
MAX_NAME = 100


@dataclass
class ModelConfig:
    """One model: exactly one of `hub_id`, `path` or `demo` says where it comes from."""

    architecture: str = MISSING  # encoder | decoder | encoder_decoder
    hub_id: str | None = None  # e.g. "gpt2" or "meta-llama/Llama-3.2-1B"
    path: str | None = None  # a local folder saved with save_pretrained (or holding gguf_file)
    gguf_file: str | None = None  # a GGUF file in `path`, converted once into a cached HF folder
    demo: str | None = None  # a packaged demo model, built into results/models/<demo>
    revision: str | None = None  # hub branch, tag or commit
    dtype: str = "float32"
    device: str = "auto"
    trust_remote_code: bool = False
    mem_gb: float | None = None  # a cluster job's memory; null: estimated from the weights


@dataclass
class PromptConfig:
    """One prompt: a `text`, or a `question` + `context` pair (encoder models).

    `target`: the decoder side of an encoder-decoder model, teacher-forced; `max_new_tokens`:
    tokens to generate after the text (decoder models; encoder-decoder models without target).
    """

    id: str = MISSING
    text: str | None = None
    question: str | None = None
    context: str | None = None
    target: str | None = None
    max_new_tokens: int | None = None


@dataclass
class PromptSetConfig:
    description: str = ""
    prompts: list[PromptConfig] = field(default_factory=list)


@dataclass
class ModeConfig:
    """A mode is a view of the attention; it applies to models of one architecture."""

    architecture: str = MISSING


@dataclass
class PlotConfig:
    """How figures look; one file per style in conf/plot/ (default, paper, slides)."""

    layouts: list[str] = field(default_factory=lambda: ["layer_average", "heads"])
    variants: list[str] = field(default_factory=lambda: ["plain"])  # plain, top_cells, regions
    num_figs_per_row: int = 4
    cmap: str = "viridis"
    gamma: float = 1.0  # power-norm exponent for colour; 1.0 is linear
    scale: str = "panel"  # panel | figure (one scale per figure) | fixed (vmin..vmax, sweep-wide)
    vmin: float = 0.0
    vmax: float = 1.0
    ignore_first_token: bool = False
    renormalize: bool = False  # with ignore_first_token: rows sum to 1 again
    panel_inches: float = 3.2
    max_labels: int = 40  # above this many tokens, label every k-th token only
    font_size: float = 7.0
    layer: int = -1  # the single layout: this stored layer (negative: from the end)
    head: int | None = None  # the single layout: this head, or null for the head mean
    top_n: int = 3  # top_cells: the highest cells, enlarged, scored, their tokens in red
    enlarged_size: float = 1.8  # top_cells: their rows and columns this many times larger
    score_threshold: int = 64  # top_cells: print scores only up to this many tokens
    regions: list[list[int]] = field(default_factory=list)  # [top, left, bottom, right] boxes
    auto_regions: int = 3  # regions: also box this many detected high-attention regions
    region_color: str = "red"  # top_cells, regions: the boxes' colour, line width and opacity
    region_linewidth: float = 1.2
    region_alpha: float = 1.0
    label_regions: bool = False  # regions: number the boxes R1, R2, ... (highest mean first)
    xlabel: str | None = None  # axis titles of single panels, e.g. "Tokens attended to"
    ylabel: str | None = None
    word_level: bool = False  # rows and columns are words (subword tokens merged by offsets)
    heads: str = "all"  # the heads layout: all (a page per layer) | top_k_by_<statistic> | ...
    top_k: int = 8  # ... bottom_k_by_<statistic>: the k heads of the model that statistic picks
    dpi: int = 200  # PNG files (the API writes .png/.svg by file name; sweeps write PDF)


@dataclass
class ExtractConfig:
    """How attention is taken and what of it is kept."""

    storage_dtype: str = "float16"  # float16 | float32
    layers: list[int] | None = None  # layer indices to keep (negative: from the end); null: all
    heads: list[int] | None = None  # head indices to keep; null: all
    head_mean: bool = False  # keep only the mean over the kept heads
    special_tokens: str = "keep"  # keep | drop ([CLS], <s>, ... rows and columns)
    max_new_tokens: int = 8  # encoder-decoder prompts without target and without their own
    do_sample: bool = False  # greedy by default; sampling is seeded
    seed: int = 0
    truncate: bool = False  # cut prompts longer than the model's positions instead of failing
    batch_size: int = 1  # prompts per captured forward pass (right-padded); >1 pays on a GPU
    # Long prompts (more tokens than full_max_tokens) are reduced while they are captured:
    # head statistics, max-pooled maps of at most map_size x map_size, the top_cells exact
    # cells of each head, generated rows and the full_layers x full_heads named in full.
    full_max_tokens: int = 1024
    map_size: int = 512
    top_cells: int = 32
    full_layers: list[int] = field(default_factory=list)  # layers kept in full when long
    full_heads: list[int] | None = None  # their heads (null: all)


@dataclass
class ComparisonConfig:
    """One prompt's attention across models, drawn for every prompt of the chosen sets."""

    models: list[str] = MISSING  # A, B (difference: B - A) | seeds (stability) | checkpoints
    kinds: list[str] = field(default_factory=lambda: ["difference", "circles"])
    view: str | None = None  # null: each model's self-attention over its input
    layer: int = -1  # a stored layer (negative: from the end)
    head: int | None = None  # null: the mean over heads
    word_level: bool = False  # compare words, not tokens: needed when the tokenizers differ
    prompt_sets: list[str] | None = None  # null: every prompt set of the sweep


@dataclass
class SweepConfig:
    title: str = "attnviz report"
    model: dict[str, ModelConfig] = field(default_factory=dict)
    prompts: dict[str, PromptSetConfig] = field(default_factory=dict)
    mode: dict[str, ModeConfig] = field(default_factory=dict)
    plot: PlotConfig = field(default_factory=PlotConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    comparison: dict[str, ComparisonConfig] = field(default_factory=dict)


@dataclass
class Sweep:
    """The validated sweep: what the Snakefile enumerates."""

    config: SweepConfig

    @property
    def models(self) -> dict[str, ModelConfig]:
        return self.config.model

    @property
    def prompt_sets(self) -> dict[str, PromptSetConfig]:
        return self.config.prompts

    def views(self, model: str, prompt: PromptConfig | None = None) -> list[str]:
        """The selected modes that fit this model's architecture (and, given a prompt, that
        have something to show for it: generation views need generated tokens,
        question_context a question/context pair)."""
        arch = self.models[model].architecture
        generates = prompt is not None and prompt.max_new_tokens is not None
        paired = prompt is not None and prompt.question is not None
        return [
            name
            for name, mode in self.config.mode.items()
            if mode.architecture == arch
            and (prompt is None or generates or not VIEWS[name].needs_generation)
            and (prompt is None or paired or not VIEWS[name].needs_pair)
        ]

    def pairs(self):
        """(model, prompt set, prompt) for every prompt of every set, for every model."""
        for model in self.models:
            for set_name, prompt_set in self.prompt_sets.items():
                for prompt in prompt_set.prompts:
                    yield model, set_name, prompt

    def figures(self, model: str, prompt: PromptConfig):
        """(view, layout, variant) of every figure drawn for this model and prompt."""
        for view in self.views(model, prompt):
            for layout in self.config.plot.layouts:
                if layout not in VIEWS[view].layouts:
                    continue
                for variant in self.config.plot.variants:
                    yield view, layout, variant

    def prompt_ids(self, prompt_set: str) -> list[str]:
        return [p.id for p in self.prompt_sets[prompt_set].prompts]

    def prompt(self, prompt_set: str, prompt_id: str) -> PromptConfig:
        return next(p for p in self.prompt_sets[prompt_set].prompts if p.id == prompt_id)

    def comparison_views(self, name: str, prompt: PromptConfig) -> list[str]:
        """The view compared in each model of comparison `name`, in its order, for `prompt`."""
        comparison = self.config.comparison[name]
        generates = prompt.max_new_tokens is not None
        return [
            comparison.view or compared_view(self.models[model].architecture, generates)
            for model in comparison.models
        ]

    def comparisons(self):
        """(comparison, prompt set, prompt, kind) of every comparison figure."""
        for name, comparison in self.config.comparison.items():
            for set_name in comparison.prompt_sets or self.prompt_sets:
                for prompt in self.prompt_sets[set_name].prompts:
                    for kind in comparison.kinds:
                        yield name, set_name, prompt, kind


WORKFLOW_KEYS = ("experiment", "overrides")
_NOT_PROMPTS = [f.name for f in fields(SweepConfig) if f.name != "prompts"]


def sweep_from_workflow_config(config: dict, conf_dir: Path = CONF_DIR) -> Sweep:
    """The sweep for a Snakemake run: `--config experiment=<name> overrides='<overrides>'`."""
    unknown = sorted(set(config) - set(WORKFLOW_KEYS))
    if unknown:
        raise AttnvizError(
            f"snakemake --config: unknown key {', '.join(unknown)}; use experiment=<name> "
            "and/or overrides='<Hydra overrides, space separated>'"
        )
    overrides, experiment = config.get("overrides") or [], config.get("experiment")
    if experiment is not None and not isinstance(experiment, str):
        raise AttnvizError(
            f"snakemake --config: experiment={experiment} is not the name of a saved sweep; "
            "give a file name of conf/experiment/, e.g. experiment=smoke"
        )
    if not isinstance(overrides, (str, list)) or not all(isinstance(o, str) for o in overrides):
        raise AttnvizError(
            f"snakemake --config: overrides={overrides} is not Hydra overrides; give "
            "key=value words, e.g. overrides='model=[minilm] plot.gamma=0.5'"
        )
    if isinstance(overrides, str):
        try:
            overrides = shlex.split(overrides)
        except ValueError as exc:
            raise AttnvizError(
                f"snakemake --config: overrides='{overrides}' cannot be split into words ({exc}); "
                "check its quotes"
            ) from None
    return compose_sweep(overrides, experiment, conf_dir)


def sweep_key(config: dict, conf_dir: Path = CONF_DIR) -> str:
    """What a composed sweep depends on: the workflow config, every file in `conf_dir` and
    attnviz's own modules (the schemas, and the views, statistics and comparisons they check)."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
    modules = sorted(Path(__file__).parent.glob("*.py"))
    for path in [*modules, *sorted(Path(conf_dir).rglob("*.yaml"))]:
        digest.update(str(path.relative_to(path.parent.parent)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cached_sweep(config: dict, conf_dir: Path, cache_dir: Path) -> Sweep:
    """`sweep_from_workflow_config`, composed once per workflow: the validated sweep is kept in
    `cache_dir` under `sweep_key`, so every later parse of the Snakefile with the same
    configuration (each cluster job parses it again) reads it back instead of importing Hydra
    and composing again."""
    path = Path(cache_dir) / f"sweep-{sweep_key(config, conf_dir)}.json"
    if path.exists():
        try:
            cached = json.loads(path.read_text())  # resolved already; prompts taken literally
            sweep = Sweep(literally_checked(SweepConfig, cached, f"cached {path}"))
        except (ValueError, AttnvizError):
            pass  # unreadable or stale: compose again and replace it
        else:
            for name, model in sweep.models.items():
                _check_model(name, model)  # a model folder may have gone since
            check_indices(sweep.config, {n: model_source(m) for n, m in sweep.models.items()})
            return sweep
    sweep = sweep_from_workflow_config(config, conf_dir)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(asdict(sweep.config)))
    print(f"attnviz: composed {conf_dir} into {path}", file=sys.stderr)
    return sweep


def model_source(model: ModelConfig, models_dir: str = "results/models") -> str:
    """Where `from_pretrained` loads this model from: a hub id or a folder."""
    if model.demo is not None:
        return f"{models_dir}/{model.demo}"
    return model.hub_id if model.hub_id is not None else str(Path(model.path).expanduser())


def compose_sweep(
    overrides: list[str] = (), experiment: str | None = None, conf_dir: Path = CONF_DIR
) -> Sweep:
    """Compose `conf/config.yaml` with Hydra once, validate it, and return the sweep."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    overrides = list(overrides)
    if experiment:
        overrides.append(f"experiment={experiment}")
    try:
        with initialize_config_dir(config_dir=str(Path(conf_dir).resolve()), version_base=None):
            cfg = compose("config", overrides=overrides)
    except HydraException as exc:
        raise AttnvizError(_explain_hydra_error(str(exc), Path(conf_dir))) from None
    except OmegaConfBaseException as exc:
        raise AttnvizError(f"config: {str(exc).splitlines()[0]}") from None
    _check_option_files(Path(conf_dir))
    return Sweep(_validate(cfg, {p.stem for p in (Path(conf_dir) / "model").glob("*.yaml")}))


def _explain_hydra_error(message: str, conf_dir: Path) -> str:
    first = message.splitlines()[0]
    missing = re.search(r"Could not (?:find|load) '([^/']+)/([^']+)'", first)
    if missing:
        group, option = missing.groups()
        options = sorted(p.stem for p in (conf_dir / group).glob("*.yaml"))
        return (
            f"config: unknown {group} '{option}'; choose one of {', '.join(options)} "
            f"or add conf/{group}/{option}.yaml"
        )
    hint = next((line for line in message.splitlines()[1:] if line.strip()), "")
    return f"config: {first} {hint}".strip()


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


def _check_option_files(conf_dir: Path) -> None:
    """Each file of a multi-select group holds one top key, its own name (Hydra's pattern)."""
    import yaml

    for group in ("model", "prompts", "mode"):
        for path in sorted((conf_dir / group).glob("*.yaml")):
            keys = list((yaml.safe_load(path.read_text()) or {}).keys())
            if keys != [path.stem]:
                raise AttnvizError(
                    f"config: {path} must hold one top key, '{path.stem}' (its file name), "
                    f"not {', '.join(map(str, keys)) or 'nothing'}"
                )


def literally_checked(schema: type, options, where: str = "config"):
    """`checked`, but every text is taken literally: "${HOME}" stays "${HOME}" (OmegaConf would
    interpolate it). Texts holding "${" are checked as a stand-in, then put back."""
    options = (
        OmegaConf.to_container(options, resolve=False) if OmegaConf.is_config(options) else options
    )
    texts = {}

    def stand_in(value, path):
        if isinstance(value, dict):
            return {k: stand_in(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [stand_in(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            texts[path] = value
            return value.replace("${", "$")
        return value

    result = checked(schema, stand_in(options, ()), where)
    for path, text in texts.items():
        *parents, last = path
        target = result
        for key in parents:
            target = target[key] if isinstance(target, (dict, list)) else getattr(target, key)
        if isinstance(target, (dict, list)):
            target[last] = text
        else:
            setattr(target, last, text)
    return result


def checked(schema: type, options, where: str = "config"):
    """`options` (a dict or a DictConfig) as an instance of the dataclass `schema`: an
    unknown key or a value of the wrong type is an error that names it."""
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), options))
    except ConfigKeyError as exc:
        raise AttnvizError(
            f"{where}: unknown key '{exc.full_key}'; fix its spelling or remove it"
        ) from None
    except ValidationError as exc:
        raise AttnvizError(
            f"{where}: wrong value for '{exc.full_key}': {str(exc).splitlines()[0]}"
        ) from None
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", "")
        raise AttnvizError(f"{where}: '{key}': {str(exc).splitlines()[0]}") from None


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


def _validate(cfg, model_options: set[str]) -> SweepConfig:
    """The checked sweep; `model_options`: the models conf/model/ offers (a comparison of models
    that exist but are not selected is left out, not an error)."""
    # Prompt text is taken literally: "${HOME}" in a prompt is text, not an interpolation.
    sweep: SweepConfig = checked(SweepConfig, OmegaConf.masked_copy(cfg, _NOT_PROMPTS))
    prompts = OmegaConf.to_container(cfg.prompts, resolve=False) if "prompts" in cfg else {}
    sweep.prompts = literally_checked(SweepConfig, {"prompts": prompts}).prompts

    for name, model in sweep.model.items():
        _check_model(check_name("model name", name), model)
    for name, prompt_set in sweep.prompts.items():
        _check_prompt_set(check_name("prompt set name", name), prompt_set)
    for name, mode in sweep.mode.items():
        check_choice(f"config: mode.{name}.architecture", mode.architecture, ARCHITECTURES)
        if name not in VIEWS:
            raise AttnvizError(f"config: unknown mode '{name}'; choose from {', '.join(VIEWS)}")
        if VIEWS[name].architecture != mode.architecture:
            raise AttnvizError(
                f"config: mode '{name}' is for {VIEWS[name].architecture} models, "
                f"not {mode.architecture}; fix conf/mode/{name}.yaml"
            )
    check_plot(sweep.plot)
    check_extract(sweep.extract)
    rollouts = [name for name in sweep.mode if VIEWS[name].rollout]
    if rollouts and sweep.extract.layers is not None:
        raise AttnvizError(
            f"config: mode {rollouts[0]} multiplies every layer but extract.layers keeps "
            f"{sweep.extract.layers} only; set extract.layers=null or drop the rollout modes"
        )
    _check_head_selection(sweep)
    sweep.comparison = {
        name: comparison
        for name, comparison in sweep.comparison.items()
        if _check_comparison(check_name("comparison name", name), comparison, sweep, model_options)
    }
    if not sweep.model:
        raise AttnvizError("config: no model selected; pass e.g. overrides='model=[minilm]'")
    if not sweep.prompts:
        raise AttnvizError("config: no prompt set selected; pass e.g. overrides='prompts=[demo]'")
    check_indices(sweep, {name: model_source(model) for name, model in sweep.model.items()})
    for name, model in sweep.model.items():
        for set_name, prompt_set in sweep.prompts.items():
            for prompt in prompt_set.prompts:
                try:
                    check_prompt_fits(prompt, model.architecture)
                except AttnvizError as exc:
                    raise AttnvizError(f"config: model '{name}', set '{set_name}': {exc}") from None
        if not any(mode.architecture == model.architecture for mode in sweep.mode.values()):
            raise AttnvizError(
                f"config: no selected mode fits model '{name}' ({model.architecture}); "
                f"add one of {', '.join(views_for(model.architecture))} to mode"
            )
    return sweep


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


def check_choice(key: str, value: str, allowed) -> None:
    """`value` must be one of `allowed`; the error names `key` and the choices."""
    if value not in allowed:
        raise AttnvizError(f"{key} is '{value}'; choose one of {', '.join(allowed)}")


def _check_model(name: str, model: ModelConfig) -> None:
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


def _check_head_selection(sweep: SweepConfig) -> None:
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


def _check_comparison(
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


def _check_prompt_set(name: str, prompt_set: PromptSetConfig) -> None:
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
