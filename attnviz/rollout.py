"""Attention rollout (Abnar & Zuidema 2020): how much each token's representation after a
layer draws on each input token, through every layer below it.

A single layer's map says where a token looks from that layer's input, which is already a
mix of tokens. Rollout follows the mixing down: per layer the mean over heads, with the
residual connection counted as half of the flow (`0.5 * A + 0.5 * I`, rows renormalised to
1), multiplied through the layers: R_1 = Â_1, R_l = Â_l @ R_(l-1).
"""

from __future__ import annotations

import torch

from attnviz.errors import AttnvizError


def attention_rollout(attention) -> torch.Tensor:
    """The cumulative rollout after each layer of a (layers, heads, n, n) attention array
    (torch or NumPy, any float dtype): (layers, n, n) float32, rows summing to 1.

    The heads given are averaged, so a subset of heads gives the rollout of those heads.
    Products of lower-triangular maps are lower-triangular: a causal section's rollout stays
    causal. One layer is converted to float32 at a time.
    """
    attention = torch.as_tensor(attention)
    layers, heads, n, k = attention.shape
    if n != k:
        raise AttnvizError(
            f"rollout needs square self-attention, got {n} x {k}; "
            "give a self, encoder or decoder section, not cross"
        )
    rollout = torch.empty(layers, n, n)  # (layers, n, n)
    flow = torch.empty(n, n)  # this layer's Â, reused: no allocation per layer
    for layer in range(layers):
        flow.copy_(attention[layer, 0])  # (n, n) from (layers, heads, n, n)
        for head in range(1, heads):  # summing head by head beats sum(dim=0) on a CPU
            flow.add_(attention[layer, head])
        flow.mul_(0.5 / heads).diagonal().add_(0.5)  # 0.5 * mean over heads + 0.5 * I
        flow.div_(flow.sum(-1, keepdim=True))
        if layer == 0:
            rollout[0].copy_(flow)
        else:
            torch.matmul(flow, rollout[layer - 1], out=rollout[layer])  # (n, n) @ (n, n)
    return rollout


def record_rollout(record: dict, section: str) -> torch.Tensor:
    """The rollout of `section` of `record`, (layers, n, n) float32.

    Rollout multiplies every layer from the first, so a record that stores some layers only
    (`extract.layers` set) is an error; one that stores some heads only (`extract.heads`,
    or their mean with `head_mean`) is rolled out with the mean of the heads it holds.
    """
    _check_every_layer(record, section)
    return attention_rollout(record["attention"][section])  # (layers, heads, n, n)


def block_rollout(record: dict, section: str) -> torch.Tensor:
    """The rollout of a long record (attnviz.reduce) on its blocks of tokens: (layers, m, m).

    Each layer's block means of the head mean (a block row: the mean of its tokens' rows;
    a block column: the sum of its tokens' columns, so rows still sum to 1) are multiplied
    as the token maps would be. It is the rollout of a token that stands for its block:
    exact where the tokens of a block attend alike, an approximation otherwise.
    """
    _check_every_layer(record, section)
    return attention_rollout(torch.stack(record["reduced"][section]["block_mean"])[:, None])


def _check_every_layer(record: dict, section: str) -> None:
    stored = record.get("layers", {}).get(section)
    chosen = record["meta"].get("settings", {}).get("layers")
    if chosen is not None or (stored is not None and stored != list(range(len(stored)))):
        raise AttnvizError(
            f"rollout multiplies every layer, but prompt '{record['meta'].get('prompt_id')}' "
            f"holds {section} layers {stored if stored is not None else chosen} only; extract "
            "it again with extract.layers=null (every layer)"
        )
