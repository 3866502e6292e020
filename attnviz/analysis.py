"""Finding what to look at in an attention matrix: top cells and high-attention regions.

Pure NumPy on (q, k) matrices; nothing here draws.
"""

from __future__ import annotations

import numpy as np

from attnviz.errors import AttnvizError

Region = tuple[int, int, int, int]  # (top, left, bottom, right), inclusive cell indices


def top_cells(matrix: np.ndarray, n: int, masked: np.ndarray | None = None) -> list[tuple]:
    """The `n` highest cells as (row, col), highest first; masked cells never count."""
    values = np.where(masked, -np.inf, matrix) if masked is not None else matrix
    available = int(np.isfinite(values).sum())
    if not 0 <= n <= available:
        raise AttnvizError(
            f"top_n is {n} but the matrix has {available} cells to choose from; "
            f"use a top_n between 0 and {available}"
        )
    flat = np.argsort(-values, axis=None, kind="stable")[:n]
    return [tuple(int(i) for i in np.unravel_index(f, matrix.shape)) for f in flat]


def check_regions(regions: list[Region], shape: tuple[int, int]) -> list[Region]:
    """Regions given as (top, left, bottom, right) must lie inside a (q, k) matrix."""
    q, k = shape
    for top, left, bottom, right in regions:
        if not (0 <= top <= bottom < q and 0 <= left <= right < k):
            raise AttnvizError(
                f"region ({top}, {left}) to ({bottom}, {right}) is outside the {q} x {k} "
                f"matrix; rows run 0..{q - 1} and columns 0..{k - 1}, top-left first"
            )
    return list(regions)


def find_regions(
    matrix: np.ndarray,
    n_regions: int = 3,
    min_distance: int = 2,
    expansion_threshold: float = 0.7,
    max_expansion_steps: int = 64,
    masked: np.ndarray | None = None,
) -> list[Region]:
    """High-attention rectangles as (top, left, bottom, right), sorted by mean attention.

    The highest cell not yet covered, and at least `min_distance` cells from every region so
    far, seeds a region; it grows one row or column at a time, towards the side whose new strip
    has the highest mean, while that mean is at least `expansion_threshold` times the seed's
    value. Means come from a 2-D prefix sum, so a step costs O(1): the whole search is O(N^2)
    (IzzyViz's is O(N^4): hours at N = 512).
    """
    values = np.where(masked, 0.0, matrix) if masked is not None else np.asarray(matrix)
    values = values.astype(np.float64)
    q, k = values.shape
    table = np.zeros((q + 1, k + 1))
    table[1:, 1:] = values.cumsum(0).cumsum(1)

    def mean(top, left, bottom, right):  # inclusive bounds
        total = (
            table[bottom + 1, right + 1]
            - table[top, right + 1]
            - table[bottom + 1, left]
            + table[top, left]
        )
        return total / ((bottom - top + 1) * (right - left + 1))

    near = np.zeros((q, k), bool)  # covered by a region or within min_distance of one
    regions: list[Region] = []
    for flat in np.argsort(-values, axis=None, kind="stable"):
        if len(regions) == n_regions:
            break
        row, col = (int(i) for i in np.unravel_index(flat, values.shape))
        if near[row, col] or values[row, col] <= 0:
            continue
        top, left, bottom, right = row, col, row, col
        floor = expansion_threshold * values[row, col]
        for _ in range(max_expansion_steps):
            options = []
            if top > 0:
                options.append(
                    (mean(top - 1, left, top - 1, right), (top - 1, left, bottom, right))
                )
            if bottom < q - 1:
                options.append(
                    (mean(bottom + 1, left, bottom + 1, right), (top, left, bottom + 1, right))
                )
            if left > 0:
                options.append(
                    (mean(top, left - 1, bottom, left - 1), (top, left - 1, bottom, right))
                )
            if right < k - 1:
                options.append(
                    (mean(top, right + 1, bottom, right + 1), (top, left, bottom, right + 1))
                )
            best = max(options, default=None)
            if best is None or best[0] < floor:
                break
            top, left, bottom, right = best[1]
        regions.append((top, left, bottom, right))
        d = min_distance
        near[max(0, top - d) : bottom + d + 1, max(0, left - d) : right + d + 1] = True
    return sorted(regions, key=lambda region: -mean(*region))
