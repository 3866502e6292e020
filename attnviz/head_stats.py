"""Head statistics: one number per (layer, head) that says what kind of head it is.

From a record alone (no model): how spread out each head's attention is (`entropy`), how much
it parks on the first token or on special tokens (attention sinks), how much it looks one
token back or at itself, how far it looks, and, for a decoder that generated text, how much
the generated tokens look back at the prompt. Computed on the square self-attention sections
(`self`, `encoder`, `decoder`) and on cross-attention (`cross`: entropy and sinks only; it has
no diagonal or distance to speak of), a block of rows at a time in float32, so memory stays
a few MB whatever the record's length; a causal section reads only the keys each block may
attend, half the work of the full square.
`select_heads` turns the statistics into a choice of heads to draw. torch is imported where
the numbers are computed, so the Snakefile can check statistic names without it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError
from attnviz.views import stored_labels

STATISTICS = (
    "entropy",  # mean normalised row entropy: 1 uniform over the keys allowed, 0 one-hot
    "sink_first",  # mean attention on key 0
    "sink_special",  # mean summed attention on special tokens ([CLS], <s>, ...)
    "previous_token",  # mean A[i, i - 1] over rows i >= 1
    "diagonal",  # mean A[i, i]
    "distance",  # mean over rows of sum_j A[i, j] * |i - j|, in tokens
    "generated_to_source",  # decoder generation: mean attention of generated rows on the prompt
)
SECTIONS = ("self", "encoder", "decoder", "cross")
_POSITIONAL = ("previous_token", "diagonal", "distance", "generated_to_source")  # square only
_CHUNK_ELEMENTS = 2**20  # float32 cells per block of rows: 4 MB, stays in cache
_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32
_SPEC = re.compile(r"(top|bottom)_k_by_(\w+)")
ALL_HEADS = "all"


@dataclass
class SectionStats:
    """The statistics of one section: name -> (layers, heads) float64, with the model's layer
    index of each stored layer and the label of each stored head ("3", or "mean")."""

    stats: dict[str, np.ndarray]
    layers: list[int]
    heads: list[str]


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
    import torch

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
    import torch

    return {
        name: torch.zeros(layers, heads, dtype=torch.float64, device=device) for name in STATISTICS
    }


def stream_inputs(n: int, k: int, causal: bool, special=None, device=None):
    """log(keys each row may see) (n,), and the positions of the special tokens among the
    k keys `add_block` takes (few: their columns are summed, not a product over every key)."""
    import torch

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
        counts.update(dict.fromkeys(_POSITIONAL, 0))
    return {
        name: (total.cpu() / counts.get(name, n)).numpy()
        if counts.get(name, n)
        else np.full(tuple(total.shape), np.nan)
        for name, total in sums.items()
    }


def add_block(sums, layer, block, first, log_allowed, special, source_end, causal) -> None:
    """Add the row sums of one block of rows (`first`, ...) of one layer to `sums`; `block`
    (heads, rows, keys) float32 on any device (keys may stop after a causal block's last row;
    a `causal` block is zero after each row's own key); `special`: key positions of the
    special tokens (from `stream_inputs`)."""
    import torch

    rows, keys = block.shape[1:]
    last = first + rows
    mass = block.sum(-1)  # (heads, rows)
    # entropy of the row scaled to 1: log(s) + sum(-a log a) / s. The log's argument is
    # clamped to the smallest normal float: a zero weight gives 0 * log(tiny) = 0, and no
    # subnormal number reaches the log (a subnormal input costs a CPU ~10x the time)
    a_log_a = block.clamp_min(_TINY).log_().mul_(block).sum(-1)  # (heads, rows)
    entropy = mass.log() - a_log_a / mass
    usable = log_allowed[first:last] > 0  # rows with more than one key to choose from
    sums["entropy"][layer] += (entropy[:, usable] / log_allowed[first:last][usable]).sum(-1)
    sums["sink_first"][layer] += block[:, :, 0].sum(-1)
    sums["sink_special"][layer] += block[:, :, special[special < keys]].sum((-2, -1))
    # diagonal offsets in block coordinates: row i of the block is token first + i
    sums["previous_token"][layer] += block.diagonal(first - 1, 1, 2).sum(-1)
    sums["diagonal"][layer] += block.diagonal(first, 1, 2).sum(-1)
    tokens = torch.arange(first, last, dtype=torch.float32, device=block.device)
    keys_at = torch.arange(keys, dtype=torch.float32, device=block.device)
    # sum_j a_ij |i - j| = sum_j a_ij (i - j) + 2 sum_(j > i) a_ij (j - i): one matrix
    # product, and the second term only where keys after the query exist
    signed = tokens * mass - block @ keys_at  # (heads, rows)
    if not causal and keys > first + 1:  # keys after the query exist
        ahead = (keys_at[None, :] - tokens[:, None]).clamp_(min=0)  # (rows, keys)
        signed += 2 * (block * ahead).sum(-1)
    sums["distance"][layer] += signed.sum(-1)
    if source_end is not None and last > source_end:
        sums["generated_to_source"][layer] += block[
            :, max(0, source_end - first) :, :source_end
        ].sum((-2, -1))


def is_causal(record: dict, section: str) -> bool:
    """Whether the model masks keys after the query in this section of `record`."""
    return section == "decoder" or (
        section == "self" and record["meta"]["architecture"] == "decoder"
    )


def record_head_stats(record: dict) -> dict[str, SectionStats]:
    """The statistics of every attention section of `record`, by section."""
    result = {}
    if "reduced" in record:  # a long prompt: statistics computed while it was captured
        return {
            section: SectionStats(
                {name: values.numpy() for name, values in part["stats"].items()},
                *stored_labels(record, section, *part["stats"]["entropy"].shape),
            )
            for section, part in record["reduced"].items()
        }
    for section in SECTIONS:
        if section not in record["attention"]:
            continue
        attention = record["attention"][section]  # (layers, heads, q, k)
        prefix = "target_" if section == "decoder" else ""  # the keys' side: cross keys: input
        source_end = None
        if section == "self" and record["meta"]["architecture"] == "decoder":
            source_end = record.get("segments", {}).get("source_end")
        stats = head_statistics(
            attention,
            is_causal(record, section),
            record.get(f"{prefix}special_tokens_mask"),
            source_end,
        )
        result[section] = SectionStats(stats, *stored_labels(record, section, *attention.shape[:2]))
    return result


def stats_rows(records: Iterable[dict], prompt_set: str | None = None) -> list[dict]:
    """One table row per (record, section, layer, head): model, prompt_set (`prompt_set`, else
    the record's meta, else empty), prompt, section, layer, head and one column per statistic.
    `records` may be a generator, so that only one record is loaded at a time."""
    rows = []
    for record in records:
        meta = record["meta"]
        for section, result in record_head_stats(record).items():
            for i, layer in enumerate(result.layers):
                for j, head in enumerate(result.heads):
                    rows.append(
                        {
                            "model": meta.get("model", ""),
                            "prompt_set": prompt_set or meta.get("prompt_set", ""),
                            "prompt": meta.get("prompt_id", ""),
                            "section": section,
                            "layer": layer,
                            "head": head,
                            **{name: float(v[i, j]) for name, v in result.stats.items()},
                        }
                    )
    return rows


def write_stats_csv(rows: list[dict], path: str | os.PathLike) -> None:
    """Write `stats_rows` output as CSV atomically (NaN as `nan`)."""
    columns = ["model", "prompt_set", "prompt", "section", "layer", "head", *STATISTICS]
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)


def read_stats_csv(path: str | os.PathLike) -> list[dict]:
    """The rows of a table written by `write_stats_csv`, statistics as floats."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except FileNotFoundError:
        raise AttnvizError(f"head statistics table {path} does not exist; run the sweep") from None
    for row in rows:
        row["layer"] = int(row["layer"])
        for name in STATISTICS:
            row[name] = float(row[name])
    return rows


def concat_stats_csv(paths: Iterable[str | os.PathLike], out: str | os.PathLike) -> None:
    """One table of the rows of many (the sweep-wide table of every model and prompt set)."""
    write_stats_csv([row for path in paths for row in read_stats_csv(path)], out)


def table_stats(rows: list[dict]) -> dict[str, SectionStats]:
    """The mean over prompts of each section's statistics in table `rows` (one model):
    section -> (layers, heads) arrays, with the layer indices and head labels of the rows."""
    result = {}
    for section in dict.fromkeys(row["section"] for row in rows):
        mine = [row for row in rows if row["section"] == section]
        layers = list(dict.fromkeys(row["layer"] for row in mine))
        heads = list(dict.fromkeys(row["head"] for row in mine))
        per_prompt: dict[str, dict[str, np.ndarray]] = {}
        for row in mine:
            stats = per_prompt.setdefault(
                row["prompt"],
                {name: np.full((len(layers), len(heads)), np.nan) for name in STATISTICS},
            )
            at = layers.index(row["layer"]), heads.index(row["head"])
            for name in STATISTICS:
                stats[name][at] = row[name]
        result[section] = SectionStats(mean_over_prompts(per_prompt.values()), layers, heads)
    return result


def mean_over_prompts(results: Iterable[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The per-model mean of the statistics of many prompts (one section each): name ->
    (layers, heads), ignoring NaN (a prompt that generated nothing does not pull
    `generated_to_source` down); NaN where no prompt has a value."""
    totals: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for number, stats in enumerate(results, start=1):
        for name, values in stats.items():
            values = np.asarray(values, dtype=np.float64)
            if name in totals and values.shape != totals[name].shape:
                raise AttnvizError(
                    f"prompt {number} has {name} of shape {values.shape} but the first has "
                    f"{totals[name].shape}; extract every prompt with the same layers and heads"
                )
            totals[name] = totals.get(name, 0.0) + np.nan_to_num(values)
            counts[name] = counts.get(name, 0) + ~np.isnan(values)
    if not totals:
        raise AttnvizError("no prompts to average over; give the statistics of at least one")
    return {
        name: np.divide(
            totals[name],
            counts[name],
            out=np.full(totals[name].shape, np.nan),
            where=counts[name] > 0,
        )
        for name in totals
    }


def statistic_applies(name: str, section: str, generates: bool) -> bool:
    """Whether statistic `name` has values in `section` (self, encoder, decoder, cross) of a
    model whose prompts generate text (`generates`: a decoder's generated tokens)."""
    if section == "cross":
        return name not in _POSITIONAL
    return name != "generated_to_source" or (section == "self" and generates)


def parse_selection(spec: str) -> tuple[str, str]:
    """(`top` or `bottom`, statistic) of a head selection `top_k_by_<statistic>` /
    `bottom_k_by_<statistic>`; a malformed spec or an unknown statistic is an error."""
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise AttnvizError(
            f"head selection '{spec}' is malformed; write all, top_k_by_<statistic> or "
            "bottom_k_by_<statistic>, e.g. bottom_k_by_entropy"
        )
    direction, name = match.groups()
    if name not in STATISTICS:
        raise AttnvizError(
            f"unknown statistic '{name}' in '{spec}'; choose one of {', '.join(STATISTICS)}"
        )
    return direction, name


def selection_title(spec: str, k: int) -> str:
    """What a head selection shows, in words: `bottom_k_by_entropy`, 8 -> "bottom 8 heads by
    entropy"."""
    direction, name = parse_selection(spec)
    return f"{direction} {k} heads by {name}"


def select_heads(stats: Mapping[str, np.ndarray], spec: str, k: int) -> list[tuple[int, int]]:
    """The `k` heads `spec` asks for, best first, as (layer position, head position) in the
    (layers, heads) arrays of `stats`: `top_k_by_<statistic>` the highest values,
    `bottom_k_by_<statistic>` the lowest (e.g. `bottom_k_by_entropy`, the most focused heads).
    Ties keep layer-then-head order; NaN is never selected, so fewer than `k` heads come back
    when fewer have a value (none at all is an error)."""
    direction, name = parse_selection(spec)
    values = np.asarray(stats[name], dtype=np.float64)  # (layers, heads)
    total = values.size
    if not 1 <= k <= total:
        raise AttnvizError(
            f"k is {k} but there are {total} heads ({values.shape[0]} layers x "
            f"{values.shape[1]} heads); choose k from 1 to {total}"
        )
    flat = values.ravel()
    present = np.flatnonzero(~np.isnan(flat))
    if present.size == 0:
        raise AttnvizError(
            f"statistic '{name}' has no value for any head of this view (as previous_token of "
            "cross-attention); choose another statistic"
        )
    keys = -flat[present] if direction == "top" else flat[present]
    chosen = present[np.argsort(keys, kind="stable")[:k]]
    return [tuple(int(i) for i in divmod(int(f), values.shape[1])) for f in chosen]
