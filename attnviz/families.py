"""Families whose attention weights are not a (query, key) matrix of the input tokens.

Most models return (batch, heads, q, k) weights. A few compute attention on blocks, windows,
hashed buckets or pooled sequences instead. LongT5's block-local attention maps exactly into the
(q, k) matrix (each block of queries sees its own block and the two beside it; every other cell
is zero), so attnviz maps it. The others are refused before the model runs, with one line that
names the model type and why; any other model whose weights come in another shape is refused
when they do (`check_weights`), never stored wrongly.
"""

from __future__ import annotations

import torch

from attnviz.errors import AttnvizError

_NOT_QK = {
    "longformer": "sliding-window weights (one row of window keys per token, plus global ones)",
    "led": "sliding-window weights (one row of window keys per token, plus global ones)",
    "reformer": "weights over hashed buckets and chunks of tokens",
    "funnel": "weights over a sequence that is pooled shorter between blocks",
}


def check_family(config) -> None:
    """Refuse a model whose attention weights cannot be drawn as a (q, k) matrix."""
    model_type = getattr(config, "model_type", "")
    why = _NOT_QK.get(model_type)
    if model_type == "longt5" and getattr(config, "encoder_attention_type", "") != "local":
        why = "transient-global weights, whose extra keys are block summaries, not tokens"
    if why is not None:
        raise AttnvizError(
            f"model type '{model_type}' computes {why}: not a (query, key) matrix of the input "
            "tokens, so attnviz cannot store or draw it"
        )


def block_length(config) -> int | None:
    """The block length of LongT5's block-local encoder attention, else None."""
    if getattr(config, "model_type", "") == "longt5":
        return config.local_radius + 1
    return None


def block_rows(weights: torch.Tensor, block: int, keys: int):
    """LongT5 local weights (batch, blocks, heads, block, 3 * block) as (first row, rows):
    each block's rows of the (batch, heads, q, k) matrix, zero outside the block's window."""
    batch, blocks, heads, _, window = weights.shape
    for b in range(blocks):
        rows = weights.new_zeros(batch, heads, block, keys)  # (batch, heads, block, k)
        first = (b - 1) * block  # key of the window's first column
        lo, hi = max(0, first), min(keys, first + window)
        if hi > lo:
            rows[..., lo:hi] = weights[:, b, :, :, lo - first : hi - first]
        yield b * block, rows


def check_weights(config, weights: torch.Tensor, keys: int) -> None:
    """Weights must be (batch, heads, rows, keys) (more keys where the model pads its input,
    as BigBird does to a whole block); anything else is refused with one line."""
    if weights.dim() != 4 or weights.shape[-1] < keys:
        raise AttnvizError(
            f"model type '{getattr(config, 'model_type', '?')}' returned attention weights of "
            f"shape {tuple(weights.shape)}, not (batch, heads, query, key={keys}): attnviz "
            "cannot store them as a (query, key) matrix"
        )
