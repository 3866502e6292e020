"""Causal softmax attention computed by attnviz, for long prompts of plain softmax families.

The families of `PLAIN_FAMILIES` compute attention as softmax(q k^T * scaling + mask) v and
nothing else (no soft-capping, no position bias, no sink logits). For a long prompt attnviz
computes that itself, a block of query rows at a time, instead of calling the family's eager
function, because it can do the same work with less memory traffic:

- a block's keys stop after its last row and only the block's own square is masked (the mask is
  checked once per forward pass to be exactly causal; any other mask, as a sliding window or
  padding, runs the family's eager function instead);
- on the CPU each head is computed alone, in buffers reused by every block, so that its scores
  and weights are still in the cache when they are read again; on a GPU all heads at once;
- the row sums of the statistics come from the scores, not from more passes over the weights:
  sum_j p_ij log p_ij = sum_j p_ij s_ij - logsumexp(s_i), where logsumexp(s_i) = s_ii -
  log p_ii (p_ii = exp(s_ii - logsumexp(s_i)): each row's weight of its own key), and
  sum_j p_ij j is a matrix-vector product (attnviz.statistics.RowSums);
- on the CPU the products of a head go through oneDNN's matmul, on contiguous copies of the
  layer's queries (scaled as they are copied), keys and values.

The weights are those of the eager function (the same mask and softmax in the same dtype; on
the CPU the products come from oneDNN, equal to MKL's to rounding); each block goes to the
capture's reducer (attnviz.reduce) as soon as it exists.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from attnviz.statistics import RowSums

# model types whose eager attention is softmax(q k^T * scaling + mask) v, keys and values
# repeated per group of query heads (llama's `eager_attention_forward` and its copies)
PLAIN_FAMILIES = frozenset({"llama", "mistral", "qwen2", "qwen3"})
ROWS_CPU = 256  # query rows a block on the CPU: a head's scores stay in cache, blocks stay few
BYTES_GPU = 256 * 2**20  # fp32 weights of all heads a block on a GPU
ONE_HEAD = {"cpu": True}  # device type -> one head at a time (its blocks stay in cache)
TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32


def plain_softmax(module, query, key, mask, kwargs: dict, checked: dict) -> bool:
    """Can attnviz compute this call's attention itself: a plain softmax family, one
    prompt, no cache (as many keys as queries), no extra bias, and an exactly causal mask
    (`checked`: id(mask) -> (mask, verdict), filled once per forward pass)?"""
    config = getattr(module, "config", None)
    if (
        getattr(config, "model_type", None) not in PLAIN_FAMILIES
        or module.training
        or not isinstance(kwargs.get("scaling"), float)
        or query.shape[0] != 1
        or query.shape[2] != key.shape[2]
        or query.shape[1] % key.shape[1]
        or any(isinstance(v, torch.Tensor) and v.dim() == 4 for v in kwargs.values())
        or not isinstance(mask, torch.Tensor)
    ):
        return False
    if id(mask) not in checked:  # the same mask serves every layer
        checked[id(mask)] = (mask, _causal(mask))
    return checked[id(mask)][1]


def _causal(mask: torch.Tensor) -> bool:
    """Is the additive (1, 1, n, n) mask 0 on and below the diagonal and a finite large negative
    above it (read a block of rows at a time)?"""
    if mask.dim() != 4 or mask.shape[:2] != (1, 1) or not mask.is_floating_point():
        return False
    n = mask.shape[-1]
    low = torch.finfo(mask.dtype).min / 2
    columns = torch.arange(n, device=mask.device)
    step = max(1, 2**22 // n)
    for first in range(0, mask.shape[2], step):
        block = mask[0, 0, first : first + step]  # (rows, n)
        rows = torch.arange(first, first + block.shape[0], device=mask.device)
        future = columns[None, :] > rows[:, None]
        if not (torch.where(future, block < low, block == 0).all() and block.isfinite().all()):
            return False
    return True


def softmax_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor,
    scaling: float,
    take: Callable[[torch.Tensor, int, RowSums], None],
    fold: Callable[[slice, torch.Tensor, int], None] | None = None,
    buffers: dict | None = None,
) -> torch.Tensor:
    """softmax(q k^T scaling + mask) v for an exactly causal `mask` (1, 1, n, n); q (1, heads,
    n, dim), k and v (1, kv heads, n, dim). Each block's weights (1, heads, rows, keys seen)
    and row sums go to `take(weights, first row, sums)` at once (the weights' buffer is reused
    by the next block); before that, `fold(query heads, their weights (heads, rows, keys),
    first row)` gets each product's weights while they are still in cache. `buffers` keeps
    the working tensors from one layer to the next (fresh memory costs a page fault per 4 KiB).
    Returns the output as eager attention does: (1, n, heads, dim)."""
    buffers = {} if buffers is None else buffers
    _, heads, n, dim = query.shape
    kv_heads = key.shape[1]
    per_key = heads // kv_heads  # query heads per key head
    device = query.device
    # units: (first query head, first key head, key heads) of each product
    if ONE_HEAD.get(device.type, False):
        units, stack, rows = [(h, h // per_key, 1) for h in range(heads)], 1, ROWS_CPU
        # a head's rows of the (1, n, heads, dim) projections are strided: copied once a
        # layer, they make every product of the layer faster; the queries are scaled as they
        # are copied (as sdpa does; for a power-of-two scaling, such as 1/8 for heads of 64,
        # that changes no bit)
        query = torch.mul(query, scaling, out=_reused(buffers, "query", *_like(query)))
        key = _reused(buffers, "key", *_like(key)).copy_(key)
        value = _reused(buffers, "value", *_like(value)).copy_(value)
        scaling = 1.0
    else:  # a key head's query heads stacked, all key heads in one batched product
        units, stack, rows = [(0, 0, kv_heads)], per_key, max(1, BYTES_GPU // (4 * heads * n))
    rows = min(rows, n)
    onednn = ONEDNN if stack == 1 and _onednn_fits(query, units) else None
    out = query.new_empty(n, heads, dim)  # (n, heads, dim): the layout eager attention returns
    weights = _reused(buffers, "weights", (heads * rows * n,), torch.float32, device)
    if not onednn:  # the products' output, reused by every block
        size = (units[0][2] * stack * rows * n,)
        scores = _reused(buffers, "scores", size, query.dtype, device)
    positions = torch.arange(n, device=device, dtype=torch.float32)
    for first in range(0, n, rows):
        last = min(n, first + rows)
        count = last - first
        block = weights[: heads * count * last].view(heads, count, last)  # (heads, rows, keys)
        sums = RowSums(
            mass=torch.ones(heads, count, device=device),  # softmax rows sum to 1
            a_log_a=torch.empty(heads, count, device=device),
            a_dot_keys=torch.empty(heads, count, device=device),
        )
        square = mask[0, 0, first:last, first:last]  # the causal square of the rows' keys
        seen = positions[:last]
        for head, kv, batch in units:
            at = slice(head, head + batch * stack)  # the unit's query heads
            q = query[0, at, first:last].reshape(batch, stack * count, dim)
            if onednn:  # one head: (1, rows, keys)
                s = onednn(q[0], key[0, kv, :last], None, "none", [], "")[None]
            else:
                s = scores[: batch * stack * count * last].view(batch, stack * count, last)
                product = key[0, kv : kv + batch, :last].mT
                torch.baddbmm(s, q, product, beta=0, alpha=scaling, out=s)
            s.view(-1, count, last)[..., first:] += square  # the rest of each row is 0
            p = block[at].view(batch, stack * count, last)  # (batch, stack * rows, keys)
            if s.dtype == torch.float32:
                torch._softmax(s, -1, False, out=p)
            else:
                p.copy_(torch.softmax(s, -1, dtype=torch.float32))
                s = s.float()
            if fold is not None:
                fold(at, p.view(-1, count, last), first)
            logsumexp = _logsumexp(s.view(-1, count, last), p.view(-1, count, last), first)
            p_s = torch.einsum("bij,bij->bi", p, s)  # row dot products: a batched matmul
            sums.a_log_a[at] = p_s.view(-1, count) - logsumexp
            sums.a_dot_keys[at] = (p @ seen).view(-1, count)
            p_v = p if p.dtype == value.dtype else p.to(value.dtype)
            if onednn:
                out[first:last, head] = onednn(p_v[0], value[0, kv, :last].T, None, "none", [], "")
            else:
                values = torch.bmm(p_v, value[0, kv : kv + batch, :last])
                out[first:last, at] = values.view(-1, count, dim).transpose(0, 1)
        take(block[None], first, sums)
    return out[None]


def _logsumexp(scores: torch.Tensor, weights: torch.Tensor, first: int) -> torch.Tensor:
    """log sum_j exp(s_ij) of rows first.. ((heads, rows, keys) scores and their softmax
    weights) from the weight of each row's own key, which every causal row sees: s_ii -
    log p_ii; from the row's largest score and weight (max s_i - log max p_i, another pass
    over both) where an own weight is below the smallest normal float."""
    own = weights.diagonal(first, -2, -1)  # (heads, rows)
    if bool((own >= TINY).all()):
        return scores.diagonal(first, -2, -1) - own.log()
    return scores.amax(-1) - weights.amax(-1).log()


def _reused(buffers: dict, name: str, shape, dtype: torch.dtype, device) -> torch.Tensor:
    """An uninitialised tensor of `shape` made from the memory of `buffers[name]`, which is
    made (or made larger) first where it does not hold enough."""
    size = math.prod(shape)
    held = buffers.get(name)
    if held is None or held.numel() < size or (held.dtype, held.device) != (dtype, device):
        held = buffers[name] = torch.empty(size, dtype=dtype, device=device)
    return held[:size].view(shape)


def _like(tensor: torch.Tensor) -> tuple:
    return tensor.shape, tensor.dtype, tensor.device


def _onednn_matmul():
    """oneDNN's matmul, a @ b.T (torch.ops.mkldnn._linear_pointwise), where this PyTorch has
    it: on the CPU it multiplies a head's rows and keys faster than MKL's sgemm does (it is
    very slow on strided operands: it gets contiguous ones only)."""
    if not torch.backends.mkldnn.is_available():
        return None
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _onednn_fits(query: torch.Tensor, units: list) -> bool:
    """Are this call's products for oneDNN: float32 on the CPU, one key head each?"""
    return (
        ONEDNN is not None
        and query.device.type == "cpu"
        and query.dtype == torch.float32
        and all(batch == 1 for _, _, batch in units)
    )


ONEDNN = _onednn_matmul()
