"""The seeds' functions on attnviz's engine (one code path per figure, as in the pipeline)."""

from __future__ import annotations

from pathlib import Path

from attnviz.catalogue import INPUT_VIEWS, VIEWS, check_models, compared_view
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
from attnviz.views import view_data


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
    architecture=None,
):
    """Attention-Viewer's `view_attention`, same arguments and files:
    `{save_fig_path}/{model_id}/all_layers_avg.jpg` (one panel per layer, head mean),
    `layer_{i}.jpg` per layer with `plot_figs_per_head`, and with `save_attention_scores`
    `{save_attention_scores_path}/{model_id}_attn_scores.pt` (it holds Attention-Viewer's keys
    `attention_scores` and `tokens_list`, and loads with `weights_only=True`).
    `load_attention_scores_path` reads such a file (ours or Attention-Viewer's) instead of running
    a model. `fig_format` may be "pdf" or "png" too. `architecture` ('encoder', 'decoder' or
    'encoder_decoder') is detected from the model if left out. Returns the record."""
    model_id = check_name("model_id", model_id or "model")  # it names files and a folder
    if load_attention_scores_path is not None:
        record = load_record(load_attention_scores_path)
    else:
        if model is None or tokenizer is None or not (prompt or "").strip():
            raise AttnvizError(
                "view_attention needs model, tokenizer and a non-empty prompt, or "
                "load_attention_scores_path to plot saved scores"
            )
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
        data = view_data(record, INPUT_VIEWS[record["meta"]["architecture"]], ignore_first_token)
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
    an unknown key is an error. `architecture` is detected from the model if left out (its
    config, its class, else whether its attention is causal). The attention equals the model's
    own (eager) attention weights, as at inference: any model object works (loaded with sdpa,
    made in code and still in training mode), and is left as it was."""
    from attnviz.extract import extract_record
    from attnviz.models import model_architecture

    settings = check_extract(checked(ExtractConfig, options, "extract"), "extract")
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
    training = model.training
    model.eval()  # no dropout: the weights the model computes at inference
    try:
        if architecture is None:
            probe = tokenizer(*[s for s in (text, question) if s], return_tensors="pt")
            architecture = model_architecture(model, probe["input_ids"][:, :8])
        meta = {"model": model_id, "source": source}
        return extract_record(model, tokenizer, prompt, architecture, settings, meta)
    finally:
        model.train(training)


def draw(record, view=None, layout="single", variant="plain", save_path=None, **options):
    """The figures of `layout` ('single', 'layer_average' or 'heads') of `view` of a record
    (a dict from `extract_attention`, or the path of a saved record or Attention-Viewer score
    file), with the highlight `variant` ('plain', 'top_cells' or 'regions'), exactly as the
    pipeline draws them. `options` are the keys of the pipeline's `plot` config (PlotConfig:
    layer, head, cmap, gamma, scale, top_n, regions, heads, ...), with the pipeline's defaults
    (the heads layout: the `top_k` heads `heads` picks by the record's own statistics); an
    unknown key is an error.
    `view` defaults to the whole self-attention. Writes `save_path` (.pdf, or .png/.svg/.jpg
    for one page) if given; returns the figures, which pyplot does not hold open."""
    from attnviz.plot.render import figure_title, record_figures

    style = check_plot(checked(PlotConfig, options, "plot"), "plot")
    if not isinstance(record, dict):
        record = load_record(record)
    view = view or INPUT_VIEWS[record["meta"]["architecture"]]
    if view not in VIEWS:
        raise AttnvizError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    figures = record_figures(record, view, layout, style, variant)
    if save_path is not None:
        save_figures(figures, save_path, figure_title(record, view), style.dpi)
    return figures


def _loaded(records) -> list[dict]:
    records = [records] if isinstance(records, dict | str | Path) else list(records)
    return [r if isinstance(r, dict) else load_record(r) for r in records]


def head_table(records, save_path=None, prompt_set=None) -> list[dict]:
    """The head statistics of records (dicts or paths; one or many): one row per (record,
    section, layer, head) with entropy, sink_first, sink_special, previous_token, diagonal,
    distance and generated_to_source, as the pipeline's head_stats.csv. Writes `save_path`
    (.csv) if given."""
    from attnviz.head_stats import stats_rows, write_stats_csv

    rows = stats_rows(_loaded(records), prompt_set)
    if save_path is not None:
        write_stats_csv(rows, save_path)
    return rows


def compare_models(
    records,
    kind="difference",
    view=None,
    layer=-1,
    head=None,
    word_level=False,
    save_path=None,
    **options,
):
    """One figure comparing one prompt's records of several models, as the pipeline's
    comparisons: `kind` 'difference' (2 records: B - A on a map centred at 0), 'circles'
    (2), 'stability' (runs: mean and standard error) or 'evolution' (checkpoints in training
    order). `view` defaults to each record's whole self-attention; `layer` is a stored layer,
    `head` a head or None for the mean; `word_level` compares words (needed when the
    tokenizers differ). `options` are `plot` keys. Writes `save_path` if given; returns the
    figure."""
    from attnviz.compare import align
    from attnviz.plot.comparison import aligned_figure

    style = check_plot(checked(PlotConfig, options, "plot"), "plot")
    records = _loaded(records)
    check_models(kind, len(records))
    views = view or [
        compared_view(r["meta"]["architecture"], "source_end" in r.get("segments", {}))
        for r in records
    ]
    aligned = align(records, views, layer, head, word_level)
    title = f"{aligned.prompt_id}: {' vs '.join(aligned.models)} ({kind})"
    fig = aligned_figure(kind, aligned, title, style)
    if save_path is not None:
        save_figures([fig], save_path, title, style.dpi)
    return fig


__all__ = ["compare_models", "draw", "extract_attention", "head_table", "view_attention"]
