"""Figure benchmark: attnviz's per-head pages against the Attention-Viewer way, and one long map.

On one synthetic attention set (seeded, causal, 12 layers x 12 heads), in the same run:
  - per-head pages at N = 32 and 128: attnviz (one multi-page PDF, one page per layer) against
    the Attention-Viewer way (one seaborn heatmap per panel, every token labelled on both axes,
    a figure of 2N x 0.5*rows*N inches, one JPEG per layer). At N = 128 the Attention-Viewer
    way is timed on the first `--av-layers` layers (each takes tens of seconds) and compared
    per page;
  - one N = 4096 heatmap (attnviz, PDF).
It prints times and file sizes and ends with
  RESULT perhead_speedup_n128=<x> long_seconds=<s> long_pdf_mb=<m>

    pip install -e ".[bench]"        # seaborn, for the Attention-Viewer way
    python benchmarks/plot.py
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

LAYERS = HEADS = 12
PER_ROW = 4


def synthetic(n: int, seed: int = 0) -> np.ndarray:
    """(layers, heads, n, n) causal attention: rows sum to 1, upper triangle 0."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(LAYERS, HEADS, n, n)).astype(np.float32) * 2
    scores[..., np.triu(np.ones((n, n), bool), 1)] = -np.inf
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True)


def attnviz_pages(attention: np.ndarray, tokens: list[str], out: Path) -> float:
    from attnviz.config import PlotConfig
    from attnviz.matrices import ViewData
    from attnviz.plot.layouts import head_figures, save_figures

    start = time.perf_counter()
    data = ViewData(
        attention,
        tokens,
        tokens,
        True,
        "synthetic",
        list(range(LAYERS)),
        [str(h) for h in range(HEADS)],
    )
    save_figures(head_figures(data, PlotConfig(), "synthetic", "plain"), out)
    return time.perf_counter() - start


def attention_viewer_pages(attention: np.ndarray, tokens: list[str], out: Path, layers: int):
    """The peer's way, per peers.md: seaborn per panel, all tokens labelled, JPEG per layer."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    n = len(tokens)
    rows = math.ceil(HEADS / PER_ROW)
    mask = np.triu(np.ones((n, n), bool), 1)
    start = time.perf_counter()
    for layer in range(layers):
        fig, axes = plt.subplots(rows, PER_ROW, figsize=(2 * n, 0.5 * rows * n))
        for head, ax in enumerate(axes.flat):
            sns.heatmap(
                attention[layer, head],
                mask=mask,
                cmap="RdBu_r",
                ax=ax,
                xticklabels=tokens,
                yticklabels=tokens,
                square=True,
            )
            ax.set_title(f"head {head}")
        fig.savefig(out / f"layer_{layer}.jpg")
        plt.close(fig)
    return time.perf_counter() - start


def long_heatmap(n: int, out: Path) -> float:
    from matplotlib.figure import Figure

    from attnviz.plot import heatmap, save_figures

    rng = np.random.default_rng(1)
    matrix = rng.random((n, n), dtype=np.float32) ** 8
    matrix[np.triu(np.ones((n, n), bool), 1)] = 0
    matrix /= matrix.sum(1, keepdims=True)
    tokens = [f"tok{i}" for i in range(n)]
    start = time.perf_counter()
    fig = Figure(figsize=(9, 8))
    heatmap(matrix, tokens, tokens, fig.subplots(), causal=True, title=f"N = {n}")
    save_figures([fig], out)
    return time.perf_counter() - start


def mib(path: Path) -> float:
    files = [path] if path.is_file() else list(path.iterdir())
    return sum(os.path.getsize(f) for f in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--av-layers",
        type=int,
        default=2,
        help="layers the Attention-Viewer way draws at N = 128 (all at N = 32)",
    )
    parser.add_argument("--long", type=int, default=4096)
    args = parser.parse_args()
    speedup = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{'N':>5} {'way':<18} {'pages':>5} {'s/page':>8} {'MiB':>8}")
        for n in (32, 128):
            attention = synthetic(n)
            tokens = [f"w{i}" for i in range(n)]
            ours = attnviz_pages(attention, tokens, tmp / f"attnviz{n}.pdf")
            av_dir = tmp / f"av{n}"
            av_dir.mkdir()
            layers = LAYERS if n == 32 else args.av_layers
            theirs = attention_viewer_pages(attention, tokens, av_dir, layers)
            per_ours, per_theirs = ours / LAYERS, theirs / layers
            speedup[n] = per_theirs / per_ours
            print(
                f"{n:>5} {'attnviz':<18} {LAYERS:>5} {per_ours:>8.3f} "
                f"{mib(tmp / f'attnviz{n}.pdf'):>8.2f}"
            )
            print(
                f"{n:>5} {'Attention-Viewer':<18} {layers:>5} {per_theirs:>8.3f} "
                f"{mib(av_dir) * LAYERS / layers:>8.2f}  (MiB scaled to {LAYERS} pages)"
            )
        seconds = long_heatmap(args.long, tmp / "long.pdf")
        size = mib(tmp / "long.pdf")
        print(f"{args.long:>5} {'attnviz, 1 map':<18} {1:>5} {seconds:>8.3f} {size:>8.2f}")
    print(
        f"RESULT perhead_speedup_n128={speedup[128]:.1f} long_seconds={seconds:.2f} "
        f"long_pdf_mb={size:.2f}"
    )


if __name__ == "__main__":
    main()
