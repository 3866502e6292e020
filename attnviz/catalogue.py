"""The catalogue: every name the configuration, the pipeline and the figures agree on.

Views (what each shows, which layouts draw it), architectures, attention sections, head
statistics and head selections, comparison kinds, layouts, variants, scales, dtypes, devices and
the demo models. Plain data and the rules over it, for every stage to read: this module imports
nothing but the standard library and `attnviz.errors`, so the config (parsed with the
Snakefile) checks names without importing torch, numpy or a figure-stage module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from attnviz.errors import AttnvizError

ARCHITECTURES = ("encoder", "decoder", "encoder_decoder")
SECTIONS = ("self", "encoder", "decoder", "cross")  # the keys of a record's "attention"
LAYOUTS = ("layer_average", "heads", "single")
VARIANTS = ("plain", "top_cells", "regions")
SCALES = ("panel", "figure", "fixed")
DTYPES = ("auto", "float32", "float16", "bfloat16")
STORAGE_DTYPES = ("float16", "float32")
DEVICES = ("auto", "cpu", "cuda")
SPECIAL_TOKENS = ("keep", "drop")
DEMO_MODELS = (  # packaged models built into results/models/<name> (attnviz.demo_models)
    "minilm",
    "smollm2",
    "t5_tiny",
    "tinylm_step0",
    "tinylm_step50",
    "tinylm_step200",
    "tinylm_seed1",
    "tinylm_seed2",
)


@dataclass(frozen=True)
class ViewSpec:
    architecture: str
    section: str  # key in record["attention"]
    rows: str  # "tokens" (the input) or "target_tokens" (the decoder side)
    cols: str
    causal: bool  # upper triangle is masked by the model
    title: str
    row_part: str = "all"  # all | source | generated (decoder generation)
    col_part: str = "all"

    needs_pair: bool = False  # a question/context prompt
    rollout: bool = False  # the attention rollout through the layers (attnviz.rollout)

    @property
    def needs_generation(self) -> bool:
        return self.row_part != "all" or self.col_part != "all"

    @property
    def layouts(self) -> tuple[str, ...]:
        """The layouts that draw this view: question_context is five panels of one layer and
        head (single only); a rollout has no heads (one map per layer)."""
        if self.needs_pair:
            return ("single",)
        if self.rollout:
            return tuple(layout for layout in LAYOUTS if layout != "heads")
        return LAYOUTS


VIEWS = {
    "self_attention": ViewSpec("encoder", "self", "tokens", "tokens", False, "Self-attention"),
    "question_context": ViewSpec(
        "encoder", "self", "tokens", "tokens", False, "Question-context", needs_pair=True
    ),
    "full_sequence": ViewSpec("decoder", "self", "tokens", "tokens", True, "Full sequence"),
    "self_attention_source": ViewSpec(
        "decoder", "self", "tokens", "tokens", True, "Source self-attention", "source", "source"
    ),
    "generated_to_source": ViewSpec(
        "decoder", "self", "tokens", "tokens", False, "Generated to source", "generated", "source"
    ),
    "self_attention_generated": ViewSpec(
        "decoder",
        "self",
        "tokens",
        "tokens",
        True,
        "Generated self-attention",
        "generated",
        "generated",
    ),
    "encoder_self_attention": ViewSpec(
        "encoder_decoder", "encoder", "tokens", "tokens", False, "Encoder self-attention"
    ),
    "decoder_self_attention": ViewSpec(
        "encoder_decoder",
        "decoder",
        "target_tokens",
        "target_tokens",
        True,
        "Decoder self-attention",
    ),
    "cross_attention": ViewSpec(
        "encoder_decoder", "cross", "target_tokens", "tokens", False, "Cross-attention"
    ),
    "rollout": ViewSpec(
        "encoder", "self", "tokens", "tokens", False, "Attention rollout", rollout=True
    ),
    "full_sequence_rollout": ViewSpec(
        "decoder", "self", "tokens", "tokens", True, "Full sequence rollout", rollout=True
    ),
    "encoder_rollout": ViewSpec(
        "encoder_decoder", "encoder", "tokens", "tokens", False, "Encoder rollout", rollout=True
    ),
}


def views_for(architecture: str) -> list[str]:
    """The views of models of `architecture`, in catalogue order."""
    return [name for name, spec in VIEWS.items() if spec.architecture == architecture]


# Head statistics (attnviz.head_stats), and the heads layout's selections by them.
STATISTICS = (
    "entropy",  # mean normalised row entropy: 1 uniform over the keys allowed, 0 one-hot
    "sink_first",  # mean attention on key 0
    "sink_special",  # mean summed attention on special tokens ([CLS], <s>, ...)
    "previous_token",  # mean A[i, i - 1] over rows i >= 1
    "diagonal",  # mean A[i, i]
    "distance",  # mean over rows of sum_j A[i, j] * |i - j|, in tokens
    "generated_to_source",  # decoder generation: mean attention of generated rows on the prompt
)
POSITIONAL = ("previous_token", "diagonal", "distance", "generated_to_source")  # square only
ALL_HEADS = "all"
_SELECTION = re.compile(r"(top|bottom)_k_by_(\w+)")


def statistic_applies(name: str, section: str, generates: bool) -> bool:
    """Whether statistic `name` has values in `section` (self, encoder, decoder, cross) of a
    model whose prompts generate text (`generates`: a decoder's generated tokens)."""
    if section == "cross":
        return name not in POSITIONAL
    return name != "generated_to_source" or (section == "self" and generates)


def parse_selection(spec: str) -> tuple[str, str]:
    """(`top` or `bottom`, statistic) of a head selection `top_k_by_<statistic>` /
    `bottom_k_by_<statistic>`; a malformed spec or an unknown statistic is an error."""
    match = _SELECTION.fullmatch(spec)
    if match is None:
        raise AttnvizError(
            f"head selection '{spec}' is malformed; write all, top_k_by_<statistic> or "
            "bottom_k_by_<statistic>, e.g. bottom_k_by_entropy"
        )
    direction, name = match.groups()
    if name not in STATISTICS:
        raise AttnvizError(
            f"unknown statistic '{name}' in '{spec}'; choose one of {', '.join(STATISTICS)}"
        )
    return direction, name


def selection_title(spec: str, k: int) -> str:
    """What a head selection shows, in words: `bottom_k_by_entropy`, 8 -> "bottom 8 heads by
    entropy"."""
    direction, name = parse_selection(spec)
    return f"{direction} {k} heads by {name}"


# Comparisons (attnviz.compare): kind -> (fewest, most) models it compares; None: no limit.
KINDS = {"difference": (2, 2), "circles": (2, 2), "stability": (2, None), "evolution": (2, None)}
KIND_TITLES = {
    "difference": "difference",
    "circles": "comparison with circles",
    "stability": "stability over runs",
    "evolution": "evolution over checkpoints",
}
# each architecture's self-attention over the whole input: what models of any kind share
INPUT_VIEWS = {
    "encoder": "self_attention",
    "decoder": "full_sequence",
    "encoder_decoder": "encoder_self_attention",
}


def compared_view(architecture: str, generates: bool) -> str:
    """The view a comparison shows by default: the model's self-attention over its input; of a
    decoder prompt that generates, the prompt's part only (each model continues it its own way)."""
    return (
        "self_attention_source"
        if architecture == "decoder" and generates
        else INPUT_VIEWS[architecture]
    )


def check_models(kind: str, count: int) -> None:
    """A comparison of `kind` gets a number of models it can draw."""
    if kind not in KINDS:
        raise AttnvizError(f"unknown comparison '{kind}'; choose one of {', '.join(KINDS)}")
    fewest, most = KINDS[kind]
    if most is not None and count != most:
        raise AttnvizError(
            f"comparison '{kind}' shows exactly {most} models but {count} were given; list {most}"
        )
    if count < fewest:
        raise AttnvizError(
            f"comparison '{kind}' needs at least {fewest} models but {count} were given; "
            f"list {fewest} or more"
        )
