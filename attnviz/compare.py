"""Sweep-wide comparisons: one prompt's attention in several models, on shared labels.

Records of one prompt from several models are aligned into a (models, q, k) stack: the view of
each record (the same view, or square self-attention of the input text in models of different
architectures, e.g. MiniLM's `self_attention` and T5's `encoder_self_attention`), one stored
layer and one head or the head mean. From the stack: the difference of two models, the mean and
standard error over runs (models as seeds of one experiment), or the series over checkpoints
(models in training order: the stack in the order given). Pure NumPy: nothing here draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from attnviz.catalogue import VIEWS, check_models
from attnviz.errors import AttnvizError
from attnviz.matrices import ViewData, normalized_rows
from attnviz.views import view_data


@dataclass(frozen=True)
class Aligned:
    """One matrix per model on shared labels, in the order the records were given."""

    matrices: np.ndarray  # (models, q, k) float32
    models: list[str]
    labels: tuple[list[str], list[str]]  # rows (attending), columns (attended to)
    special: tuple[list[bool] | None, list[bool] | None]  # bold labels per row, column
    causal: bool  # every view is causal: the upper triangle is masked
    level: str  # "token" or "word"
    prompt_id: str
    layers: list[int]  # each model's layer index of its matrix
    heads: list[str]  # each model's head label of its matrix: "mean" (over heads) or "3"


def _of_the_prompt(spec) -> bool:
    """A view of the input's self-attention: the whole input, or a decoder prompt's source."""
    parts = (spec.row_part, spec.col_part)
    return (spec.rows, spec.cols) == ("tokens", "tokens") and parts in (
        ("all", "all"),
        ("source", "source"),
    )


def _text_words(data: ViewData) -> ViewData:
    """Word-level `data` without the words of special tokens ([CLS], <s>, ...), rows summing to
    1 again: only the text's own words, which models with other special tokens share."""
    rows = ~np.array(data.row_special or [False] * len(data.row_tokens))  # (q,) kept
    cols = ~np.array(data.col_special or [False] * len(data.col_tokens))  # (k,) kept
    return replace(
        data,
        attention=normalized_rows(data.attention[:, :, rows][:, :, :, cols]),  # (l, h, q', k')
        row_tokens=[t for t, keep in zip(data.row_tokens, rows, strict=True) if keep],
        col_tokens=[t for t, keep in zip(data.col_tokens, cols, strict=True) if keep],
        row_special=None,
        col_special=None,
        question_end=None,  # comparisons show the whole matrix
    )


def _first_difference(first: list[str], second: list[str]) -> str:
    for i, (a, b) in enumerate(zip(first, second, strict=False)):
        if a != b:
            return f"at {i}: '{a}' vs '{b}'"
    return f"{len(first)} vs {len(second)} of them"


def align(
    records: Sequence[dict],
    views: str | Sequence[str],
    layer: int = -1,
    head: int | None = None,
    word_level: bool = False,
) -> Aligned:
    """The matrices of one prompt's `records` (one per model) on shared labels: `views` is one
    view for all or one per record; `layer` a stored layer (negative: from the end); `head` a
    stored head, or None for the mean over heads. Models whose tokens differ (other tokenizers)
    are compared with `word_level` only: then every model's view is taken at word level, less
    the words of special tokens, and their words must agree. Long records (attnviz.reduce)
    are compared on their pooled maps, block by block, and only with each other."""
    if not records:
        raise AttnvizError("no records to compare; give one record per model")
    views = [views] * len(records) if isinstance(views, str) else list(views)
    if len(views) != len(records):
        raise AttnvizError(f"{len(records)} records but {len(views)} views; give one per record")
    models = [str(r["meta"].get("model")) for r in records]
    prompts = [str(r["meta"].get("prompt_id")) for r in records]
    for model, prompt in zip(models, prompts, strict=True):
        if prompt != prompts[0]:
            raise AttnvizError(
                f"'{models[0]}' shows prompt '{prompts[0]}' but '{model}' shows '{prompt}'; "
                "compare records of one prompt"
            )
    long = [m for m, r in zip(models, records, strict=True) if "reduced" in r]
    if long and len(long) < len(records):  # pooled maps against exact ones: no shared cells
        short = next(m for m in models if m not in long)
        raise AttnvizError(
            f"'{long[0]}' holds pooled maps of prompt '{prompts[0]}' (more tokens than its "
            f"extract.full_max_tokens) but '{short}' every weight; extract all with the same "
            "extract.full_max_tokens to compare them"
        )
    if len(set(views)) > 1:
        for view in views:
            spec = VIEWS.get(view)
            if spec is None or not _of_the_prompt(spec):
                raise AttnvizError(
                    f"views {', '.join(sorted(set(views)))} show different tokens; compare one "
                    "view, or self-attention of the prompt (e.g. self_attention, "
                    "full_sequence, self_attention_source, encoder_self_attention)"
                )
    data = [view_data(r, v, word_level=word_level) for r, v in zip(records, views, strict=True)]
    if word_level:
        data = [_text_words(d) for d in data]
    first = data[0]
    for model, d in zip(models[1:], data[1:], strict=True):
        for ours, theirs in ((first.row_tokens, d.row_tokens), (first.col_tokens, d.col_tokens)):
            if ours == theirs:
                continue
            where = _first_difference(ours, theirs)
            if word_level:
                raise AttnvizError(
                    f"'{models[0]}' and '{model}' split prompt '{prompts[0]}' into different "
                    f"words ({where}); compare records of the same text"
                )
            raise AttnvizError(
                f"'{models[0]}' and '{model}' tokenize prompt '{prompts[0]}' differently "
                f"({where}); set word-level comparison on (word_level: true) to compare them"
            )
    selected = [
        d.pick(layer, head, "comparison ", f"'{m}'") for d, m in zip(data, models, strict=True)
    ]
    return Aligned(
        np.stack([m for m, _, _ in selected]).astype(np.float32),  # (models, q, k)
        models,
        (first.row_tokens, first.col_tokens),
        (first.row_special, first.col_special),
        all(d.causal for d in data),
        "word" if word_level else "token",
        prompts[0],
        [d.layers[layer] for d in data],
        ["mean" if j < 0 else d.heads[j] for d, (_, _, j) in zip(data, selected, strict=True)],
    )


def difference(matrices: np.ndarray) -> np.ndarray:
    """The second model's matrix less the first's (q, k): B - A of a (2, q, k) stack."""
    matrices = np.asarray(matrices, dtype=np.float32)  # (2, q, k)
    check_models("difference", len(matrices))
    return matrices[1] - matrices[0]


def symmetric_limit(values: np.ndarray) -> float:
    """The colour limit L of a diverging map centred on 0 (-L..L): the largest |value|."""
    return max(float(np.abs(values).max(initial=0.0)), 1e-9)


def run_spread(runs: np.ndarray, use_std_error: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Mean over runs (runs, q, k) and its uncertainty: the standard error (sample standard
    deviation / sqrt(runs)), or the standard deviation without `use_std_error`."""
    mean = runs.mean(axis=0)  # (q, k)
    spread = runs.std(axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
    return mean, spread / np.sqrt(len(runs)) if use_std_error else spread
