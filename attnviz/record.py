"""The record: the one thing that passes from extraction to figures.

A record is a plain dict of tensors, strings and numbers, saved with `torch.save` and loaded
with `torch.load(..., weights_only=True)`, so loading a cached file never runs pickled code:

- `tokens`, `token_ids`, `special_tokens_mask`: the input (encoder or decoder-only side);
- `target_tokens`, `target_token_ids`: the decoder side of an encoder-decoder model;
- `attention`: {section: (layers, heads, q, k)} with sections `self` (encoder-only and
  decoder-only) or `encoder`, `decoder`, `cross` (encoder-decoder);
- `attention_scores` (a list of (1, heads, q, k), one per layer) and `tokens_list`: the keys
  Attention-Viewer writes, sharing storage with `attention` (no extra bytes on disk);
- `meta`: model, source, architecture, prompt, dtype, device, versions, `schema_version`.

A long prompt (more kept tokens than `extract.full_max_tokens`) is reduced while it is
captured (attnviz.reduce): its `attention` is {} and `attention_scores` [], and
`reduced` holds, per section, with layers and heads as in `layers` / `heads`:

- `shape`: [q, k] tokens; `row_edges`, `col_edges`: (blocks + 1,) token boundaries of the
  pooled cells (a cell is tokens row_edges[i]:row_edges[i + 1]);
- `maps`: one (heads, mq, mk) tensor per layer, the maximum of each block (storage dtype);
  `mean_maps`: one (mq, mk) per layer, the same of the head mean; `block_mean`: one
  (mq, mk) float32 per layer, block means of the head mean (rows averaged, columns summed);
- `stats`: {statistic: (layers, heads) float64}, as attnviz.head_stats computes them;
- `top_values`, `top_index`: (layers, heads + 1, top_cells) exact top cells of each head and
  last of the head mean, as scores and flat indices row * k + column;
- `generated`: (layers, heads, generated tokens, k), the rows of generated tokens in full;
- `full`: (len(full_layers), len(full_heads), q, k) with `full_layers` and `full_heads`, the
  model's indices of the layers and heads kept in full (extract.full_layers / full_heads).

Records are loaded memory-mapped: a figure reads only the tensors it draws (one per section
and layer), so its memory follows what it draws, not the record's size.
"""

from __future__ import annotations

import os
import pickle
import zipfile

import torch

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError

SCHEMA_VERSION = 1
_REQUIRED = ("tokens", "attention", "meta")


def save_record(record: dict, path: str | os.PathLike) -> None:
    """Write `record` to `path` atomically (a temp file renamed into place)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(record, fh)  # a file object: the archive has no temp name inside


def load_record(path: str | os.PathLike, mmap: bool = True) -> dict:
    """Load a record safely (`weights_only=True`); a bad file is an error naming it. `mmap`
    maps the tensors instead of reading them: a slice reads only its own bytes."""
    try:
        record = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise AttnvizError(f"record {path} does not exist; run the extraction first") from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AttnvizError(
            f"record {path} cannot be loaded safely ({reason[:160]}); delete it and extract again"
        ) from None
    if isinstance(record, dict) and set(record) == {"attention_scores", "tokens_list"}:
        return from_attention_viewer(record, os.path.basename(path).removesuffix(".pt"))
    missing = [k for k in _REQUIRED if not isinstance(record, dict) or k not in record]
    if missing:
        raise AttnvizError(
            f"record {path} lacks {', '.join(missing)}; it was not written by attnviz "
            "(delete it and extract again)"
        )
    version = record["meta"].get("schema_version")
    if version != SCHEMA_VERSION:
        raise AttnvizError(
            f"record {path} has schema version {version}, this attnviz reads {SCHEMA_VERSION}; "
            "delete it and extract again"
        )
    return record


def from_attention_viewer(saved: dict, name: str) -> dict:
    """A record from Attention-Viewer's score file: {'attention_scores': [(1, heads, n, n)
    per layer], 'tokens_list': [str]} (a generative model's prompt, so causal)."""
    layers = saved["attention_scores"]
    tokens = [str(t) for t in saved["tokens_list"]]
    if not layers or any(tuple(x.shape[-2:]) != (len(tokens), len(tokens)) for x in layers):
        raise AttnvizError(
            f"Attention-Viewer file '{name}': every layer must be (1, heads, {len(tokens)}, "
            f"{len(tokens)}) for its {len(tokens)} tokens"
        )
    attention = torch.stack([x[0] for x in layers])  # (layers, heads, n, n)
    return {
        "tokens": tokens,
        "attention": {"self": attention},
        "attention_scores": list(layers),
        "tokens_list": tokens,
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": name,
            "prompt_id": name,
            "architecture": "decoder",
            "source": "attention-viewer",
        },
    }
