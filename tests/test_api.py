"""The seeds' functions work as their users know them, on the same engine."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import attnviz
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
