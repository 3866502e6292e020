"""The head statistics of attention maps (`attnviz.catalogue.STATISTICS`), a block of rows at a
time: each is a sum over rows divided by a count, so the capture of a long prompt
(`attnviz.reduce`, block by block on the model's device) and a whole record
(`attnviz.head_stats`) give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from attnviz.catalogue import POSITIONAL, STATISTICS

_CHUNK_ELEMENTS = 2**20  # float32 cells per block of rows: 4 MB, stays in cache
_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32


@dataclass
class RowSums:
    """Row sums of a block of weights that its producer computed more cheaply than
    `add_block` would from the weights (attnviz.softmax_rows: from the scores)."""

    mass: torch.Tensor  # (heads, rows): sum_j a_ij
    a_log_a: torch.Tensor  # (heads, rows): sum_j a_ij log a_ij
    a_dot_keys: torch.Tensor  # (heads, rows): sum_j a_ij j


def head_statistics(
    attention,
    causal: bool,
    special=None,
    source_end: int | None = None,
) -> dict[str, np.ndarray]:
    """Every statistic of STATISTICS for a (layers, heads, n, k) attention array (torch or
    NumPy, any float dtype): name -> (layers, heads) float64. Cross-attention (n != k, query
    and key tokens of different texts) has entropy and sinks only: the rest are NaN.

    `causal`: row i may attend keys 0..i only (its entropy is normalised by log(i + 1), and
    only those keys are read). `special`: (n,) bools marking special tokens (without them
    `sink_special` is 0). `source_end`: the first generated token of a decoder prompt;
    without one, or when nothing was generated, `generated_to_source` is NaN. Entropy takes
    each row renormalised to 1 (rows of a record that dropped special tokens sum to less)
    and skips rows with a single allowed key; a head with no such row has NaN entropy.
    """
    attention = torch.as_tensor(attention)
    layers, heads, n, k = attention.shape
    sums = row_sums(layers, heads)
    log_allowed, special = stream_inputs(n, k, causal, special)
    rows = max(1, _CHUNK_ELEMENTS // (heads * k))
    for layer in range(layers):
        for first in range(0, n, rows):
            last = min(n, first + rows)
            keys = last if causal else k  # a causal block attends no key after its last row
            block = attention[layer, :, first:last, :keys].float()  # (heads, rows, keys)
            add_block(sums, layer, block, first, log_allowed, special, source_end, causal)
    return finish_sums(sums, n, k, causal, source_end)


def row_sums(layers: int, heads: int, device=None) -> dict:
    """Zeroed sums over rows of every statistic: name -> (layers, heads) float64. Every
    statistic is a sum over rows divided by a count, so a stream of row blocks (the capture
    of a long prompt, attnviz.reduce) gives the same numbers as the whole matrix."""
    return {
        name: torch.zeros(layers, heads, dtype=torch.float64, device=device) for name in STATISTICS
    }


def stream_inputs(n: int, k: int, causal: bool, special=None, device=None):
    """log(keys each row may see) (n,), and the positions of the special tokens among the
    k keys `add_block` takes (few: their columns are summed, not a product over every key)."""
    positions = torch.arange(n, dtype=torch.float32, device=device)
    allowed = positions + 1 if causal else torch.full((n,), float(k), device=device)
    flags = torch.zeros(k, dtype=torch.bool) if special is None else torch.as_tensor(special)
    return allowed.log(), torch.nonzero(flags.bool()).flatten().to(device)  # (n,), (s,)


def finish_sums(sums: dict, n: int, k: int, causal: bool, source_end: int | None) -> dict:
    """The statistics from `row_sums` filled by every row of an (n, k) map: name ->
    (layers, heads) float64 NumPy (NaN where no row counts)."""
    generated = source_end is not None and source_end < n
    allowed_rows = n - 1 if causal else (n if k > 1 else 0)  # rows with more than one key
    counts = {
        "entropy": allowed_rows,
        "previous_token": n - 1,
        "generated_to_source": n - source_end if generated else 0,
    }
    if n != k:
        counts.update(dict.fromkeys(POSITIONAL, 0))
    return {
        name: (total.cpu() / counts.get(name, n)).numpy()
        if counts.get(name, n)
        else np.full(tuple(total.shape), np.nan)
        for name, total in sums.items()
    }


def add_block(
    sums, layer, block, first, log_allowed, special, source_end, causal, given=None
) -> None:
    """Add the row sums of one block of rows (`first`, ...) of one layer to `sums`; `block`
    (heads, rows, keys) float32 on any device (keys may stop after a causal block's last row;
    a `causal` block is zero after each row's own key); `special`: key positions of the
    special tokens (from `stream_inputs`); `given`: the block's RowSums, if known."""
    rows, keys = block.shape[1:]
    last = first + rows
    tokens = torch.arange(first, last, dtype=torch.float32, device=block.device)
    keys_at = torch.arange(keys, dtype=torch.float32, device=block.device)
    if given is None:
        # the log's argument is clamped to the smallest normal float: a zero weight gives
        # 0 * log(tiny) = 0, and no subnormal number reaches the log (a subnormal input
        # costs a CPU ~10x the time)
        given = RowSums(
            mass=block.sum(-1),  # (heads, rows)
            a_log_a=block.clamp_min(_TINY).log_().mul_(block).sum(-1),
            a_dot_keys=block @ keys_at,
        )
    mass, a_log_a = given.mass, given.a_log_a
    # entropy of the row scaled to 1: log(s) + sum(-a log a) / s
    entropy = mass.log() - a_log_a / mass
    usable = log_allowed[first:last] > 0  # rows with more than one key to choose from
    sums["entropy"][layer] += (entropy[:, usable] / log_allowed[first:last][usable]).sum(-1)
    sums["sink_first"][layer] += block[:, :, 0].sum(-1)
    sums["sink_special"][layer] += block[:, :, special[special < keys]].sum((-2, -1))
    # diagonal offsets in block coordinates: row i of the block is token first + i
    sums["previous_token"][layer] += block.diagonal(first - 1, 1, 2).sum(-1)
    sums["diagonal"][layer] += block.diagonal(first, 1, 2).sum(-1)
    # sum_j a_ij |i - j| = sum_j a_ij (i - j) + 2 sum_(j > i) a_ij (j - i): one matrix
    # product, and the second term only where keys after the query exist
    signed = tokens * mass - given.a_dot_keys  # (heads, rows)
    if not causal and keys > first + 1:  # keys after the query exist
        ahead = (keys_at[None, :] - tokens[:, None]).clamp_(min=0)  # (rows, keys)
        signed += 2 * (block * ahead).sum(-1)
    sums["distance"][layer] += signed.sum(-1)
    if source_end is not None and last > source_end:
        sums["generated_to_source"][layer] += block[
            :, max(0, source_end - first) :, :source_end
        ].sum((-2, -1))
