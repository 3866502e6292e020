"""The record: the one thing that passes from extraction to figures.

A record is a plain dict of tensors, strings and numbers, saved with `torch.save` and loaded
with `torch.load(..., weights_only=True)`, so loading a cached file never runs pickled code:

- `tokens`, `token_ids`, `special_tokens_mask`: the input (encoder or decoder-only side);
- `target_tokens`, `target_token_ids`: the decoder side of an encoder-decoder model;
- `attention`: {section: (layers, heads, q, k)} with sections `self` (encoder-only and
  decoder-only) or `encoder`, `decoder`, `cross` (encoder-decoder);
- `attention_scores` (a list of (1, heads, q, k), one per layer) and `tokens_list`: the keys
  Attention-Viewer writes, sharing storage with `attention` (no extra bytes on disk);
- `meta`: model, source, architecture, prompt, dtype, device, versions, `schema_version`,
  and `checksums`: a digest of each entry (`attention.<section>`, `tokens`, ...), written by
  `save_record` and checked by `load_record` for every entry it loads.

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
and layer), so its memory follows what it draws, not the record's size. Each tensor of
`reduced` has a checksum of its own (`reduced.self.maps.3`, ...), checked when it is first
read, so a partial read stays partial.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import torch

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError

SCHEMA_VERSION = 2  # 2: meta holds checksums
_REQUIRED = ("tokens", "attention", "meta")
_ALIASES = ("attention_scores", "tokens_list")  # Attention-Viewer's views of other entries
_TOLERANCE = 1e-3  # attention weights lie in [0, 1] (fp16 rounding aside)


def save_record(record: dict, path: str | os.PathLike) -> None:
    """Write `record` to `path` atomically (a temp file renamed into place), with the checksum
    of each entry in its meta (the caller's dict is left as it is)."""
    meta = {**record["meta"], "checksums": record_checksums(record)}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save({**record, "meta": meta}, fh)  # a file object: no temp name inside


def entry_digest(value) -> str:
    """sha256 of one entry: a tensor's dtype, shape and bytes, or anything else as JSON."""
    digest = hashlib.sha256()
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy())  # the bytes, not copied
    else:
        digest.update(json.dumps(value, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def record_entries(record: dict) -> dict:
    """Every entry a checksum covers: top-level keys but meta and the aliases; a dict or
    list that holds tensors one entry per tensor (`attention.self`, `reduced.self.maps.3`,
    ...), so each tensor can be checked alone, when it is first read."""
    entries = {}
    for key, value in record.items():
        if key != "meta" and key not in _ALIASES:
            entries.update(_leaves(key, value))
    return entries


def _holds_tensor(value) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(
        isinstance(v, torch.Tensor) or _holds_tensor(v) for v in value
    )


def _leaves(name: str, value):
    """(name, value) of each tensor inside `value` and of each part that holds none."""
    if not _holds_tensor(value):
        yield name, value
        return
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        yield from _leaves(f"{name}.{key}", item)


def record_checksums(record: dict) -> dict[str, str]:
    """name -> digest of each entry of `record` (see `record_entries`)."""
    return {name: entry_digest(value) for name, value in record_entries(record).items()}


def _fix(path) -> str:
    """How to make the pipeline extract the record at `path` again (Snakemake does not make a
    deleted intermediate file again while the figures made from it are there)."""
    return f"extract it again: add --forcerun '{path}' to the snakemake command"


def load_record(path: str | os.PathLike, expected: dict | None = None, mmap: bool = True) -> dict:
    """Load a record safely (`weights_only=True`) and check it: its keys, schema version, the
    checksum of each entry and attention values in [0, 1]; with `expected` ({model, prompt,
    settings}), that it was made for that model, prompt and extraction settings. Any way a file
    can be bad is one AttnvizError naming it. `mmap` maps the tensors instead of reading them:
    a slice reads only its own bytes. A long record's maps (`reduced`) are then checked one
    tensor at a time when first read (a figure reads only the layers it draws), an error
    raised at that point; without `mmap` every tensor is checked here."""
    try:
        with warnings.catch_warnings():  # a damaged file warns of odd pickle protocols
            warnings.simplefilter("ignore")
            record = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise AttnvizError(f"record {path} does not exist; run the extraction first") from None
    except Exception as exc:  # truncated, damaged, a pickle of code: torch.load raises anything
        reason = (str(exc).strip() or "no details").splitlines()[0].split(". ")[0][:120]
        raise AttnvizError(
            f"record {path} cannot be loaded safely ({type(exc).__name__}: {reason}); {_fix(path)}"
        ) from None
    if isinstance(record, dict) and set(record) == {"attention_scores", "tokens_list"}:
        return from_attention_viewer(record, os.path.basename(path).removesuffix(".pt"))
    lazy = mmap and isinstance(record, dict) and isinstance(record.get("reduced"), dict)
    try:
        check_record(record, path, lazy)
        if lazy:  # a long record: each map is checked when it is first read
            record["reduced"] = _checked(record["reduced"], "reduced", _Checks(record, path))
        if expected is not None:
            check_expected(record, path, expected)
    except AttnvizError:
        raise
    except Exception as exc:  # a damaged file can hold anything where a dict or list was
        raise AttnvizError(
            f"record {path} is damaged ({type(exc).__name__}: {str(exc)[:120]}); {_fix(path)}"
        ) from None
    return record


def check_record(record, path, lazy: bool = False) -> None:
    """Keys, schema version, checksums of the entries present, attention values in [0, 1]
    (`lazy`: not the tensors of a long record's `reduced` maps, checked when first read)."""
    missing = [k for k in _REQUIRED if not isinstance(record, dict) or k not in record]
    if missing:
        raise AttnvizError(
            f"record {path} lacks {', '.join(missing)}; it was not written by attnviz "
            f"({_fix(path)})"
        )
    version = record["meta"].get("schema_version")
    if version != SCHEMA_VERSION:
        raise AttnvizError(
            f"record {path} has schema version {version}, this attnviz reads {SCHEMA_VERSION}; "
            f"{_fix(path)}"
        )
    checksums = record["meta"].get("checksums")
    for name, value in record_entries(record).items():
        if lazy and name.startswith("reduced.") and isinstance(value, torch.Tensor):
            continue
        if checksums.get(name) != entry_digest(value):
            raise AttnvizError(
                f"record {path} is damaged: its {name} does not match its checksum; {_fix(path)}"
            )
    for section, tensor in {} if lazy else record["attention"].items():
        if not torch.is_floating_point(tensor) or tensor.numel() == 0:
            raise AttnvizError(f"record {path}: attention.{section} is empty; {_fix(path)}")
        low, high = (float(v) for v in torch.aminmax(tensor.detach()))  # nan if any is nan
        if not (low >= 0 and high <= 1 + _TOLERANCE):
            raise AttnvizError(
                f"record {path} is damaged: attention.{section} has values outside [0, 1] "
                f"(min {low:.4g}, max {high:.4g}); {_fix(path)}"
            )


class _Checks:
    """The checksums of a memory-mapped record, and which of its tensors were checked."""

    def __init__(self, record: dict, path):
        self.checksums, self.path, self.done = record["meta"]["checksums"], path, set()

    def read(self, name: str, value):
        if isinstance(value, torch.Tensor) and name not in self.done:
            if self.checksums.get(name) != entry_digest(value):
                raise AttnvizError(
                    f"record {self.path} is damaged: its {name} does not match its checksum; "
                    f"{_fix(self.path)}"
                )
            self.done.add(name)
        return value


def _checked(value, name: str, checks: _Checks):
    """`value` (a part of a record) with each tensor inside checked when it is first read."""
    if not _holds_tensor(value):
        return value
    if isinstance(value, dict):
        part = _CheckedDict({k: _checked(v, f"{name}.{k}", checks) for k, v in value.items()})
    else:
        part = _CheckedList(_checked(v, f"{name}.{i}", checks) for i, v in enumerate(value))
    part.name, part.checks = name, checks
    return part


class _CheckedDict(dict):
    """A dict of a record whose tensors are checked against their checksums when read."""

    def __getitem__(self, key):
        return self.checks.read(f"{self.name}.{key}", super().__getitem__(key))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def values(self):
        return [self[key] for key in self]

    def items(self):
        return [(key, self[key]) for key in self]


class _CheckedList(list):
    """A list of a record's tensors (one per layer), each checked when first read."""

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        return self.checks.read(f"{self.name}.{index % len(self)}", super().__getitem__(index))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


def request_sha256(meta: dict, prompt: dict, settings: dict) -> str:
    """What a record is made from: model identity (source, revision, weight hash), prompt and
    extraction settings. A cached record is used only if its request hash equals this."""
    identity = {k: meta.get(k) for k in ("source", "revision", "weights_sha256")}
    request = {"model": identity, "prompt": prompt, "settings": settings}
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def check_expected(record: dict, path, expected: dict) -> None:
    """The record was made for `expected["model"]` from `expected["prompt"]` (a PromptConfig as
    a dict) with `expected["settings"]` (an ExtractConfig as a dict): its model name, prompt id
    and request hash must say so (a record copied from another model or prompt is refused)."""
    meta, prompt = record["meta"], expected["prompt"]
    made = f"model '{meta.get('model')}', prompt '{meta.get('prompt_id')}'"
    if (meta.get("model"), meta.get("prompt_id")) != (expected["model"], prompt["id"]):
        raise AttnvizError(
            f"record {path} was extracted for {made}, not for model '{expected['model']}', "
            f"prompt '{prompt['id']}' (copied from elsewhere?); {_fix(path)}"
        )
    if meta.get("request_sha256") != request_sha256(meta, prompt, expected["settings"]):
        raise AttnvizError(
            f"record {path} was extracted from another prompt text or other extract settings "
            f"than this sweep's; {_fix(path)}"
        )


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
