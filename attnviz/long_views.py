"""Views of a long record (attnviz.reduce): pooled maps labelled by token spans, exact rows of
generated tokens, block rollout; and one-line refusals where a view needs every weight.

A pooled cell is a block of tokens (rows `row_edges[i]:row_edges[i + 1]`); its label is the
block's first token with its position (`812: the…`), bold if the block holds a special token.
"""

from __future__ import annotations

import numpy as np
import torch

from attnviz.catalogue import VIEWS
from attnviz.errors import AttnvizError
from attnviz.matrices import ViewData, stored_labels
from attnviz.rollout import block_rollout


def too_long(record: dict, what: str, section: str = "self") -> AttnvizError:
    """The one-line refusal of `what` on a long record: the limit and the setting."""
    reduced = record["reduced"]
    n = max(max(part["shape"]) for part in reduced.values())
    limit = record["meta"].get("settings", {}).get("full_max_tokens")
    return AttnvizError(
        f"{what} needs every attention weight, but prompt '{record['meta'].get('prompt_id')}' "
        f"has {n} tokens, more than extract.full_max_tokens={limit}, so its record holds pooled "
        f"maps only; extract it again with extract.full_max_tokens={n} (or draw without {what})"
    )


def span_labels(tokens: list[str], edges: torch.Tensor) -> list[str]:
    """A label per block: its token, or its first token with its position and an ellipsis
    (tokens cut to 12 characters)."""
    edges = edges.tolist()
    short = [t if len(t) <= 12 else t[:11] + "…" for t in tokens]
    return [
        short[a] if b - a == 1 else f"{a}: {short[a]}…"
        for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]


def span_special(special, edges: torch.Tensor) -> list[bool] | None:
    """Whether each block holds a special token."""
    if special is None:
        return None
    flags = torch.as_tensor(special).bool()
    edges = edges.tolist()
    return [bool(flags[a:b].any()) for a, b in zip(edges[:-1], edges[1:], strict=True)]


class PooledMaps:
    """The (layers, heads, mq, mk) maps of a long record as a read-only array that converts
    only what is indexed (one layer's heads: [i], one head: [i, j]), so a layer-average or
    a page of chosen heads reads just those maps from the memory-mapped record."""

    ndim = 4

    def __init__(self, maps: list[torch.Tensor], rows: int, cols: int):
        self.maps, self.rows, self.cols = maps, rows, cols
        self.shape = (len(maps), maps[0].shape[0], rows, cols)

    def __getitem__(self, index):
        layer, *rest = index if isinstance(index, tuple) else (index,)
        heads = self.maps[layer][:, : self.rows, : self.cols]  # (heads, mq, mk)
        return heads[tuple(rest)].float().numpy() if rest else heads.float().numpy()

    def __array__(self, dtype=None, copy=None):
        return np.stack([self[i] for i in range(self.shape[0])]).astype(dtype or np.float32)


def _block_of(edges: torch.Tensor, token: int) -> int:
    return int(torch.searchsorted(edges, torch.tensor([token]), right=True)[0]) - 1


def long_view_data(record: dict, view: str, ignore_first_token: bool, word_level: bool):
    """`view_data` of a long record: the same fields, pooled."""
    spec = VIEWS[view]
    if word_level:
        raise too_long(record, "word_level")
    if ignore_first_token:
        raise too_long(record, "ignore_first_token")
    part = record["reduced"][spec.section]
    source_end = record.get("segments", {}).get("source_end")
    if spec.row_part == "generated":
        return _generated_view(record, view, part, source_end)
    rows_edges, cols_edges = part["row_edges"], part["col_edges"]
    blocks_r, blocks_c = len(rows_edges) - 1, len(cols_edges) - 1
    if spec.row_part == "source":
        blocks_r = blocks_c = _block_of(rows_edges, source_end)
        rows_edges, cols_edges = rows_edges[: blocks_r + 1], cols_edges[: blocks_c + 1]
    if spec.rollout:
        attention = block_rollout(record, spec.section)[:, None]  # (layers, 1, mq, mk)
        mean = attention[:, 0]
    else:
        attention = PooledMaps(part["maps"], blocks_r, blocks_c)
        mean = torch.stack([m[:blocks_r, :blocks_c].float() for m in part["mean_maps"]])
    rows, cols = record[spec.rows], record[spec.cols]
    prefix = {key: key.removesuffix("tokens") for key in (spec.rows, spec.cols)}
    layers, heads = stored_labels(record, spec.section, *attention.shape[:2])
    f = max(int(rows_edges.diff().max()), int(cols_edges.diff().max()))
    question_end = record.get("segments", {}).get("question_end")
    data = ViewData(
        attention if spec.rollout is False else attention.numpy(),  # (layers, heads, mq, mk)
        span_labels(rows, rows_edges),
        span_labels(cols, cols_edges),
        spec.causal,
        f"{spec.title}, max over blocks of up to {f} tokens" if f > 1 else spec.title,
        list(layers),
        ["rollout"] if spec.rollout else heads,
        span_special(record.get(f"{prefix[spec.rows]}special_tokens_mask"), rows_edges),
        span_special(record.get(f"{prefix[spec.cols]}special_tokens_mask"), cols_edges),
        _block_of(rows_edges, question_end) if question_end is not None else None,
    )
    data.head_mean = mean.numpy()  # (layers, mq, mk)
    if not spec.rollout:
        data.top = _top_cells(part, rows_edges, cols_edges, record[spec.rows], record[spec.cols])
    return data


def _generated_view(record: dict, view: str, part: dict, source_end: int) -> ViewData:
    """Rows of generated tokens: stored exactly, so the view is exact."""
    spec = VIEWS[view]
    generated = part["generated"]  # (layers, heads, g, k)
    cols = slice(None, source_end) if spec.col_part == "source" else slice(source_end, None)
    attention = generated[..., cols].float().numpy()
    special = record.get("special_tokens_mask")
    flags = [bool(x) for x in special] if special is not None else None
    layers, heads = stored_labels(record, spec.section, *attention.shape[:2])
    return ViewData(
        attention,
        list(record["tokens"])[source_end:],
        list(record["tokens"])[cols],
        spec.causal,
        spec.title,
        list(layers),
        heads,
        flags[source_end:] if flags else None,
        flags[cols] if flags else None,
    )


def _top_cells(part: dict, rows_edges, cols_edges, row_tokens, col_tokens) -> list:
    """Per stored layer, per head (and last the head mean): the exact top cells inside the
    view, as (row block, column block, score, "row token -> column token")."""
    k = part["shape"][1]
    n_rows, n_cols = int(rows_edges[-1]), int(cols_edges[-1])
    rows, cols = part["top_index"] // k, part["top_index"] % k  # (layers, heads + 1, top)
    row_blocks = torch.searchsorted(rows_edges, rows, right=True) - 1  # all cells at once
    col_blocks = torch.searchsorted(cols_edges, cols, right=True) - 1
    inside = (rows < n_rows) & (cols < n_cols) & (part["top_values"] >= 0)
    values, rows, cols = part["top_values"].tolist(), rows.tolist(), cols.tolist()
    row_blocks, col_blocks, inside = row_blocks.tolist(), col_blocks.tolist(), inside.tolist()
    return [
        [
            [
                (row_blocks[i][h][t], col_blocks[i][h][t], values[i][h][t], label)
                for t in range(len(values[i][h]))
                if inside[i][h][t]
                for label in [f"{row_tokens[rows[i][h][t]]} -> {col_tokens[cols[i][h][t]]}"]
            ]
            for h in range(len(values[i]))
        ]
        for i in range(len(values))
    ]
