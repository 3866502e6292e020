"""IzzyViz's newer heatmap functions, drawn by attnviz's engine: the caller's attention becomes a
record, the record a view (`attnviz.views`), the view the `single` layout (`attnviz.plot`), as
in the pipeline. Each returns the figure it drew (not known to pyplot, so nothing stays open).
"""

from __future__ import annotations

import math

import numpy as np

from attnviz.analysis import find_regions
from attnviz.catalogue import VIEWS
from attnviz.config import check_choice
from attnviz.errors import AttnvizError
from attnviz.izzyviz import inputs
from attnviz.plot.layouts import save_figures, single_figures
from attnviz.views import view_data

DEFAULT_FILES = {
    "self_attention": "self_attention_heatmap.pdf",
    "question_context": "QC_attention_heatmaps.pdf",
    "full_sequence": "decoder_self_attention_heatmap.pdf",
    "self_attention_source": "decoder_self_attention_source_tokens_heatmap.pdf",
    "generated_to_source": "decoder_generated_to_source_attention_heatmap.pdf",
    "self_attention_generated": "decoder_self_attention_generated_tokens_heatmap.pdf",
    "cross_attention": "cross_attention_heatmap.pdf",
    "encoder_self_attention": "encoder_self_attention_heatmap.pdf",
    "decoder_self_attention": "decoder_self_attention_heatmap.pdf",
}


def _record(view: str, stack: np.ndarray, tokens, target_tokens=None, segments=None) -> dict:
    """A record holding the caller's (layers, heads, q, k) attention as the section `view`
    reads, so that `view_data` slices and labels it as it does an extracted one."""
    import torch

    spec = VIEWS[view]
    record = {
        "meta": {"architecture": spec.architecture, "model": "input", "prompt_id": "input"},
        "attention": {spec.section: torch.from_numpy(stack)},
        "tokens": tokens,
        "special_tokens_mask": inputs.special_mask(tokens),
        "segments": segments or {},
    }
    if target_tokens is not None:
        record["target_tokens"] = target_tokens
        record["target_special_tokens_mask"] = inputs.special_mask(target_tokens)
    return record


def _draw(record, view, style, titles, save_path, title="") -> object:
    data = view_data(record, view)
    variant = "top_cells" if style.top_n > 0 else "regions"
    [figure] = single_figures(data, style, title, variant, titles)
    save_figures([figure], save_path or DEFAULT_FILES[view], title or view)
    return figure


def _label_options(n: int, length_threshold, if_interval, interval, show_scores) -> dict:
    """IzzyViz's long-input rules: above `length_threshold` tokens, scores are not printed and
    tokens are labelled every `interval` (with `if_interval`) besides the top cells'."""
    if n <= length_threshold:
        return {"max_labels": n, "score_threshold": n if show_scores else -1}
    if interval < 1:
        raise AttnvizError(f"interval is {interval}; give a label spacing of at least 1")
    return {"max_labels": math.ceil(n / interval) if if_interval else 1, "score_threshold": -1}


def visualize_attention_self_attention(
    attentions,
    tokens,
    layer,
    head,
    xlabel="Tokens Attended to",
    ylabel="Tokens Attending",
    question_end=None,
    top_n=3,
    enlarged_size=1.8,
    gamma=1.5,
    mode="self_attention",
    plot_titles=None,
    left_top_cells=None,
    right_bottom_cells=None,
    auto_detect_regions=False,
    save_path=None,
    length_threshold=64,
    if_interval=False,
    if_top_cells=True,
    interval=10,
    show_scores_in_enlarged_cells=True,
    lean_more=False,
):
    """One head of one layer of an encoder's self-attention, the `top_n` cells enlarged and
    scored, boxes around `left_top_cells`..`right_bottom_cells` (and detected regions with
    `auto_detect_regions`); `mode='question_context'` draws five panels (whole, question ->
    question, context -> context, question -> context, context -> question) on one colour
    scale. Writes `save_path` or self_attention_heatmap.pdf / QC_attention_heatmaps.pdf.
    Labels are always upright-readable (vertical) and the top cells' tokens always labelled,
    so `if_top_cells` and `lean_more` are accepted and change nothing."""
    check_choice("mode", mode, ("self_attention", "question_context"))
    stack = inputs.layer_stack(attentions)  # (layers, heads, n, n)
    layers, heads, q, k = stack.shape
    if q != k:
        raise AttnvizError(f"attentions are {q} x {k}; self-attention needs square matrices")
    tokens = inputs.check_tokens("tokens", tokens, q, "rows")
    layer = inputs.check_index("layer", layer, layers, "layers")
    head = inputs.check_index("head", head, heads, "heads")
    segments = {}
    if mode == "question_context":
        if question_end is None or not 0 < question_end < q:
            raise AttnvizError(
                f"question_end is {question_end}; mode 'question_context' needs the index of "
                f"the first context token, 1..{q - 1}"
            )
        if left_top_cells or right_bottom_cells or auto_detect_regions:
            raise AttnvizError(
                "left_top_cells, right_bottom_cells and auto_detect_regions apply to mode "
                "'self_attention'; leave them out for 'question_context'"
            )
        segments["question_end"] = int(question_end)
    boxes = inputs.regions(left_top_cells, right_bottom_cells)
    if auto_detect_regions:
        boxes += [list(r) for r in find_regions(stack[layer, head])]
    style = inputs.style_for(
        q,
        gamma=gamma,
        top_n=top_n,
        enlarged_size=enlarged_size,
        regions=boxes,
        layer=layer,
        head=head,
        scale="figure" if mode == "question_context" else "panel",
        xlabel=xlabel,
        ylabel=ylabel,
        **_label_options(q, length_threshold, if_interval, interval, show_scores_in_enlarged_cells),
    )
    record = _record(mode, stack, tokens, segments=segments)
    return _draw(record, mode, style, plot_titles, save_path)


def visualize_attention_encoder_decoder(
    attention_matrix,
    encoder_tokens,
    decoder_tokens,
    xlabel=None,
    ylabel=None,
    top_n=3,
    enlarged_size=1.8,
    gamma=1.5,
    plot_title=None,
    left_top_cells=None,
    right_bottom_cells=None,
    save_path=None,
    use_case="cross_attention",
    lean_more=False,
):
    """One (q, k) matrix of an encoder-decoder model: `use_case` 'cross_attention' (decoder
    tokens attending to encoder tokens), 'encoder_self_attention' or 'decoder_self_attention'
    (causal: the upper triangle is blank). Writes `save_path` or cross_attention_heatmap.pdf /
    encoder_self_attention_heatmap.pdf / decoder_self_attention_heatmap.pdf."""
    views = ("cross_attention", "encoder_self_attention", "decoder_self_attention")
    check_choice("use_case", use_case, views)
    matrix = inputs.matrix_2d(attention_matrix)  # (q, k)
    q, k = matrix.shape
    if use_case == "cross_attention":
        rows = inputs.check_tokens("decoder_tokens", decoder_tokens, q, "rows")
        cols = inputs.check_tokens("encoder_tokens", encoder_tokens, k, "columns")
        record = _record(use_case, matrix[None, None], cols, target_tokens=rows)
    else:
        name, given = (
            ("encoder_tokens", encoder_tokens)
            if use_case == "encoder_self_attention"
            else ("decoder_tokens", decoder_tokens)
        )
        if q != k:
            raise AttnvizError(f"attention_matrix is {q} x {k}; {use_case} needs a square one")
        side = inputs.check_tokens(name, given, q, "rows")
        record = _record(use_case, matrix[None, None], side, target_tokens=side)
    style = inputs.style_for(
        max(q, k),
        gamma=gamma,
        top_n=top_n,
        enlarged_size=enlarged_size,
        regions=inputs.regions(left_top_cells, right_bottom_cells),
        xlabel=xlabel,
        ylabel=ylabel,
        layer=0,
        head=0,
    )
    titles = [plot_title] if plot_title else [VIEWS[use_case].title]
    return _draw(record, use_case, style, titles, save_path)


def visualize_attention_decoder_only(
    attentions,
    source_tokens,
    generated_tokens,
    layer,
    head,
    top_n=3,
    enlarged_size=1.8,
    gamma=1.5,
    plot_titles=None,
    left_top_cells=None,
    right_bottom_cells=None,
    use_case="full_sequence",
    save_path=None,
):
    """One head of one layer of a decoder's attention over source + generated tokens:
    `use_case` 'full_sequence', 'self_attention_source', 'generated_to_source' or
    'self_attention_generated'. Causal cells are blank, not zeros drawn. Writes `save_path`
    or the use case's default PDF (decoder_self_attention_heatmap.pdf, ...)."""
    views = (
        "full_sequence",
        "self_attention_source",
        "generated_to_source",
        "self_attention_generated",
    )
    check_choice("use_case", use_case, views)
    stack = inputs.layer_stack(attentions)  # (layers, heads, n, n)
    layers, heads, n, _ = stack.shape
    source, generated = list(source_tokens), list(generated_tokens or [])
    tokens = inputs.check_tokens("source_tokens + generated_tokens", source + generated, n, "rows")
    if VIEWS[use_case].needs_generation and not generated:
        raise AttnvizError(
            f"use_case '{use_case}' needs generated_tokens; pass the tokens the model generated"
        )
    style = inputs.style_for(
        n,
        gamma=gamma,
        top_n=top_n,
        enlarged_size=enlarged_size,
        regions=inputs.regions(left_top_cells, right_bottom_cells),
        layer=inputs.check_index("layer", layer, layers, "layers"),
        head=inputs.check_index("head", head, heads, "heads"),
    )
    record = _record(use_case, stack, tokens, segments={"source_end": len(source)})
    return _draw(record, use_case, style, plot_titles, save_path)
