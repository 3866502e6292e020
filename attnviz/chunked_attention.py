"""The "attnviz" attention implementation: a model family's own eager attention on chunks of
query rows, each chunk's weights handed to the active capture (attnviz.capture) as soon as they
exist; for a long prompt of a plain softmax family, attnviz.softmax_rows instead.
"""

from __future__ import annotations

import contextvars
import sys
from functools import partial

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

from attnviz.errors import AttnvizError
from attnviz.softmax_rows import plain_softmax, softmax_attention

# fp32 attention rows computed at once, per layer: small blocks are faster on the CPU (they stay
# in cache) and keep memory flat; on a GPU bigger blocks save kernel launches.
CHUNK_BYTES = {"cpu": 8 * 2**20, "cuda": 256 * 2**20}
ACTIVE: contextvars.ContextVar = contextvars.ContextVar("attnviz_capture", default=None)


def _rows(value, start: int, end: int, q: int):
    """Rows start:end of a per-row tensor (mask, position bias: (batch, h, q, k)), else as is."""
    if isinstance(value, torch.Tensor) and value.dim() == 4 and value.shape[2] == q:
        return value[:, :, start:end]
    return value


def family_eager(module: nn.Module):
    """The `eager_attention_forward` of the module's model family, if it has one."""
    return getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)


def chunked_eager_attention(module, query, key, value, attention_mask, **kwargs):
    """The module family's own eager attention on chunks of query rows (attention rows are
    independent); each chunk's weights go to the active capture as soon as they exist."""
    eager = family_eager(module)
    capture = ACTIVE.get()
    if eager is None or capture is None:
        raise AttnvizError(
            f"{type(module).__name__} has no eager_attention_forward to run in chunks; "
            "load the model with attn_implementation='eager'"
        )
    if capture.whole(module) and plain_softmax(
        module, query, key, attention_mask, kwargs, capture.masks
    ):
        take, fold = partial(capture.take, module), capture.folder(module, query.shape[1])
        scaling = kwargs["scaling"]
        out = softmax_attention(
            query, key, value, attention_mask, scaling, take, fold, capture.buffers
        )
        return out, None
    batch, heads, q, _ = query.shape  # (batch, heads, q, head_dim)
    budget = CHUNK_BYTES.get(query.device.type, CHUNK_BYTES["cpu"])
    step = max(1, budget // (4 * batch * heads * key.shape[2]))
    outputs, attention = [], module
    groups = getattr(module, "num_key_value_groups", 1)
    if isinstance(groups, int) and groups > 1 and key.shape[1] * groups == heads:
        # grouped-query attention: keys and values repeated per query head once for all
        # chunks, not once a chunk (as the family's eager function would)
        key, value = key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1)
        attention = _OneGroup(module)
    for start in range(0, q, step):
        end = min(q, start + step)
        part = {name: _rows(v, start, end, q) for name, v in kwargs.items()}
        mask = _rows(attention_mask, start, end, q)
        keys, values = key, value
        if capture.long_prompts and not any(isinstance(v, torch.Tensor) for v in part.values()):
            keys, values, mask = _seen_keys(key, value, mask)
        out, weights = eager(attention, query[:, :, start:end], keys, values, mask, **part)
        capture.take(module, weights, start)  # (batch, heads, rows, k)
        outputs.append(out)  # (batch, rows, heads, head_dim)
    return torch.cat(outputs, dim=1), None


class _OneGroup:
    """An attention module as its family's eager function sees it once its keys and values
    are repeated per query head: one query head per key head."""

    num_key_value_groups = 1

    def __init__(self, module: nn.Module):
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)


def _seen_keys(key, value, mask):
    """Keys, values and mask cut after the last key any row of the chunk may see (a causal
    chunk sees none after its last row): the weights of the rest are exactly zero."""
    if not isinstance(mask, torch.Tensor) or mask.dim() != 4:
        return key, value, mask
    seen = mask if mask.dtype == torch.bool else mask > torch.finfo(mask.dtype).min
    columns = torch.nonzero(seen.flatten(0, 2).any(0))  # (batch * h * rows, k) -> k
    width = int(columns[-1]) + 1 if len(columns) else 1
    if width >= key.shape[2]:
        return key, value, mask
    return key[:, :, :width], value[:, :, :width], mask[..., :width]


AttentionInterface.register("attnviz", chunked_eager_attention)
AttentionMaskInterface.register("attnviz", ALL_MASK_ATTENTION_FUNCTIONS["eager"])
