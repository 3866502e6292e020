"""Finding what to look at in an attention matrix: top cells and high-attention regions, and
what each highlight variant of a panel marks, found before anything is drawn.

Pure NumPy on (q, k) matrices; nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attnviz.errors import AttnvizError

Region = tuple[int, int, int, int]  # (top, left, bottom, right), inclusive cell indices


def causal_mask(q: int, k: int) -> np.ndarray:
    """Cells a causal model cannot attend to: above the diagonal (aligned at the bottom right)."""
    return np.triu(np.ones((q, k), bool), k=1 + k - q)


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


class _RectStats:
    """Sum, mean and standard deviation of any rectangle in O(1), from 2-D prefix sums."""

    def __init__(self, values: np.ndarray):
        q, k = values.shape
        self.sums = np.zeros((q + 1, k + 1))
        self.squares = np.zeros((q + 1, k + 1))
        self.sums[1:, 1:] = values.cumsum(0).cumsum(1)
        self.squares[1:, 1:] = (values * values).cumsum(0).cumsum(1)

    @staticmethod
    def _total(table: np.ndarray, region: Region) -> float:
        top, left, bottom, right = region
        return (
            table[bottom + 1, right + 1]
            - table[top, right + 1]
            - table[bottom + 1, left]
            + table[top, left]
        )

    def mean(self, region: Region) -> float:
        top, left, bottom, right = region
        return self._total(self.sums, region) / ((bottom - top + 1) * (right - left + 1))

    def moments(self, regions: list[Region]) -> tuple[float, float, float]:
        """Count, sum and sum of squares of the cells of `regions` (counted once each
        where two overlap: give at most two regions)."""
        parts = [(r, 1) for r in regions]
        if len(regions) == 2 and (overlap := _overlap(*regions)):
            parts.append((overlap, -1))
        count = sum(sign * _area(r) for r, sign in parts)
        total = sum(sign * self._total(self.sums, r) for r, sign in parts)
        squares = sum(sign * self._total(self.squares, r) for r, sign in parts)
        return count, total, squares

    def std(self, regions: list[Region]) -> float:
        count, total, squares = self.moments(regions)
        return float(np.sqrt(max(0.0, squares / count - (total / count) ** 2)))

    def spread(self, regions: list[Region]) -> float:
        """The standard deviation of the cells of `regions`, at least a tenth of their mean
        (two near-equal cells of one block must not look perfectly even)."""
        count, total, _ = self.moments(regions)
        return max(self.std(regions), 0.1 * abs(total / count))


def _area(region: Region) -> int:
    top, left, bottom, right = region
    return (bottom - top + 1) * (right - left + 1)


def _overlap(a: Region, b: Region) -> Region | None:
    top, left = max(a[0], b[0]), max(a[1], b[1])
    bottom, right = min(a[2], b[2]), min(a[3], b[3])
    return (top, left, bottom, right) if top <= bottom and left <= right else None


def _near(a: Region, b: Region, gap: int) -> bool:
    """Overlapping, or at most `gap` cells apart both across and down."""
    rows = max(a[0], b[0]) - min(a[2], b[2]) - 1  # empty rows between them (negative: overlap)
    cols = max(a[1], b[1]) - min(a[3], b[3]) - 1
    return rows <= gap and cols <= gap


def _bounding(a: Region, b: Region) -> Region:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


class _Seeds:
    """The highest positive cells in turn, each more than `min_distance` cells (Chebyshev)
    from every seed and region so far, as 1 x 1 regions."""

    def __init__(self, values: np.ndarray, min_distance: int):
        self.values, self.distance = values, min_distance
        self.order = iter(np.argsort(-values, axis=None, kind="stable"))
        self.blocked = np.zeros(values.shape, bool)

    def block(self, region: Region) -> None:
        top, left, bottom, right = region
        d = self.distance
        self.blocked[max(0, top - d) : bottom + d + 1, max(0, left - d) : right + d + 1] = True

    def next(self) -> Region | None:
        for flat in self.order:
            row, col = (int(i) for i in np.unravel_index(flat, self.values.shape))
            if self.values[row, col] <= 0:
                return None
            if not self.blocked[row, col]:
                self.block((row, col, row, col))
                return (row, col, row, col)
        return None


def _grown(region: Region, stats: _RectStats, shape, threshold: float, steps: int) -> Region:
    """The region grown on the side whose new strip (1..`steps` cells deep) has the highest
    mean, if that mean is at least `threshold` times the region's own; else the region."""
    top, left, bottom, right = region
    q, k = shape
    floor = threshold * stats.mean(region)
    best: tuple[float, Region] | None = None
    for depth in range(1, steps + 1):
        strips = []
        if top - depth >= 0:
            strips.append(((top - depth, left, top - 1, right), (top - depth, left, bottom, right)))
        if bottom + depth < q:
            strips.append(
                ((bottom + 1, left, bottom + depth, right), (top, left, bottom + depth, right))
            )
        if left - depth >= 0:
            strips.append(
                ((top, left - depth, bottom, left - 1), (top, left - depth, bottom, right))
            )
        if right + depth < k:
            strips.append(
                ((top, right + 1, bottom, right + depth), (top, left, bottom, right + depth))
            )
        for strip, candidate in strips:
            strength = stats.mean(strip)
            if strength >= floor and (best is None or strength > best[0]):
                best = (strength, candidate)
    return region if best is None else best[1]


def find_regions(
    matrix: np.ndarray,
    n_regions: int = 3,
    min_distance: int = 2,
    expansion_threshold: float = 0.7,
    merge_std_threshold: float = 0.6,
    proximity_threshold: int = 2,
    max_expansion_steps: int = 3,
    masked: np.ndarray | None = None,
) -> list[Region]:
    """High-attention rectangles as (top, left, bottom, right), sorted by mean attention.

    Seeds: the highest cells, each more than `min_distance` cells from the others (`n_regions`
    of them, and as many again twice over in reserve). Each region grows, round after round,
    by the strip of 1..`max_expansion_steps` rows or columns with the highest mean, while that
    mean is at least `expansion_threshold` times the region's. A region that grows onto or
    within `proximity_threshold` cells of another merges with it into their bounding box when
    the box is about as even as the two regions (its standard deviation at most
    1 / `merge_std_threshold` times theirs, or than a tenth of their mean if that is more);
    a reserve seed then takes the free place. Means
    come from 2-D prefix sums, so a step costs O(1) and the search O(N^2 log N) (IzzyViz's is
    O(N^4): hours at N = 512).
    """
    if n_regions < 0 or min_distance < 0 or max_expansion_steps < 0 or proximity_threshold < 0:
        raise AttnvizError(
            "n_regions, min_distance, max_expansion_steps and proximity_threshold must be >= 0"
        )
    if merge_std_threshold <= 0:
        raise AttnvizError(f"merge_std_threshold is {merge_std_threshold}; give a value above 0")
    values = np.asarray(matrix, dtype=np.float64)
    if masked is not None:
        values = np.where(masked, 0.0, values)
    stats = _RectStats(values)
    seeds = _Seeds(values, min_distance)
    regions: list[Region] = []

    def refill() -> None:
        while len(regions) < n_regions and (seed := seeds.next()) is not None:
            regions.append(seed)

    refill()
    changed = True
    while changed:
        changed = False
        for i, region in enumerate(regions):
            grown = _grown(region, stats, values.shape, expansion_threshold, max_expansion_steps)
            if grown == region:
                continue
            others = [
                j for j, r in enumerate(regions) if j != i and _near(grown, r, proximity_threshold)
            ]
            box = grown
            for j in others:
                box = _bounding(box, regions[j])
            even = all(
                stats.std([box]) * merge_std_threshold <= stats.spread([region, regions[j]])
                for j in others
            )
            if even:  # grow (into free space, or merging with its neighbours)
                regions = [r for j, r in enumerate(regions) if j != i and j not in others]
                regions.append(box)
                seeds.block(box)
                refill()
                changed = True
                break
    return sorted(regions, key=lambda region: -stats.mean(region))


@dataclass(frozen=True)
class Marks:
    """What a panel highlights: cells as (row, col) and boxes as (top, left, bottom, right)."""

    cells: list[tuple[int, int]] = field(default_factory=list)
    boxes: list[Region] = field(default_factory=list)


def panel_marks(
    matrix: np.ndarray,
    causal: bool,
    variant: str,
    top_n: int,
    regions: list,
    auto_regions: int,
    top: list | None = None,
) -> Marks:
    """What `variant` highlights in `matrix` (q, k): top_cells, the `top_n` highest cells (of
    a long record, its exact `top` cells (row, col, score, label), in the blocks drawn) and the
    `regions` given; regions, the `regions` given and `auto_regions` found ones; plain, none."""
    q, k = matrix.shape
    masked = causal_mask(q, k) if causal else None
    cells = []
    if variant == "top_cells":
        if top is not None:
            cells = list(dict.fromkeys((r, c) for r, c, _, _ in top[:top_n]))
        else:
            cells = top_cells(matrix, top_n, masked)
    boxes = []
    if variant in ("top_cells", "regions"):
        boxes = check_regions([tuple(r) for r in regions], (q, k))
        if variant == "regions":
            boxes += find_regions(matrix, auto_regions, masked=masked)
    return Marks(cells, boxes)
