"""Analysis benchmark: head statistics and attention rollout of a SmolLM2-sized record
(30 layers x 9 heads, causal, N = 1024 tokens of which the last 256 generated, stored in
float16 as records are), through `attnviz.head_stats.record_head_stats` and
`attnviz.rollout.record_rollout`, best of a few runs.

Baseline, in the same run: the statistics the plain way, a Python loop over the rows of each
head with NumPy on each row, timed on a slice of heads and scaled to the record; its numbers
are checked against attnviz's on that slice, and the ratio of the times is printed.
Targets: each <= 2 s on a 2-core CPU. Ends with
  RESULT stats_seconds=<s> rollout_seconds=<s>

    python benchmarks/analysis.py
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
import torch

from attnviz.catalogue import STATISTICS
from attnviz.head_stats import record_head_stats
from attnviz.rollout import record_rollout

LAYERS, HEADS, N, SOURCE_END = 30, 9, 1024, 768
RUNS = 3
BASELINE_HEADS = 2  # heads of layer 0 the row loop is timed on


def causal_record() -> dict:
    """A decoder record of random causal attention: rows sum to 1, upper triangle 0."""
    g = torch.Generator().manual_seed(0)
    future = torch.triu(torch.ones(N, N, dtype=torch.bool), 1)
    attention = torch.empty(LAYERS, HEADS, N, N, dtype=torch.float16)  # (layers, heads, n, n)
    for layer in range(LAYERS):  # one layer of float32 at a time
        scores = torch.randn(HEADS, N, N, generator=g) * 2
        attention[layer] = torch.softmax(scores.masked_fill(future, -torch.inf), -1)
    special = torch.zeros(N, dtype=torch.bool)
    special[0] = True
    return {
        "tokens": [f"t{i}" for i in range(N)],
        "special_tokens_mask": special,
        "attention": {"self": attention},
        "segments": {"source_end": SOURCE_END},
        "meta": {"model": "random", "prompt_id": "p", "architecture": "decoder"},
    }


def row_loop(matrix: np.ndarray, special: np.ndarray) -> dict[str, float]:
    """The baseline: one head's statistics row by row, from their definitions."""
    per_row = {name: [] for name in STATISTICS}
    keys = np.arange(N)
    for i, row in enumerate(matrix):
        if i > 0:
            p = row[: i + 1] / row[: i + 1].sum()
            p = p[p > 0]
            per_row["entropy"].append(-(p * np.log(p)).sum() / math.log(i + 1))
            per_row["previous_token"].append(row[i - 1])
        per_row["sink_first"].append(row[0])
        per_row["sink_special"].append(row[special].sum())
        per_row["diagonal"].append(row[i])
        per_row["distance"].append((row * np.abs(i - keys)).sum())
        if i >= SOURCE_END:
            per_row["generated_to_source"].append(row[:SOURCE_END].sum())
    return {name: float(np.mean(values)) for name, values in per_row.items()}


def best_of(function, *args) -> tuple[float, object]:
    times, result = [], None
    for _ in range(RUNS):
        start = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    record = causal_record()
    stats_s, stats = best_of(record_head_stats, record)
    rollout_s, rollout = best_of(record_rollout, record, "self")
    special = record["special_tokens_mask"].numpy()
    start = time.perf_counter()
    loop = [
        row_loop(record["attention"]["self"][0, head].double().numpy(), special)
        for head in range(BASELINE_HEADS)
    ]
    loop_s = (time.perf_counter() - start) * LAYERS * HEADS / BASELINE_HEADS
    differences = [
        abs(loop[head][name] - stats["self"].stats[name][0, head]) / max(1.0, abs(loop[head][name]))
        for head in range(BASELINE_HEADS)
        for name in STATISTICS
    ]
    rows = rollout.sum(-1)  # (layers, n)
    print(f"# {os.cpu_count()}-core CPU, torch {torch.__version__}, best of {RUNS} runs")
    print(f"record: {LAYERS} layers x {HEADS} heads, N = {N} (float16), {N - SOURCE_END} generated")
    print(f"{f'head statistics ({len(STATISTICS)})':<22} {stats_s:.3f} s")
    print(f"{f'rollout ({LAYERS} layers)':<22} {rollout_s:.3f} s")
    print(
        f"baseline, a row loop: {loop_s:.1f} s (timed on {BASELINE_HEADS} heads, scaled), "
        f"{loop_s / stats_s:.0f}x the statistics' time; largest relative difference "
        f"{max(differences):.1e}"
    )
    print(f"rollout rows sum to 1 within {float((rows - 1).abs().max()):.1e}")
    print(f"RESULT stats_seconds={stats_s:.3f} rollout_seconds={rollout_s:.3f}")


if __name__ == "__main__":
    main()
