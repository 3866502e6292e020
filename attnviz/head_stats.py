"""Head statistics: one number per (layer, head) that says what kind of head it is.

From a record alone (no model): how spread out each head's attention is (`entropy`), how much
it parks on the first token or on special tokens (attention sinks), how much it looks one
token back or at itself, how far it looks, and, for a decoder that generated text, how much
the generated tokens look back at the prompt. Computed on the square self-attention sections
(`self`, `encoder`, `decoder`) and on cross-attention (`cross`: entropy and sinks only; it has
no diagonal or distance to speak of), a block of rows at a time in float32 (attnviz.statistics),
so memory stays a few MB whatever the record's length; a causal section reads only the keys
each block may attend, half the work of the full square.
`select_heads` turns the statistics into a choice of heads to draw. The statistics' names and
the head selections by them live in `attnviz.catalogue`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from attnviz.atomic import atomic_path
from attnviz.catalogue import SECTIONS, STATISTICS, parse_selection
from attnviz.errors import AttnvizError
from attnviz.matrices import stored_labels
from attnviz.statistics import head_statistics


@dataclass
class SectionStats:
    """The statistics of one section: name -> (layers, heads) float64, with the model's layer
    index of each stored layer and the label of each stored head ("3", or "mean")."""

    stats: dict[str, np.ndarray]
    layers: list[int]
    heads: list[str]


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


def write_set_stats(
    record_paths: list[str],
    prompt_set: str,
    out: str | os.PathLike,
    expected: list[dict] | None = None,
) -> None:
    """The head statistics of one model's records of one prompt set: every (prompt, section,
    layer, head) as a CSV table (`write_stats_csv`). Records are read one at a time
    (`expected`: what each must have been made for)."""
    from attnviz.record import load_record

    expected = expected or [None] * len(record_paths)
    records = (load_record(p, e) for p, e in zip(record_paths, expected, strict=True))
    write_stats_csv(stats_rows(records, prompt_set), out)


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
