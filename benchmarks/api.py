"""IzzyViz-API benchmark: the comparison, stability, evolution and detected-region figures at
N = 128 and region detection at N = 512, through attnviz's IzzyViz functions (PDF written).

Baseline, in the same run: the comparison figure drawn the way IzzyViz draws it, one circle
artist per cell (`matplotlib.patches.Circle`), on the same heatmap; the ratio is its time over
attnviz's. (IzzyViz itself, measured by this team on CPU: comparison ~29 s at N = 128,
evolution ~37 s at N = 128, stability ~74 s at N = 32, region detection hours at N = 512.)
Targets: each figure < 2 s at N = 128, region detection < 1 s at N = 512.
Ends with
  RESULT compare_s=<s> stability_s=<s> evolution_s=<s> regions512_s=<s> compare_speedup=<x>

    python benchmarks/api.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from attnviz import izzyviz

N, RUNS, CHECKPOINTS = 128, 5, 5


def attention(rng, *shape) -> np.ndarray:
    """Rows of softmax(2 x normal): attention-like (q, k) maps, rows summing to 1."""
    x = rng.normal(size=shape).astype(np.float32) * 2
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def timed(function, *args, **kwargs) -> float:
    start = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - start


def per_cell_comparison(a: np.ndarray, b: np.ndarray, tokens, path: Path) -> None:
    """The baseline: the same figure with one Circle patch per cell."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle

    from attnviz.plot.heatmap import heatmap
    from attnviz.plot.layouts import save_figures

    fig = Figure(figsize=(20, 20))
    image = heatmap(a, tokens, tokens, fig.subplots(), cmap="Blues", gamma=1.5)
    difference = np.abs(a - b)
    radius = 0.45 * difference / difference.max()
    for (row, col), r in np.ndenumerate(radius):
        colour = image.cmap(image.norm(b[row, col]))
        image.axes.add_patch(Circle((col, row), r, facecolor=colour, alpha=0.7))
    save_figures([fig], path)


def main() -> None:
    rng = np.random.default_rng(0)
    tokens = [f"tok{i}" for i in range(N)]
    a, b = attention(rng, N, N), attention(rng, N, N)
    runs = np.stack([a + attention(rng, N, N) * 0.1 for _ in range(RUNS)])  # (runs, N, N)
    series = attention(rng, CHECKPOINTS, 1, 1, N, N)  # (checkpoints, layers, heads, N, N)
    long = attention(rng, 512, 512)
    long[100:110, 200:230] += 0.5  # a block to find
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        izzyviz.compare_two_attentions_with_circles(a, b, tokens, save_path=out / "warm.pdf")
        compare = timed(
            izzyviz.compare_two_attentions_with_circles, a, b, tokens, save_path=out / "c.pdf"
        )
        stability = timed(
            izzyviz.check_stability_heatmap_with_gradient_color,
            runs,
            tokens,
            tokens,
            save_path=out / "s.pdf",
        )
        evolution = timed(
            izzyviz.visualize_attention_evolution_sparklines,
            series,
            tokens,
            0,
            0,
            save_path=out / "e.pdf",
        )
        regions_figure = timed(
            izzyviz.visualize_attention_with_detected_regions,
            a,
            tokens,
            tokens,
            save_path=out / "r.pdf",
        )
        regions512 = timed(izzyviz.find_attention_regions_with_merging, long)
        baseline = timed(per_cell_comparison, a, b, tokens, out / "baseline.pdf")
        sizes = {p.name: p.stat().st_size / 1e6 for p in out.iterdir()}
    print(f"N = {N}: comparison {compare:.2f} s, stability ({RUNS} runs) {stability:.2f} s,")
    print(f"  evolution ({CHECKPOINTS} checkpoints) {evolution:.2f} s, ", end="")
    print(f"detected regions figure {regions_figure:.2f} s")
    print(f"region detection at N = 512: {regions512:.3f} s")
    print(f"baseline comparison (one Circle per cell): {baseline:.2f} s")
    print("PDF sizes (MB): " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(sizes.items())))
    print(
        f"RESULT compare_s={compare:.2f} stability_s={stability:.2f} evolution_s={evolution:.2f} "
        f"regions512_s={regions512:.3f} regions_figure_s={regions_figure:.2f} "
        f"compare_speedup={baseline / compare:.1f}"
    )


if __name__ == "__main__":
    main()
