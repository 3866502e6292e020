"""The functions IzzyViz's README documents (`from izzyviz.visualization import ...`), with its
signatures, defaults and file names, on the same code as `attnviz.izzyviz`."""

from __future__ import annotations

from attnviz.izzyviz import heatmaps
from attnviz.izzyviz.heatmaps import visualize_attention_decoder_only


def visualize_attention_encoder_only(
    attentions,
    tokens,
    layer,
    head,
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
):
    """Self-attention of an encoder (`mode` 'self_attention': self_attention_heatmap.pdf) or
    a question/context pair ('question_context', five panels: QC_attention_heatmaps.pdf)."""
    return heatmaps.visualize_attention_self_attention(
        attentions,
        tokens,
        layer,
        head,
        xlabel=None,
        ylabel=None,
        question_end=question_end,
        top_n=top_n,
        enlarged_size=enlarged_size,
        gamma=gamma,
        mode=mode,
        plot_titles=plot_titles,
        left_top_cells=left_top_cells,
        right_bottom_cells=right_bottom_cells,
        auto_detect_regions=auto_detect_regions,
        save_path=save_path,
    )


def visualize_attention_encoder_decoder(
    attention_matrix,
    source_tokens,
    generated_tokens,
    top_n=3,
    enlarged_size=1.8,
    gamma=1.5,
    plot_title=None,
    left_top_cells=None,
    right_bottom_cells=None,
    save_path="cross_attention_heatmap.pdf",
    use_case="cross_attention",
):
    """Cross-attention (generated tokens x source tokens), or the encoder's or decoder's
    self-attention (`use_case`), of an encoder-decoder model; writes `save_path`."""
    return heatmaps.visualize_attention_encoder_decoder(
        attention_matrix,
        source_tokens,
        generated_tokens,
        top_n=top_n,
        enlarged_size=enlarged_size,
        gamma=gamma,
        plot_title=plot_title,
        left_top_cells=left_top_cells,
        right_bottom_cells=right_bottom_cells,
        save_path=save_path,
        use_case=use_case,
    )


__all__ = [
    "visualize_attention_decoder_only",
    "visualize_attention_encoder_decoder",
    "visualize_attention_encoder_only",
]
