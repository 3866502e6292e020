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

from attnviz.plot.heatmap import causal_mask
from attnviz.viewer.options import ViewerConfig
from attnviz.views import VIEWS, part_slice, stored_labels

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


def _ranges(matrix: np.ndarray, causal: bool) -> list[float]:
    """min and max of the visible cells, then the same without the first row and column."""
    visible = np.ma.masked_array(matrix, causal_mask(*matrix.shape) if causal else False)
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
        data = {"ranges": _ranges(matrix, causal), "thumb": pool_max(matrix, thumb_factor)}
        data["m"] = encode_u16(pool_max(matrix, factor))
        if factor > 1 and n <= config.exact_tokens:
            data["x"] = encode_u16(matrix)
        elif factor > 1 and config.top_cells:
            flat = torch.from_numpy(matrix.ravel())  # topk: fast where most cells tie at 0
            values, top = flat.topk(min(config.top_cells, flat.numel()))
            data["ti"], data["tv"] = encode_i32(top.numpy()), encode_u16(values.numpy())
        yield data


def section_data(record: dict, section: str, config: ViewerConfig, emit: Emit) -> dict:
    """Everything the page needs about one section: its index entry (returned) and each head's
    data (given to `emit`, one file each, loaded when the head is shown)."""
    architecture = record["meta"]["architecture"]
    spec = section_spec(architecture, section)
    stored = record["attention"][section]  # (layers, heads, q, k)
    layers, heads, q, k = stored.shape
    n = max(q, k)
    factor = pool_factor(n, config.max_cells)
    thumb_factor = pool_factor(n, config.thumb_cells)
    ranges, thumbs = [], []
    for layer in range(layers):
        for head, data in enumerate(layer_data(record, section, layer, config)):
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
        "q": q,
        "k": k,
        "layers": [int(x) for x in layer_ids],
        "heads": [*head_labels, "mean"],
        "factor": factor,
        "max_cells": config.max_cells,  # zoomed in to fewer tokens than this: exact cells
        "exact": "all" if factor == 1 else ("zoom" if n <= config.exact_tokens else "top"),
        "ranges": ranges.tolist(),  # (layers, heads + 1, [min, max, min, max without first])
        "thumb_factor": thumb_factor,
        "thumb_shape": list(thumb.shape[1:]),
        "thumbs": encode_u16(thumb),
        "presets": presets(record, architecture, section),
    }
