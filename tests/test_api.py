"""The seeds' functions work as their users know them, on the same engine."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import attnviz
from attnviz.config import PlotConfig, compose_sweep
from attnviz.errors import AttnvizError


def test_view_attention_writes_attention_viewers_files(demo_model, tmp_path):
    model, tokenizer = demo_model("llama_tiny")  # 2 layers x 4 heads
    record = attnviz.view_attention(
        model=model,
        model_id="tiny-llama",
        tokenizer=tokenizer,
        prompt="Summer is warm.",
        save_attention_scores=True,
        save_attention_scores_path=tmp_path / "scores",
        save_fig_path=tmp_path / "vis",
        plot_figs_per_head=True,
    )
    folder = tmp_path / "vis" / "tiny-llama"
    assert sorted(p.name for p in folder.iterdir()) == [
        "all_layers_avg.jpg",
        "layer_0.jpg",
        "layer_1.jpg",
    ]
    assert Image.open(folder / "all_layers_avg.jpg").format == "JPEG"
    saved = torch.load(tmp_path / "scores" / "tiny-llama_attn_scores.pt", weights_only=True)
    n = len(saved["tokens_list"])
    assert [tuple(x.shape) for x in saved["attention_scores"]] == [(1, 4, n, n)] * 2
    assert torch.equal(saved["attention_scores"][1][0], record["attention"]["self"][1])


def test_view_attention_plots_saved_scores_without_a_model(tmp_path):
    layers = [torch.softmax(torch.randn(1, 2, 3, 3), -1) for _ in range(3)]
    path = tmp_path / "llama2_attn_scores.pt"
    torch.save({"attention_scores": layers, "tokens_list": ["<s>", "Hi", "!"]}, path)
    attnviz.view_attention(
        model_id="llama2",
        load_attention_scores_path=path,
        save_fig_path=tmp_path,
        fig_format="pdf",
        num_figs_per_row=2,
    )
    assert (tmp_path / "llama2" / "all_layers_avg.pdf").is_file()


def test_view_attention_without_a_prompt_is_an_error():
    with pytest.raises(AttnvizError, match="needs model, tokenizer and a non-empty prompt"):
        attnviz.view_attention(model_id="x", prompt="  ")


@pytest.fixture(scope="module")
def fox_records(demo_model):
    """One sentence in MiniLM (WordPiece) and SmolLM2 (byte-level BPE)."""
    text = "The quick brown fox jumps."
    return [
        attnviz.extract_attention(*demo_model(name), text, model_id=name, prompt_id="fox")
        for name in ("minilm", "smollm2")
    ]


def test_draw_defaults_are_the_pipelines(fox_records):
    """attnviz.draw() draws with the default sweep's plot settings (conf/plot/default.yaml): a
    heads page is the 8 most focused heads, picked by the record's own statistics."""
    assert compose_sweep(["model=[minilm]", "comparison=[]"]).config.plot == PlotConfig()
    [page] = attnviz.draw(fox_records[0], layout="heads")
    assert page.get_suptitle().endswith(": bottom 8 heads by entropy")


def test_head_pages_show_the_chosen_heads_best_first(fox_records):
    minilm = fox_records[0]
    [page] = attnviz.draw(minilm, layout="heads", heads="bottom_k_by_entropy", top_k=5)
    titles = [ax.get_title() for ax in page.axes if ax.images and ax.get_title()]
    rows = attnviz.head_table(minilm)
    best = sorted(rows, key=lambda r: r["entropy"])[:5]
    assert titles == [
        f"layer {r['layer']}, head {r['head']}: entropy {r['entropy']:.3g}" for r in best
    ]
    heading = page.get_suptitle()
    assert heading.endswith(": bottom 5 heads by entropy")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"heads": "top_k_by_entropy", "top_k": 73}, "k is 73 but there are 72 heads"),
        ({"heads": "top_k_by_focus"}, "unknown statistic 'focus'"),
    ],
)
def test_bad_head_selection_is_a_one_line_error(fox_records, tmp_path, options, message):
    out = tmp_path / "heads.pdf"
    with pytest.raises(AttnvizError, match=message) as error:
        attnviz.draw(fox_records[0], layout="heads", save_path=out, **options)
    assert "\n" not in str(error.value) and not out.exists()


def test_models_with_other_tokenizers_compare_at_word_level_only(fox_records, tmp_path):
    with pytest.raises(AttnvizError, match="tokenize prompt 'fox' differently") as error:
        attnviz.compare_models(fox_records, kind="difference", save_path=tmp_path / "d.pdf")
    assert "word_level" in str(error.value) and not (tmp_path / "d.pdf").exists()
    assert "\n" not in str(error.value)
    fig = attnviz.compare_models(
        fox_records, kind="difference", word_level=True, save_path=tmp_path / "d.pdf"
    )
    image = next(ax.images[0] for ax in fig.axes if ax.images)
    assert image.norm.vmin == -image.norm.vmax  # centred at 0
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["The", "quick", "brown", "fox", "jumps."]
    assert (tmp_path / "d.pdf").is_file()


def test_any_view_can_be_drawn_by_word(fox_records):
    smollm2 = fox_records[1]  # byte-level pieces: "The", " quick", ...
    [fig] = attnviz.draw(smollm2, word_level=True, layout="layer_average")
    assert fig.get_suptitle().endswith("(words): mean over heads")
    panel = next(ax for ax in fig.axes if ax.images)
    assert [t.get_text() for t in panel.get_yticklabels()] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jumps.",
    ]
    rows = panel.images[0].get_array().filled(0).sum(-1).tolist()  # renormalised word rows
    assert rows == pytest.approx([1.0] * 5, abs=1e-5)


def test_chosen_heads_of_a_record_of_some_layers_and_heads_name_the_models_indices(demo_model):
    model, tokenizer = demo_model("minilm")
    record = attnviz.extract_attention(
        model, tokenizer, "The quick brown fox.", layers=[0, -1], heads=[0, 3, 5]
    )
    [page] = attnviz.draw(record, layout="heads", heads="top_k_by_sink_first", top_k=4)
    titles = [ax.get_title() for ax in page.axes if ax.images and ax.get_title()]
    rows = sorted(attnviz.head_table(record), key=lambda r: -r["sink_first"])[:4]
    assert {r["layer"] for r in attnviz.head_table(record)} == {0, 5}
    assert {r["head"] for r in attnviz.head_table(record)} == {"0", "3", "5"}
    assert titles == [
        f"layer {r['layer']}, head {r['head']}: sink_first {r['sink_first']:.3g}" for r in rows
    ]
    first = next(ax for ax in page.axes if ax.images)  # the panel draws the head it names
    stored = record["attention"]["self"][[0, 5].index(rows[0]["layer"])]  # (heads, n, n)
    head = stored[["0", "3", "5"].index(rows[0]["head"])].float().numpy()
    assert np.allclose(first.images[0].get_array(), head, atol=1e-6)
