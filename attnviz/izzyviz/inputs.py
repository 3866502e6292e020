"""What IzzyViz's users pass in (tuples of layer tensors, tensors, NumPy arrays), checked and
copied: nothing here or downstream writes into the caller's arrays."""

from __future__ import annotations

import re

import numpy as np

from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError

# [CLS], [SEP], <s>, </s>, <pad>, <|endoftext|>: drawn bold, as IzzyViz does
_SPECIAL = re.compile(r"^(\[[A-Z_]+\]|<[^<>\s]+>|<\|[^|]+\|>)$")


def as_array(value, name: str) -> np.ndarray:
    """A float32 NumPy copy of a tensor, array or (nested) sequence of them."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise AttnvizError(
                f"{name} is empty: the model ran with sdpa or flash attention, which return no "
                "weights; load it with attn_implementation='eager'"
            )
        parts = [as_array(v, name) for v in value]
        if len({p.shape for p in parts}) != 1:
            raise AttnvizError(
                f"{name} holds arrays of shapes {sorted({p.shape for p in parts})}; "
                "give arrays of one shape"
            )
        return np.stack(parts)
    if hasattr(value, "detach"):  # a torch tensor, on any device and dtype
        value = value.detach().float().cpu().numpy()
    try:
        array = np.array(value, dtype=np.float32, copy=True)
    except (TypeError, ValueError):
        raise AttnvizError(
            f"{name} is a {type(value).__name__}; pass a tensor, a NumPy array or a tuple of them"
        ) from None
    if not np.isfinite(array).all():
        raise AttnvizError(f"{name} holds NaN or inf values; pass finite attention scores")
    return array


def layer_stack(attentions, name: str = "attentions") -> np.ndarray:
    """(layers, heads, q, k) from what a model returns: a tuple of (1, heads, q, k) per layer,
    or one tensor/array (layers, 1, heads, q, k) or (layers, heads, q, k)."""
    stack = as_array(attentions, name)
    if stack.ndim == 5:
        if stack.shape[1] != 1:
            raise AttnvizError(
                f"{name} holds a batch of {stack.shape[1]} inputs; pass one input's attention "
                "(batch size 1, or attentions[layer][i:i + 1])"
            )
        stack = stack[:, 0]
    if stack.ndim != 4:
        raise AttnvizError(
            f"{name} has shape {tuple(stack.shape)}; pass one (1, heads, q, k) tensor per "
            "layer, as model(..., output_attentions=True).attentions holds"
        )
    return stack  # (layers, heads, q, k)


def matrix_2d(value, name: str = "attention_matrix") -> np.ndarray:
    """A (q, k) matrix; singleton dimensions (batch, head) are dropped."""
    matrix = as_array(value, name)
    if matrix.ndim > 2:
        matrix = matrix.reshape([d for d in matrix.shape if d != 1] or [1, 1])
    if matrix.ndim != 2:
        raise AttnvizError(
            f"{name} has shape {tuple(as_array(value, name).shape)}; pass one (q, k) matrix"
        )
    return matrix


def check_index(name: str, index: int, count: int, what: str) -> int:
    """A layer or head index (negative counts from the end) inside 0..count-1."""
    if not isinstance(index, (int, np.integer)) or not -count <= index < count:
        raise AttnvizError(
            f"{name} is {index} but there are {count} {what}; choose -{count}..{count - 1}"
        )
    return int(index) % count


def check_tokens(name: str, tokens, count: int, axis: str) -> list[str]:
    tokens = [str(t) for t in tokens]
    if len(tokens) != count:
        raise AttnvizError(
            f"{name} has {len(tokens)} tokens but the attention matrix has {count} {axis}; "
            f"pass the {count} tokens the model saw"
        )
    return tokens


def special_mask(tokens: list[str]) -> list[bool]:
    return [bool(_SPECIAL.match(t)) for t in tokens]


def regions(left_top_cells, right_bottom_cells) -> list[list[int]]:
    """IzzyViz's corner lists as [top, left, bottom, right] boxes."""
    starts, ends = list(left_top_cells or []), list(right_bottom_cells or [])
    if len(starts) != len(ends):
        raise AttnvizError(
            f"left_top_cells has {len(starts)} cells but right_bottom_cells has {len(ends)}; "
            "give one bottom-right cell per top-left cell"
        )
    boxes = []
    for (top, left), (bottom, right) in zip(starts, ends, strict=True):
        if bottom < top or right < left:
            raise AttnvizError(
                f"right_bottom_cells ({bottom}, {right}) is above or left of left_top_cells "
                f"({top}, {left}); give the top-left corner first"
            )
        boxes.append([int(top), int(left), int(bottom), int(right)])
    return boxes


def style_for(n: int, **options) -> PlotConfig:
    """IzzyViz's look (Blues, one panel that grows with the input, boxes only where asked)
    with `options`."""
    options.setdefault("cmap", "Blues")
    options.setdefault("auto_regions", 0)
    options.setdefault("panel_inches", float(np.clip(0.2 * n, 4.0, 18.0)))
    options.setdefault("max_labels", max(40, int(options["panel_inches"] * 8)))
    return PlotConfig(**options)
