"""The viewer's data: a record's sections read a layer at a time, pooled and encoded for the page.

Weights travel as thousandths (uint16, so exact to 3 decimals), high bytes then low bytes,
deflated and base64-encoded; the page inflates them with the browser's DecompressionStream.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Callable, Iterator

import numpy as np
import torch

from attnviz.catalogue import VIEWS
from attnviz.matrices import part_slice, stored_labels
from attnviz.plot.heatmap import causal_mask
from attnviz.viewer.options import ViewerConfig

Emit = Callable[[str, dict], None]  # (file stem, payload) of one head's data
QC_PARTS = (
    ("question", "question"),
    ("context", "context"),
    ("question", "context"),
    ("context", "question"),
)


def encode_u16(values: np.ndarray) -> str:
    """Weights in [0, 1] as thousandths: base64 of the deflated high-byte and low-byte planes."""
    milli = np.rint(np.clip(values, 0.0, 1.0) * 1000).astype(np.uint16).ravel()
    planes = np.concatenate([(milli >> 8).astype(np.uint8), (milli & 255).astype(np.uint8)])
    return base64.b64encode(zlib.compress(planes.tobytes(), 6)).decode("ascii")


def encode_i32(values: np.ndarray) -> str:
    """Integers (little-endian int32), deflated and base64-encoded."""
    raw = np.ascontiguousarray(values, dtype="<i4").tobytes()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def pool_factor(n: int, cells: int) -> int:
    """Tokens per pooled cell so that a side of `n` tokens fits in about `cells` cells."""
    return max(1, math.ceil((n - 1) / max(1, cells - 1)))


def pool_max(matrix: np.ndarray, f: int) -> np.ndarray:
    """`matrix` (q, k) in blocks of f x f tokens, each reduced to its maximum, so a peak (one
    strong cell) keeps its value where a mean would dilute it f*f times. The first token keeps a
    row and column of its own (it is often a sink, and `ignore_first_token` drops it): block
    edges are 0, 1, 1 + f, 1 + 2f, ..."""
    if f == 1:
        return matrix
    q, k = matrix.shape
    pq, pk = 1 + math.ceil((q - 1) / f), 1 + math.ceil((k - 1) / f)
    padded = np.zeros((1 + (pq - 1) * f, 1 + (pk - 1) * f), np.float32)  # weights are >= 0
    padded[:q, :k] = matrix
    rest = padded[1:, 1:].reshape(pq - 1, f, pk - 1, f).max(axis=(1, 3))  # (pq-1, pk-1)
    out = np.empty((pq, pk), np.float32)
    out[0, 0] = padded[0, 0]
    out[0, 1:] = padded[0, 1:].reshape(pk - 1, f).max(axis=1)
    out[1:, 0] = padded[1:, 0].reshape(pq - 1, f).max(axis=1)
    out[1:, 1:] = rest
    return out


def section_spec(architecture: str, section: str):
    """The whole-map view of `section` (its tokens, causal or not, its title)."""
    return next(
        s
        for s in VIEWS.values()
        if s.architecture == architecture
        and s.section == section
        and not s.rollout
        and not s.needs_pair
        and not s.needs_generation
    )


def presets(record: dict, architecture: str, section: str) -> list[dict]:
    """Parts of a section shown by a button: the generated-token views of a decoder, the
    question/context parts of a pair: [{name, rows: [start, end], cols: [start, end]}]."""
    segments = record.get("segments", {})
    out = []
    if "source_end" in segments:
        for name, spec in VIEWS.items():
            if spec.architecture == architecture and spec.section == section:
                if spec.needs_generation and not spec.rollout:
                    rows = part_slice(record, spec.row_part, name)
                    cols = part_slice(record, spec.col_part, name)
                    out.append({"name": spec.title, "rows": _span(rows), "cols": _span(cols)})
    end = segments.get("question_end")
    if end is not None and section == "self":
        parts = {"question": [0, end], "context": [end, None]}
        for rows, cols in QC_PARTS:  # as the question_context figure's panels
            out.append({"name": f"{rows} -> {cols}", "rows": parts[rows], "cols": parts[cols]})
    return out


def _span(part: slice) -> list:
    return [part.start or 0, part.stop]


def head_maps(record: dict, section: str, layer: int) -> Iterator[np.ndarray]:
    """The exact maps of one stored layer: each head's (q, k) in float32, then the head mean.
    Reads one layer (of a memory-mapped record: only its bytes) and one head at a time."""
    stored = record["attention"][section][layer]  # (heads, q, k), lazily read
    total = None
    for head in range(stored.shape[0]):
        matrix = stored[head].float().numpy()  # (q, k)
        total = matrix.copy() if total is None else total + matrix
        yield matrix
    yield total / stored.shape[0]


def _ranges(matrix: np.ndarray, hidden) -> list[float]:
    """min and max of the cells not `hidden` (a mask, or False), then the same without the
    first row and column."""
    visible = np.ma.masked_array(matrix, hidden)
    rest = visible[1:, 1:]
    out = [visible.min(), visible.max()]
    out += [rest.min(), rest.max()] if rest.count() else out
    return [round(float(v), 5) for v in out]


def layer_data(record: dict, section: str, layer: int, config: ViewerConfig) -> Iterator[dict]:
    """What the page shows of each head of one stored layer (then of the head mean): the
    one place where maps are pooled. Each item: `ranges` (see `_ranges`), `thumb` (pooled for
    the model view), `m` (encoded map: exact, or pooled when larger than `config.max_cells`),
    and for pooled maps `x` (exact, encoded) or `ti`/`tv` (the top cells' flat indices and
    weights). Records that will carry pooled maps and top cells need only this changed."""
    _, _, q, k = record["attention"][section].shape
    n, causal = max(q, k), section_spec(record["meta"]["architecture"], section).causal
    factor, thumb_factor = pool_factor(n, config.max_cells), pool_factor(n, config.thumb_cells)
    for matrix in head_maps(record, section, layer):
        data = {
            "ranges": _ranges(matrix, causal and causal_mask(*matrix.shape)),
            "thumb": pool_max(matrix, thumb_factor),
        }
        data["m"] = encode_u16(pool_max(matrix, factor))
        if factor > 1 and n <= config.exact_tokens:
            data["x"] = encode_u16(matrix)
        elif factor > 1 and config.top_cells:
            flat = torch.from_numpy(matrix.ravel())  # topk: fast where most cells tie at 0
            values, top = flat.topk(min(config.top_cells, flat.numel()))
            data["ti"], data["tv"] = encode_i32(top.numpy()), encode_u16(values.numpy())
        yield data


def _coarser(edges: np.ndarray, f: int) -> np.ndarray:
    """Token boundaries of the cells `pool_max(..., f)` makes of cells bounded by `edges`."""
    return edges if f == 1 else np.r_[edges[0], edges[1:-1:f], edges[-1]]


def _pooled_mask(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The causally masked cells of a pooled map whose cells are bounded by `rows` and `cols`
    (token edges): those whose first key lies after their last query. (mq, mk) bool."""
    return cols[:-1][None, :] > rows[1:, None] - 1 + cols[-1] - rows[-1]


def reduced_layer_data(record: dict, section: str, layer: int, config: ViewerConfig):
    """`layer_data` of a reduced record (attnviz.reduce): from its pooled maps (pooled again
    when larger than `config.max_cells`) and its exact top cells; no (q, k) matrix is made."""
    part = record["reduced"][section]
    rows, cols = part["row_edges"].numpy(), part["col_edges"].numpy()
    mq, mk = len(rows) - 1, len(cols) - 1
    causal = section_spec(record["meta"]["architecture"], section).causal
    factor = pool_factor(max(mq, mk), config.max_cells)
    thumb_factor = pool_factor(max(mq, mk), config.thumb_cells)
    heads = part["maps"][layer]  # (heads, mq, mk), lazily read
    maps = [*heads, part["mean_maps"][layer]]
    for head, pooled in enumerate(maps):
        matrix = pooled[:mq, :mk].float().numpy()  # (mq, mk)
        values = part["top_values"][layer, head]  # (top,), -1 where unfilled
        kept = values >= 0
        yield {
            "ranges": _ranges(matrix, causal and _pooled_mask(rows, cols)),
            "thumb": pool_max(matrix, thumb_factor),
            "m": encode_u16(pool_max(matrix, factor)),
            "ti": encode_i32(part["top_index"][layer, head][kept].numpy()),
            "tv": encode_u16(values[kept].float().numpy()),
        }


def reduced_geometry(record: dict, section: str, config: ViewerConfig) -> dict:
    """The index fields of a reduced record's section: shape, cells' token edges, what it
    cannot show."""
    part = record["reduced"][section]
    rows, cols = part["row_edges"].numpy(), part["col_edges"].numpy()
    cells = max(len(rows), len(cols)) - 1
    factor = pool_factor(cells, config.max_cells)
    thumb_factor = pool_factor(cells, config.thumb_cells)
    edges = [_coarser(rows, factor), _coarser(cols, factor)]
    thumb_edges = [_coarser(rows, thumb_factor), _coarser(cols, thumb_factor)]
    q, k = part["shape"]
    limit = record["meta"].get("settings", {}).get("full_max_tokens")
    return {
        "q": q,
        "k": k,
        "factor": int(max(np.diff(e).max() for e in edges)),  # the widest cell, in tokens
        "edges": [e.tolist() for e in edges],
        "thumb_edges": [e.tolist() for e in thumb_edges],
        "exact": "top",
        "reduced": (
            f"{max(q, k)} tokens, more than extract.full_max_tokens={limit}: the record holds "
            "max-pooled maps and each head's exact top cells, not every weight; extract it "
            f"again with extract.full_max_tokens={max(q, k)} for every exact cell"
        ),
    }


def full_geometry(record: dict, section: str, config: ViewerConfig) -> dict:
    """The index fields of a section holding every weight: shape, pooling, exact cells."""
    _, _, q, k = record["attention"][section].shape
    n = max(q, k)
    factor = pool_factor(n, config.max_cells)
    return {
        "q": q,
        "k": k,
        "factor": factor,
        "exact": "all" if factor == 1 else ("zoom" if n <= config.exact_tokens else "top"),
        "thumb_factor": pool_factor(n, config.thumb_cells),
    }


def section_data(record: dict, section: str, config: ViewerConfig, emit: Emit) -> dict:
    """Everything the page needs about one section: its index entry (returned) and each head's
    data (given to `emit`, one file each, loaded when the head is shown). A reduced record's
    come from its pooled maps and top cells."""
    architecture = record["meta"]["architecture"]
    spec = section_spec(architecture, section)
    reduced = "reduced" in record and section in record["reduced"]
    if reduced:
        geometry, each_layer = reduced_geometry(record, section, config), reduced_layer_data
        maps = record["reduced"][section]["maps"]  # per layer (heads, mq, mk)
        layers, heads = len(maps), maps[0].shape[0]
    else:
        geometry, each_layer = full_geometry(record, section, config), layer_data
        layers, heads = record["attention"][section].shape[:2]  # of (layers, heads, q, k)
    ranges, thumbs = [], []
    for layer in range(layers):
        for head, data in enumerate(each_layer(record, section, layer, config)):
            stem = f"{section}_{layer}_{head}"
            ranges.append(data["ranges"])
            thumbs.append(data["thumb"])
            if "x" in data:
                emit(f"{stem}_x", {"x": data.pop("x")})  # exact cells, loaded on zoom
            emit(stem, {key: v for key, v in data.items() if key not in ("ranges", "thumb")})
    ranges = np.array(ranges).reshape(layers, heads + 1, 4)
    layer_ids, head_labels = stored_labels(record, section, layers, heads)
    thumb = np.stack(thumbs)  # (layers * (heads + 1), tq, tk)
    return {
        "name": section,
        "title": spec.title,
        "rows": spec.rows,
        "cols": spec.cols,
        "causal": spec.causal,
        **geometry,
        "layers": [int(x) for x in layer_ids],
        "heads": [*head_labels, "mean"],
        "max_cells": config.max_cells,  # zoomed in to fewer tokens than this: exact cells
        "ranges": ranges.tolist(),  # (layers, heads + 1, [min, max, min, max without first])
        "thumb_shape": list(thumb.shape[1:]),
        "thumbs": encode_u16(thumb),
        "presets": presets(record, architecture, section),
    }
