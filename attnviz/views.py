"""Views: pure functions from a record to the matrices and labels a figure shows.

A view names one attention section of a record and which tokens label its rows (the tokens
attending) and its columns (the tokens attended to). Nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnviz.catalogue import VIEWS
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


def view_data(
    record: dict,
    view: str,
    ignore_first_token: bool = False,
    renormalize: bool = False,
    word_level: bool = False,
) -> ViewData:
    """The matrices of `view` in `record`; `ignore_first_token` drops row and column 0
    (`renormalize`: and scales each row to sum to 1 again); `word_level` groups the rows and
    columns into words (`attnviz.words.word_view`)."""
    if view not in VIEWS:
        raise AttnvizError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    arch = record["meta"]["architecture"]
    if spec.architecture != arch:
        raise AttnvizError(
            f"view '{view}' is for {spec.architecture} models but this record is from a "
            f"{arch} model; choose a {arch} view"
        )
    rows_at = part_slice(record, spec.row_part, view)
    cols_at = part_slice(record, spec.col_part, view)
    if "reduced" in record:  # a long prompt: pooled maps
        from attnviz.long_views import long_view_data

        return long_view_data(record, view, ignore_first_token, word_level)
    if spec.rollout:  # (layers, 1, n, n): the rollout after each layer stands in for the heads
        from attnviz.rollout import record_rollout  # torch: not imported where config is parsed

        attention = record_rollout(record, spec.section)[:, None]
    else:
        attention = record["attention"][spec.section][:, :, rows_at, cols_at]  # (l, h, q, k)
    attention = attention.float().numpy()
    rows, cols = list(record[spec.rows])[rows_at], list(record[spec.cols])[cols_at]
    special = {
        key: [bool(x) for x in record[f"{key.removesuffix('tokens')}special_tokens_mask"]]
        for key in {spec.rows, spec.cols}
        if f"{key.removesuffix('tokens')}special_tokens_mask" in record
    }
    row_special = special[spec.rows][rows_at] if spec.rows in special else None
    col_special = special[spec.cols][cols_at] if spec.cols in special else None
    question_end = record.get("segments", {}).get("question_end")
    if view == "question_context" and question_end is None:
        raise AttnvizError(
            f"view 'question_context' needs a question/context pair, but prompt "
            f"'{record['meta'].get('prompt_id')}' is a single text; give it question and context"
        )
    if ignore_first_token:
        attention, rows, cols = attention[:, :, 1:, 1:], rows[1:], cols[1:]
        row_special = row_special[1:] if row_special else None
        col_special = col_special[1:] if col_special else None
        question_end = question_end - 1 if question_end else None
        if renormalize:
            attention = normalized_rows(attention)
    layers, heads = stored_labels(record, spec.section, *attention.shape[:2])
    if spec.rollout:
        heads = ["rollout"]
    data = ViewData(
        attention,
        rows,
        cols,
        spec.causal,
        spec.title,
        list(layers),
        heads,
        row_special,
        col_special,
        question_end,
    )
    if word_level:
        from attnviz.words import word_view  # attnviz.words builds on this module

        return word_view(data, record, view, ignore_first_token)
    return data
