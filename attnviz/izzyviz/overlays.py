"""IzzyViz's comparison, stability, evolution and region figures on attnviz's heatmap primitive
and overlays (`attnviz.plot.overlays`): one image plus one collection per figure, so each draws
in about a second at 128 tokens where IzzyViz takes 30 s to minutes. Each returns the figure it
drew (not known to pyplot: nothing stays open); given `ax`, it draws there instead.
"""

from __future__ import annotations

from attnviz.analysis import find_regions
from attnviz.errors import AttnvizError
from attnviz.izzyviz import inputs
from attnviz.plot.layouts import save_figures
from attnviz.plot.overlays import (
    cell_grid,
    comparison_circles,
    evolution_sparklines,
    stability_circles,
)
from attnviz.plot.panels import (
    Panel,
    axis_titles,
    draw_panel,
    heatmap_options,
    marks_of,
    panel_grid,
)


def _labels(tokens, count: int, name: str, axis: str, prefix: str) -> list[str]:
    if tokens is None:
        return [f"{prefix}{i}" for i in range(count)]
    return inputs.check_tokens(name, tokens, count, axis)


def _panel(matrix, rows: list[str], cols: list[str]) -> Panel:
    return Panel(
        matrix, "", rows, cols, inputs.special_mask(rows), inputs.special_mask(cols), False
    )


def _figure(panel: Panel, style, title: str, ax=None):
    """The figure and axes to draw `panel` on: the caller's `ax`, or a new one-panel figure
    sized for the tokens (the title above it)."""
    if ax is not None:
        return ax.figure, ax
    fig, [ax], _ = panel_grid([panel], style, title or "", per_row=1)
    return fig, ax


def _finish(fig, ax, style, save_path, title) -> object:
    axis_titles(ax, style)
    if save_path:
        save_figures([fig], save_path, title)
    return fig


def compare_two_attentions_with_circles(
    attn1,
    attn2,
    tokens,
    title="Comparison with Circles",
    xlabel=None,
    ylabel=None,
    save_path=None,
    circle_scale=1.0,
    gamma=1.5,
    cmap="Blues",
    max_circle_ratio=0.45,
):
    """Two attention maps of the same tokens in one: cells coloured by `attn1`, in each a circle
    coloured by `attn2` on the same colour scale, its radius proportional to |attn1 - attn2|.
    Writes `save_path` or attention_comparison_circles.pdf."""
    first = inputs.matrix_2d(attn1, "attn1")  # (q, k)
    second = inputs.matrix_2d(attn2, "attn2")  # (q, k)
    if first.shape != second.shape:
        raise AttnvizError(
            f"attn2 is {second.shape[0]} x {second.shape[1]} but attn1 is {first.shape[0]} x "
            f"{first.shape[1]}; compare two maps of the same tokens"
        )
    q, k = first.shape
    rows = inputs.check_tokens("tokens", tokens, q, "rows")
    cols = inputs.check_tokens("tokens", tokens, k, "columns")
    style = inputs.style_for(max(q, k), gamma=gamma, cmap=cmap, xlabel=xlabel, ylabel=ylabel)
    panel = _panel(first, rows, cols)
    fig, ax = _figure(panel, style, title)
    comparison_circles(
        first,
        second,
        rows,
        cols,
        ax,
        circle_scale=circle_scale,
        max_circle_ratio=max_circle_ratio,
        **heatmap_options(panel, style),
    )
    return _finish(fig, ax, style, save_path or "attention_comparison_circles.pdf", title)


def check_stability_heatmap_with_gradient_color(
    matrices,
    x_labels=None,
    y_labels=None,
    title="Check Stability Heatmap with Gradient Circles",
    xlabel="Tokens Attended to",
    ylabel="Tokens Attending",
    ax=None,
    use_std_error=True,
    circle_scale=1.0,
    cmap="Blues",
    linecolor="white",
    linewidths=1.0,
    save_path="check_stability_heatmap_with_gradient_color.pdf",
    gamma=1.5,
    radial_resolution=100,
    use_white_center=False,
    color_contrast_scale=2.0,
    max_circle_ratio=0.45,
):
    """How stable attention is across runs (runs, q, k), e.g. seeds or paraphrases: cells
    coloured by the mean, in each a circle sized by the standard error (or standard deviation
    without `use_std_error`) and filled with a radial gradient from the colour of
    mean - color_contrast_scale x error at the centre (white with `use_white_center`) to that of
    mean + color_contrast_scale x error at the rim; `radial_resolution` caps the gradient's
    pixels per cell. Writes `save_path` (None: nothing written)."""
    runs = inputs.as_array(matrices, "matrices")
    if runs.ndim != 3:
        raise AttnvizError(
            f"matrices has shape {tuple(runs.shape)}; pass (runs, q, k): one matrix per run"
        )
    _, q, k = runs.shape
    rows = _labels(y_labels, q, "y_labels", "rows", "Y")
    cols = _labels(x_labels, k, "x_labels", "columns", "X")
    style = inputs.style_for(max(q, k), gamma=gamma, cmap=cmap, xlabel=xlabel, ylabel=ylabel)
    panel = _panel(runs[0], rows, cols)
    fig, ax = _figure(panel, style, title, ax)
    stability_circles(
        runs,
        rows,
        cols,
        ax,
        use_std_error=use_std_error,
        contrast=color_contrast_scale,
        white_centre=use_white_center,
        circle_scale=circle_scale,
        max_circle_ratio=max_circle_ratio,
        pixels_per_cell=radial_resolution,
        **heatmap_options(panel, style),
    )
    if linewidths:
        cell_grid(ax, (q, k), linecolor, linewidths)
    return _finish(fig, ax, style, save_path, title)


def visualize_attention_evolution_sparklines(
    attentions_over_time,
    tokens=None,
    layer=None,
    head=None,
    title="Attention Evolution Over Training",
    xlabel="Tokens Attended to",
    ylabel="Tokens Attending",
    figsize=(12, 10),
    sparkline_color_dark="darkblue",
    sparkline_color_light="white",
    sparkline_linewidth=1.0,
    sparkline_alpha=0.8,
    gamma=1.5,
    normalize_sparklines=False,
    save_path="attention_evolution_sparklines.pdf",
):
    """How attention changes over checkpoints: `attentions_over_time` is (checkpoints, layers,
    heads, n, n) (or (checkpoints, n, n)); `layer` and `head` pick one map (None: the mean over
    layers or heads). Cells are coloured by the mean over checkpoints; each holds a sparkline
    of its value at every checkpoint, on one scale (each cell its own min..max with
    `normalize_sparklines`), dark on light cells and light on dark ones. `figsize` sets the
    panel's size (labels and colour bar add a margin). Writes `save_path` (None: nothing)."""
    series = inputs.as_array(attentions_over_time, "attentions_over_time")
    if series.ndim == 5:
        checkpoints, layers, heads = series.shape[:3]
        if layer is None:
            series = series.mean(axis=1, keepdims=True)
        else:
            i = inputs.check_index("layer", layer, layers, "layers")
            series = series[:, i : i + 1]
        if head is None:
            series = series.mean(axis=2, keepdims=True)
        else:
            j = inputs.check_index("head", head, heads, "heads")
            series = series[:, :, j : j + 1]
        series = series[:, 0, 0]  # (checkpoints, n, n)
    if series.ndim != 3:
        raise AttnvizError(
            f"attentions_over_time has shape {tuple(series.shape)}; pass (checkpoints, layers, "
            "heads, n, n) or (checkpoints, n, n)"
        )
    _, q, k = series.shape
    rows = _labels(tokens, q, "tokens", "rows", "")
    cols = _labels(tokens, k, "tokens", "columns", "")
    panel_inches = max(2.0, min(figsize) - 2.0)
    style = inputs.style_for(
        max(q, k), gamma=gamma, xlabel=xlabel, ylabel=ylabel, panel_inches=panel_inches
    )
    panel = _panel(series[0], rows, cols)
    fig, ax = _figure(panel, style, title)
    evolution_sparklines(
        series,
        rows,
        cols,
        ax,
        normalize=normalize_sparklines,
        line_width=sparkline_linewidth,
        colors=(sparkline_color_dark, sparkline_color_light),
        alpha=sparkline_alpha,
        **heatmap_options(panel, style),
    )
    return _finish(fig, ax, style, save_path, title)


def find_attention_regions_with_merging(
    attention_matrix,
    n_seeds=3,
    min_distance=2,
    expansion_threshold=0.7,
    merge_std_threshold=0.6,
    proximity_threshold=2,
    max_expansion_steps=3,
):
    """High-attention rectangles (top, left, bottom, right), inclusive, highest mean first;
    see `attnviz.analysis.find_regions` (O(N^2 log N): 512 tokens in well under a second)."""
    return find_regions(
        inputs.matrix_2d(attention_matrix),
        n_seeds,
        min_distance,
        expansion_threshold,
        merge_std_threshold,
        proximity_threshold,
        max_expansion_steps,
    )


def visualize_attention_with_detected_regions(
    attention_matrix,
    source_tokens,
    target_tokens,
    title="Attention with Detected Regions",
    xlabel="Tokens Attended to",
    ylabel="Tokens Attending",
    n_regions=3,
    min_distance=2,
    expansion_threshold=0.9,
    merge_threshold=0.6,
    region_color="orange",
    region_linewidth=2,
    region_alpha=0.7,
    label_regions=False,
    gamma=1.5,
    save_path="attention_with_detected_regions.pdf",
    ax=None,
    cmap="Blues",
    max_expansion_steps=3,
    proximity_threshold=2,
):
    """The matrix (rows: `target_tokens` attending; columns: `source_tokens` attended to) with
    boxes around the regions `find_attention_regions_with_merging` detects (labelled R1, R2, ...
    with `label_regions`). Writes `save_path` (None: nothing written)."""
    matrix = inputs.matrix_2d(attention_matrix)  # (q, k)
    q, k = matrix.shape
    rows = inputs.check_tokens("target_tokens", target_tokens, q, "rows")
    cols = inputs.check_tokens("source_tokens", source_tokens, k, "columns")
    boxes = find_attention_regions_with_merging(
        matrix,
        n_regions,
        min_distance,
        expansion_threshold,
        merge_threshold,
        proximity_threshold,
        max_expansion_steps,
    )
    style = inputs.style_for(
        max(q, k),
        gamma=gamma,
        cmap=cmap,
        xlabel=xlabel,
        ylabel=ylabel,
        regions=[list(b) for b in boxes],
        region_color=region_color,
        region_linewidth=float(region_linewidth),
        region_alpha=float(region_alpha),
        label_regions=label_regions,
    )
    panel = _panel(matrix, rows, cols)
    fig, ax = _figure(panel, style, title, ax)
    draw_panel(ax, panel, style, "regions", None, None, marks_of(panel, style, "regions"))
    return _finish(fig, ax, style, save_path, title)


__all__ = [
    "check_stability_heatmap_with_gradient_color",
    "compare_two_attentions_with_circles",
    "find_attention_regions_with_merging",
    "visualize_attention_evolution_sparklines",
    "visualize_attention_with_detected_regions",
]
