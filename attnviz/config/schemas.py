"""The schemas: one dataclass per group in `conf/`, and `checked`, which turns options into
them (an unknown key or a value of the wrong type is an error that names it).

The defaults written here are the pipeline's defaults: `conf/` states only what differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING, OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from attnviz.errors import AttnvizError

# The plot options the interactive viewer shares with the figures.
VIEWER_STYLE_KEYS = ("cmap", "gamma", "scale", "vmin", "vmax", "ignore_first_token")


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
    """A mode selects a view of the attention (`attnviz.catalogue.VIEWS`); it has no options of
    its own. The composition fills in the architecture of the models the view applies to."""

    architecture: str | None = None  # the view's, from the catalogue


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
    heads: str = "bottom_k_by_entropy"  # the heads layout: all (a page per layer) | ...
    top_k: int = 8  # top_k_by_<statistic> | bottom_k_by_<statistic>: the k heads it picks
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
