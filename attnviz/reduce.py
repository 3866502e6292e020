"""Capture-time reduction of long prompts: what a record keeps when N^2 x layers x heads
does not fit.

Each chunk of query rows the capture computes (attnviz.capture) is folded at once, on the
device it was computed on, into per-(section) accumulators; only they cross to host memory
when the forward pass ends:

- head statistics: every statistic of attnviz.head_stats is a sum over rows (`add_block`),
  so the stream gives what `head_statistics` gives on the whole matrix;
- pooled maps: per (layer, head) and for the head mean, the maximum over blocks of f x f
  tokens (max pooling: a peak of one cell stays as strong as it is; a mean would dilute a
  sink column 1 : f); at most `map_size` blocks per side. Segments are pooled on their own
  (token 0, the question / context, the prompt / generated text), so a segment is whole
  blocks and the first token, the usual attention sink, is a column of its own;
- the block means of the head mean (rows averaged, columns summed: each row still sums to 1),
  which rollout multiplies through the layers;
- the exact top `top_cells` cells of every head and of the head mean (a running top-k);
- in full: the rows of generated tokens (few rows x N, exact), and the layers x heads a
  config names (`extract.full_layers`, `extract.full_heads`).

A producer that computes a block one head at a time (attnviz.softmax_rows on the CPU) hands
each head's weights to `fold` while they are still in cache; `add` then reads what it needs
of every weight (row maxima, the head mean) from what `fold` kept instead of from memory.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from attnviz.statistics import add_block, finish_sums, row_sums, stream_inputs


@dataclass(frozen=True)
class Axis:
    """How one side of a map (n tokens) is pooled: segments [a, b) in blocks of f tokens."""

    n: int
    segments: tuple[tuple[int, int], ...]
    f: int

    @property
    def edges(self) -> torch.Tensor:
        """Block boundaries, (blocks + 1,) from 0 to n."""
        starts = [e for a, b in self.segments for e in range(a, b, self.f)]
        return torch.tensor([*starts, self.n], dtype=torch.long)

    @property
    def blocks(self) -> int:
        return sum(math.ceil((b - a) / self.f) for a, b in self.segments)


def pooling_axis(n: int, size: int, cuts: Sequence[int] = ()) -> Axis:
    """The smallest block width that pools n tokens into at most `size` blocks, each segment
    between `cuts` on its own (cuts are dropped if there are more segments than blocks)."""
    bounds = sorted({0, n, *(c for c in cuts if 0 < c < n)})
    segments = tuple(zip(bounds[:-1], bounds[1:], strict=True))
    if len(segments) > size:
        segments = ((0, n),)
    f = max(1, math.ceil(n / size))
    while sum(math.ceil((b - a) / f) for a, b in segments) > size:
        f += 1
    return Axis(n, segments, f)


def pool_columns(block: torch.Tensor, axis: Axis, maximum: bool) -> torch.Tensor:
    """(..., w) -> (..., blocks): the maximum (else the sum) of each block of columns;
    columns past w (keys a causal chunk cannot see) count as zeros."""
    width, parts = block.shape[-1], []
    for a, b in axis.segments:
        count = math.ceil((b - a) / axis.f)
        seg = block[..., a : min(b, width)]  # (..., n)
        if seg.shape[-1] == 0:
            parts.append(block.new_zeros(*block.shape[:-1], count))
            continue
        if maximum:  # a pooling kernel: several times faster than a reduction over (..., f)
            flat = seg.reshape(-1, *seg.shape[-2:])  # (heads, rows, n): a view, not a copy
            out = torch.nn.functional.max_pool1d(flat, axis.f, ceil_mode=True)
            out = out.view(*block.shape[:-1], -1)
        else:
            whole = seg.shape[-1] // axis.f * axis.f
            out = seg[..., :whole].unflatten(-1, (-1, axis.f)).sum(-1)
            if whole < seg.shape[-1]:
                out = torch.cat([out, seg[..., whole:].sum(-1, keepdim=True)], -1)
        if out.shape[-1] < count:
            out = torch.nn.functional.pad(out, (0, count - out.shape[-1]))
        parts.append(out)
    return torch.cat(parts, -1) if len(parts) > 1 else parts[0]


def pool_rows(block: torch.Tensor, spans: list[tuple[int, int]], how: str) -> torch.Tensor:
    """(..., rows, w) -> (..., pieces, w): the maximum ("amax") or "sum" of the rows of each
    of the contiguous `spans`; a run of spans of one length is one reduction."""
    parts, i = [], 0
    while i < len(spans):
        a, b = spans[i]
        j = i
        while j + 1 < len(spans) and spans[j + 1][1] - spans[j + 1][0] == b - a:
            j += 1
        run = block[..., a : spans[j][1], :].unflatten(-2, (j - i + 1, b - a))  # (..., n, f, w)
        parts.append(getattr(run, how)(-2))
        i = j + 1
    return torch.cat(parts, -2) if len(parts) > 1 else parts[0]


@dataclass
class LongSpec:
    """What to keep of one long prompt, section by section (kept-token coordinates)."""

    map_size: int
    top_cells: int
    full_layers: Sequence[int]  # layers kept in full (extract.full_layers, as configured)
    full_heads: Sequence[int] | None  # their heads (None: all kept heads)
    causal: dict[str, bool]
    special: dict[str, torch.Tensor]  # section -> (k,) bool of its keys
    cuts: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]  # section -> row, column cuts
    source_end: int | None = None  # the first generated token (self section)
    sections: dict = field(default_factory=dict)  # section -> SectionReducer


def long_spec(settings, kept: dict, architecture: str, segments: dict, special, target_special):
    """How to reduce a prompt with more kept tokens than `settings.full_max_tokens` (None: keep
    every weight). `kept`: section -> (rows, columns) kept; `segments`: boundaries in tokens
    (question_end, source_end); `special`, `target_special`: (n,) bool of each side."""
    if max(len(rows) for rows, _ in kept.values()) <= settings.full_max_tokens:
        return None
    main = "self" if "self" in kept else "encoder"
    ends = {name: int((kept[main][0] < end).sum()) for name, end in segments.items()}
    source = (1, *ends.values())  # token 0 (the usual sink) is a segment of its own
    cuts = {main: (source, source), "decoder": ((1,), (1,)), "cross": ((1,), source)}
    sides = {"self": special, "encoder": special, "decoder": target_special, "cross": special}
    return LongSpec(
        map_size=settings.map_size,
        top_cells=settings.top_cells,
        full_layers=settings.full_layers,
        full_heads=settings.full_heads,
        causal={
            "self": architecture == "decoder",
            "encoder": False,
            "decoder": True,
            "cross": False,
        },
        special={section: sides[section][cols] for section, (_, cols) in kept.items()},
        cuts=cuts,
        source_end=ends.get("source_end"),
    )


@dataclass
class Folded:
    """What `SectionReducer.fold` has read of one block of rows so far."""

    slot: int
    first: int
    row_maxima: torch.Tensor  # (heads, pieces, w): the maximum of each row piece
    mean: torch.Tensor  # (rows, w): the head mean, of the heads folded so far
    heads: int = 0


class SectionReducer:
    """The accumulators of one section of one prompt: `add` a chunk of rows, then `result`."""

    def __init__(self, spec: LongSpec, section: str, layers: list[int], heads: int, shape, full):
        """`layers`: the model's indices of the stored layers; `heads`: stored heads; `shape`:
        (q, k); `full`: (stored layer slots, stored head positions) kept at full resolution."""
        self.spec, self.section, self.layers = spec, section, layers
        self.q, self.k = shape
        row_cuts, col_cuts = spec.cuts.get(section, ((), ()))
        self.rows = pooling_axis(self.q, spec.map_size, row_cuts)
        self.row_edge_list = self.rows.edges.tolist()
        self.cols = pooling_axis(self.k, spec.map_size, col_cuts)
        self.heads, self.causal = heads, spec.causal[section]
        self.source_end = spec.source_end if section == "self" else None
        self.full_slots, self.full_heads = full
        self.state: dict[str, torch.Tensor] | None = None
        self._folded: Folded | None = None  # the block `fold` is filling
        self._memory: torch.Tensor | None = None  # its head mean's, reused

    def _allocate(self, device, dtype) -> None:
        layers, heads, mq, mk = len(self.layers), self.heads, self.rows.blocks, self.cols.blocks
        top = min(self.spec.top_cells, self.q * self.k)
        zeros = dict(device=device)
        self.state = {
            "maps": torch.zeros(layers, heads, mq, mk, **zeros),  # (layers, heads, mq, mk)
            "mean_maps": torch.zeros(layers, mq, mk, **zeros),
            "block_mean": torch.zeros(layers, mq, mk, **zeros),
            "top_values": torch.full((layers, heads + 1, top), -1.0, **zeros),
            "top_index": torch.zeros(layers, heads + 1, top, dtype=torch.long, **zeros),
            "full": torch.zeros(
                len(self.full_slots), len(self.full_heads), self.q, self.k, dtype=dtype, **zeros
            ),
        }
        if self.source_end is not None and self.source_end < self.q:
            shape = (layers, heads, self.q - self.source_end, self.k)
            self.state["generated"] = torch.zeros(shape, dtype=dtype, **zeros)
        self.col_edges = self.cols.edges.to(device)
        self.sums = row_sums(layers, heads, device)
        self.log_allowed, self.special = stream_inputs(
            self.q, self.k, self.causal, self.spec.special.get(self.section), device
        )

    def _spans(self, first: int, rows: int) -> list[tuple[int, int]]:
        """Rows first..first + rows cut at the row blocks' edges: (start, end) of each piece,
        counted from `first`."""
        edges = self.row_edge_list
        inside = edges[bisect_right(edges, first) : bisect_left(edges, first + rows)]
        cuts = [first, *inside, first + rows]
        return [(a - first, b - first) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]

    def fold(self, slot: int, heads: slice, weights: torch.Tensor, first: int) -> None:
        """Read query heads `heads` of rows first.. of stored layer `slot` (`weights`: (heads,
        rows, w) float32) as soon as they exist, while they are in cache, for what `add` would
        read every weight of the whole block for: each row piece's maximum, and the heads'
        share of the head mean. The next `add`, of the same rows, uses them once every head
        is in. Heads come in order."""
        count, rows, width = weights.shape
        spans = self._spans(first, rows)
        if heads.start == 0:
            maxima = weights.new_empty(self.heads, len(spans), width)  # (heads, pieces, w)
            if self._memory is None or self._memory.numel() < rows * width:
                self._memory = weights.new_empty(rows * self.k)  # every block's head mean
            mean = self._memory[: rows * width].view(rows, width)
            self._folded = Folded(slot, first, maxima, mean)
        folded = self._folded
        folded.row_maxima[heads] = pool_rows(weights, spans, "amax")
        share = weights[0] if count == 1 else weights.sum(0)  # (rows, w)
        if heads.start == 0:
            torch.mul(share, 1 / self.heads, out=folded.mean)
        else:
            folded.mean.add_(share, alpha=1 / self.heads)
        folded.heads += count

    def add(self, slot: int, block: torch.Tensor, first: int, dtype: torch.dtype, given=None):
        """Fold rows first.. of stored layer `slot`: `block` (heads, rows, w), w <= k, and its
        row sums if known (`given`: attnviz.statistics.RowSums)."""
        if self.state is None:
            self._allocate(block.device, dtype)
        block = block.float()  # (heads, rows, w)
        rows, width = block.shape[1:]
        add_block(
            self.sums, slot, block, first, self.log_allowed, self.special, self.source_end,
            self.causal, given,
        )  # fmt: skip
        # the chunk's rows cut at the row blocks' edges: pieces pooled over rows first (a
        # maximum of whole rows, cheap), then over columns (a pooling kernel on 1/f the data)
        spans = self._spans(first, rows)
        folded, self._folded = self._folded, None
        if folded is not None and (folded.slot, folded.first, folded.heads) == (
            slot, first, self.heads,
        ):  # fmt: skip
            mean, row_maxima = folded.mean, folded.row_maxima
        else:  # the head mean as a matrix product: far faster than a sum over dim 0 on a CPU
            heads = torch.full((1, self.heads), 1 / self.heads, device=block.device)
            mean = (heads @ block.reshape(self.heads, -1)).view(rows, width)  # (rows, w)
            row_maxima = pool_rows(block, spans, "amax")  # (heads, pieces, w)
        edges = self.row_edge_list
        ids = torch.tensor(
            [bisect_right(edges, first + a) - 1 for a, _ in spans], device=block.device
        )
        pooled = pool_columns(row_maxima, self.cols, True)  # (heads, pieces, mk)
        pooled_mean = pool_columns(pool_rows(mean, spans, "amax"), self.cols, True)  # (p, mk)
        sums = pool_rows(mean, spans, "sum")  # (pieces, w)
        state = self.state
        maps = state["maps"][slot]  # (heads, mq, mk); a piece's block may hold earlier rows
        maps[:, ids] = torch.maximum(maps[:, ids], pooled)
        state["mean_maps"][slot, ids] = torch.maximum(state["mean_maps"][slot, ids], pooled_mean)
        state["block_mean"][slot].index_add_(0, ids, pool_columns(sums, self.cols, False))
        spans = torch.tensor(spans, device=block.device)  # (pieces, 2): rows of the chunk
        self._top(slot, slice(0, self.heads), block, pooled, first, spans)
        self._top(slot, slice(self.heads, None), mean[None], pooled_mean[None], first, spans)
        if slot in self.full_slots:
            full = state["full"][self.full_slots.index(slot)]
            full[:, first : first + rows, :width] = block[self.full_heads]
        if "generated" in state and first + rows > self.source_end:
            skip = max(0, self.source_end - first)
            start = first + skip - self.source_end
            state["generated"][slot, :, start : start + rows - skip, :width] = block[:, skip:]

    def _top(self, slot: int, which: slice, block, pooled, first: int, spans) -> None:
        """Merge the chunk's top cells into the running top-k of heads `which` (the mean is
        the last): `block` (heads, rows, w); `pooled` (heads, pieces, mk) the maxima of its
        blocks, rows `spans` (pieces, 2) of the chunk x a block of columns. Only blocks whose
        maximum reaches both the running k-th value and the chunk's k-th block maximum can
        hold a new top cell (each of the k largest blocks holds a cell at least that high),
        so only their cells are read: a few of a long row's thousands."""
        values = self.state["top_values"][slot, which]  # (heads, top)
        if bool((pooled.flatten(1).amax(-1) < values[:, -1]).all()):
            return  # no cell of the chunk reaches any head's running top
        index = self.state["top_index"][slot, which]
        heads, rows, width = block.shape
        top = values.shape[-1]
        kth = pooled.flatten(1).topk(min(top, pooled[0].numel()), -1).values[:, -1]  # (heads,)
        found = torch.nonzero(pooled >= torch.maximum(values[:, -1], kth)[:, None, None])
        head, piece, column_block = found.unbind(-1)  # (m,) each, ordered by head
        edges, device = self.col_edges, block.device
        cols = edges[column_block, None] + torch.arange(self.cols.f, device=device)  # (m, f)
        col_in = cols < edges[column_block + 1, None].clamp(max=width)
        tall = int((spans[:, 1] - spans[:, 0]).max())
        at = spans[piece, :1] + torch.arange(tall, device=device)  # (m, tall) rows of the chunk
        row_in = at < spans[piece, 1:]
        cells = block[
            head[:, None, None],
            at.clamp(max=rows - 1)[:, :, None],
            cols.clamp(max=width - 1)[:, None],
        ]  # (m, tall, f)
        cells = cells.masked_fill(~(row_in[:, :, None] & col_in[:, None]), -1.0).flatten(1)
        flat = ((at + first)[:, :, None] * self.k + cols[:, None]).flatten(1)  # cell in (q, k)
        # the candidates of each head side by side, padded with -1: (heads, most, cells)
        counts = torch.bincount(head, minlength=heads)
        order = torch.arange(len(head), device=device) - (counts.cumsum(0) - counts)[head]
        dense = cells.new_full((heads, int(counts.max()) if len(head) else 0, cells.shape[1]), -1.0)
        dense[head, order] = cells
        positions = torch.zeros_like(dense, dtype=torch.long)
        positions[head, order] = flat
        merged = torch.cat([values, dense.flatten(1)], -1)
        kept, position = merged.topk(top, -1)
        self.state["top_values"][slot, which] = kept
        self.state["top_index"][slot, which] = torch.cat([index, positions.flatten(1)], -1).gather(
            -1, position
        )

    def result(self, dtype: torch.dtype, head_labels: list[int]) -> dict:
        """What the record keeps of this section (see attnviz.record), on the CPU."""
        state = self.state
        counts = self.rows.edges.diff().clamp(min=1).to(state["block_mean"])  # rows per block
        block_mean = state["block_mean"] / counts[None, :, None]
        stats = finish_sums(self.sums, self.q, self.k, self.causal, self.source_end)
        result = {
            "shape": [self.q, self.k],
            "row_edges": self.rows.edges,
            "col_edges": self.cols.edges,
            "maps": [layer.to(dtype).cpu() for layer in state["maps"]],  # (heads, mq, mk) each
            "mean_maps": [layer.to(dtype).cpu() for layer in state["mean_maps"]],
            "block_mean": [layer.cpu() for layer in block_mean],  # float32 (mq, mk) each
            "stats": {name: torch.from_numpy(values) for name, values in stats.items()},
            "top_values": state["top_values"].cpu(),  # (layers, heads + 1, top): last the mean
            "top_index": state["top_index"].cpu(),  # row * k + column
            "full": state["full"].cpu(),  # (full layers, full heads, q, k)
            "full_layers": [self.layers[slot] for slot in self.full_slots],
            "full_heads": [head_labels[h] for h in self.full_heads] if self.full_slots else [],
        }
        if "generated" in state:
            result["generated"] = state["generated"].cpu()  # (layers, heads, q - source_end, k)
        return result
