"""The seeds' functions on attnviz's engine (one code path per figure, as in the pipeline)."""

from __future__ import annotations

from pathlib import Path

from attnviz.config import ExtractConfig, PlotConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.plot.layouts import head_figures, layer_average_figures, save_figures
from attnviz.record import load_record, save_record
from attnviz.views import view_data

MAIN_VIEW = {
    "encoder": "self_attention",
    "decoder": "full_sequence",
    "encoder_decoder": "encoder_self_attention",
}


def view_attention(
    model=None,
    model_id=None,
    tokenizer=None,
    prompt=None,
    save_attention_scores=False,
    save_attention_scores_path=None,
    load_attention_scores_path=None,
    save_fig_path=None,
    plot_figs_per_head=False,
    ignore_first_token=False,
    num_figs_per_row=4,
    fig_format="jpg",
):
    """Attention-Viewer's `view_attention`, same arguments and files:
    `{save_fig_path}/{model_id}/all_layers_avg.jpg` (one panel per layer, head mean),
    `layer_{i}.jpg` per layer with `plot_figs_per_head`, and with `save_attention_scores`
    `{save_attention_scores_path}/{model_id}_attn_scores.pt` (it holds Attention-Viewer's keys
    `attention_scores` and `tokens_list`, and loads with `weights_only=True`).
    `load_attention_scores_path` reads such a file (ours or Attention-Viewer's) instead of running
    a model. `fig_format` may be "pdf" or "png" too. Returns the record."""
    from attnviz.extract import extract_record
    from attnviz.models import detect_architecture

    model_id = model_id or "model"
    if load_attention_scores_path is not None:
        record = load_record(load_attention_scores_path)
    else:
        if model is None or tokenizer is None or not (prompt or "").strip():
            raise AttnvizError(
                "view_attention needs model, tokenizer and a non-empty prompt, or "
                "load_attention_scores_path to plot saved scores"
            )
        architecture = detect_architecture(model.config) or "decoder"
        record = extract_record(
            model,
            tokenizer,
            PromptConfig(id=model_id, text=prompt),
            architecture,
            ExtractConfig(),
            {"model": model_id, "source": str(model.config.name_or_path)},
        )
    if save_attention_scores:
        if save_attention_scores_path is None:
            raise AttnvizError("save_attention_scores=True needs save_attention_scores_path")
        save_record(record, Path(save_attention_scores_path) / f"{model_id}_attn_scores.pt")
    if save_fig_path is not None:
        folder = Path(save_fig_path) / model_id
        style = PlotConfig(num_figs_per_row=num_figs_per_row, ignore_first_token=ignore_first_token)
        data = view_data(record, MAIN_VIEW[record["meta"]["architecture"]], ignore_first_token)
        title = model_id
        figures = layer_average_figures(data, style, title, "plain")
        save_figures(figures, folder / f"all_layers_avg.{fig_format}", title)
        if plot_figs_per_head:
            for layer, figure in zip(
                data.layers, head_figures(data, style, title, "plain"), strict=True
            ):
                save_figures([figure], folder / f"layer_{layer}.{fig_format}", title)
    return record


__all__ = ["view_attention"]
