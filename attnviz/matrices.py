"""What a view hands to a layout, and the record helpers every view builder shares.

`ViewData` (matrices and labels), row normalisation, the source/generated parts of a record
and the labels of its stored layers and heads. `attnviz.views` (token views), `attnviz.words`
(word level) and `attnviz.long_views` (pooled maps of long prompts) build on this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnviz.errors import AttnvizError


def normalized_rows(matrix: np.ndarray) -> np.ndarray:
    """`matrix` (..., q, k) with every row scaled to sum to 1; rows summing to 0 stay 0."""
    sums = matrix.sum(-1, keepdims=True)  # (..., q, 1)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def part_slice(record: dict, part: str, view: str) -> slice:
    if part == "all":
        return slice(None)
    end = record.get("segments", {}).get("source_end")
    if end is None:
        raise AttnvizError(
            f"view '{view}' needs generated tokens, but prompt "
            f"'{record['meta'].get('prompt_id')}' generated none; give it max_new_tokens"
        )
    return slice(None, end) if part == "source" else slice(end, None)


def stored_labels(
    record: dict, section: str, layers: int, heads: int
) -> tuple[list[int], list[str]]:
    """The model's layer index of each of the `layers` stored layers of `section`, and the
    label of each of its `heads` stored heads ("3", or "mean" in a record of head means)."""
    layer_ids = record.get("layers", {}).get(section) or list(range(layers))
    if record["meta"].get("settings", {}).get("head_mean"):
        return list(layer_ids), ["mean"]
    return list(layer_ids), [str(h) for h in record.get("heads", {}).get(section, range(heads))]


@dataclass
class ViewData:
    """What a layout draws: attention of every layer and head, with its labels."""

    attention: np.ndarray  # (layers, heads, q, k) float32
    row_tokens: list[str]
    col_tokens: list[str]
    causal: bool
    title: str
    layers: list[int]  # the model's layer index of each stored layer
    heads: list[str]  # the label of each stored head ("3", or "mean")
    row_special: list[bool] | None = None  # special tokens ([CLS], <s>, ...): bold labels
    col_special: list[bool] | None = None
    question_end: int | None = None  # question_context: the first context token
    # a long record (attnviz.long_views): rows and columns are blocks of tokens
    head_mean: np.ndarray | None = None  # (layers, q, k) max-pooled mean over heads
    top: list | None = None  # [layer][head, then the mean]: exact top cells (long_views)

    def mean_map(self, layer: int) -> np.ndarray:
        """The mean over heads of stored layer `layer`, (q, k)."""
        if self.head_mean is not None:
            return self.head_mean[layer]
        return self.attention[layer].mean(axis=0)
