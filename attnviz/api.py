"""The seeds' functions on attnviz's engine (one code path per figure, as in the pipeline)."""

from __future__ import annotations

from pathlib import Path

from attnviz.config import (
    ExtractConfig,
    PlotConfig,
    PromptConfig,
    check_extract,
    check_name,
    check_plot,
    checked,
)
from attnviz.errors import AttnvizError
from attnviz.plot.layouts import head_figures, layer_average_figures, save_figures
from attnviz.record import load_record, save_record
from attnviz.views import VIEWS, view_data

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
    from attnviz.models import detect_architecture

    model_id = check_name("model_id", model_id or "model")  # it names files and a folder
    if load_attention_scores_path is not None:
        record = load_record(load_attention_scores_path)
    else:
        if model is None or tokenizer is None or not (prompt or "").strip():
            raise AttnvizError(
                "view_attention needs model, tokenizer and a non-empty prompt, or "
                "load_attention_scores_path to plot saved scores"
            )
        architecture = detect_architecture(model.config) or "decoder"
        record = extract_attention(
            model,
            tokenizer,
            prompt,
            model_id=model_id,
            prompt_id=model_id,
            architecture=architecture,
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


def extract_attention(
    model,
    tokenizer,
    text=None,
    *,
    question=None,
    context=None,
    target=None,
    max_new_tokens=None,
    model_id="model",
    prompt_id="prompt",
    architecture=None,
    **options,
) -> dict:
    """The record of one prompt, as the pipeline's extract_attention makes it: `text`, or a
    `question` + `context` pair (encoders); `target` (encoder-decoder, teacher-forced) or
    `max_new_tokens` to generate. `options` are the keys of the pipeline's `extract` config
    (conf/extract/default.yaml: storage_dtype, layers, heads, head_mean, special_tokens, ...);
    an unknown key is an error. `architecture` is detected from the model's config if left out.
    The attention equals the model's own (eager) attention weights."""
    from attnviz.extract import extract_record
    from attnviz.models import detect_architecture

    settings = check_extract(checked(ExtractConfig, options, "extract"), "extract")
    architecture = architecture or detect_architecture(model.config)
    if architecture is None:
        raise AttnvizError(
            f"cannot tell whether {type(model).__name__} is an encoder, decoder or "
            "encoder-decoder model; pass architecture='encoder' (or 'decoder', ...)"
        )
    if not any((s or "").strip() for s in (text, question)):
        raise AttnvizError("the prompt is empty; pass a text (or a question and a context)")
    prompt = PromptConfig(
        id=prompt_id,
        text=text,
        question=question,
        context=context,
        target=target,
        max_new_tokens=max_new_tokens,
    )
    source = str(getattr(model.config, "name_or_path", "") or type(model).__name__)
    return extract_record(
        model, tokenizer, prompt, architecture, settings, {"model": model_id, "source": source}
    )


def draw(record, view=None, layout="single", variant="plain", save_path=None, **options):
    """The figures of `layout` ('single', 'layer_average' or 'heads') of `view` of a record
    (a dict from `extract_attention`, or the path of a saved record or Attention-Viewer score
    file), with the highlight `variant` ('plain', 'top_cells' or 'regions'), exactly as the
    pipeline draws them. `options` are the keys of the pipeline's `plot` config
    (conf/plot/default.yaml: layer, head, cmap, gamma, scale, top_n, regions, ...); an unknown
    key is an error.
    `view` defaults to the whole self-attention. Writes `save_path` (.pdf, or .png/.svg/.jpg
    for one page) if given; returns the figures, which pyplot does not hold open."""
    from attnviz.plot.render import figure_title, record_figures

    style = check_plot(checked(PlotConfig, options, "plot"), "plot")
    if not isinstance(record, dict):
        record = load_record(record)
    view = view or MAIN_VIEW[record["meta"]["architecture"]]
    if view not in VIEWS:
        raise AttnvizError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    figures = record_figures(record, view, layout, style, variant)
    if save_path is not None:
        save_figures(figures, save_path, figure_title(record, view), style.dpi)
    return figures


__all__ = ["draw", "extract_attention", "view_attention"]
