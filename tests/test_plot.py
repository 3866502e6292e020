"""Figures: the heatmap primitive, the layouts, and deterministic PDFs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pypdf import PdfReader

from attnviz.config import PlotConfig
from attnviz.plot import heatmap, layer_average_figure, render_figure
from attnviz.plot.heatmap import label_positions
from attnviz.plot.layouts import head_figures
from attnviz.record import SCHEMA_VERSION, save_record
from attnviz.views import ViewData, view_data


def causal_attention(layers, heads, n, seed=0):
    """Random causal attention: rows sum to 1, upper triangle zero."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(layers, heads, n, n, generator=g)
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(scores, -1)


def decoder_record(layers=3, heads=2, n=6):
    attention = causal_attention(layers, heads, n).half()
    tokens = [f"t{i}" for i in range(n)]
    return {
        "tokens": tokens,
        "attention": {"self": attention},
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": "toy",
            "prompt_id": "p",
            "architecture": "decoder",
        },
    }


def visible_images(fig):
    return [ax.images[0] for ax in fig.axes if ax.images and ax.get_visible() and ax.axison]


def test_heatmap_is_one_image_with_masked_causal_cells():
    matrix = causal_attention(1, 1, 5)[0, 0].numpy()
    image = heatmap(matrix, list("abcde"), list("abcde"), causal=True)
    data = image.get_array()
    assert data.shape == (5, 5)
    assert data.mask[0, 1] and not data.mask[1, 0] and not data.mask[4, 4]
    ax = image.axes
    assert len(ax.texts) == 0  # no per-cell artists
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")


def test_tick_labels_thin_out_on_long_inputs():
    assert len(label_positions(32, 40)) == 32
    positions = label_positions(512, 40)
    assert len(positions) <= 40 and positions[0] == 0
    image = heatmap(np.eye(512), [f"w{i}" for i in range(512)], None, max_labels=40)
    assert len(image.axes.get_yticklabels()) <= 40


@pytest.mark.parametrize("layers, per_row", [(6, 4), (2, 4), (30, 4)])
def test_layer_average_has_one_panel_per_layer(layers, per_row):
    record = decoder_record(layers=layers)
    data = view_data(record, "full_sequence")
    fig = layer_average_figure(data, PlotConfig(num_figs_per_row=per_row), "toy")
    images = visible_images(fig)
    assert len(images) == layers
    expected = record["attention"]["self"].float().mean(1)[layers - 1].numpy()
    np.testing.assert_allclose(images[-1].get_array().filled(0), expected, atol=1e-6)


def test_head_pages_have_one_panel_per_head():
    data = view_data(decoder_record(layers=3, heads=5), "full_sequence")
    pages = list(head_figures(data, PlotConfig(num_figs_per_row=4), "toy"))
    assert len(pages) == 3
    assert all(len(visible_images(page)) == 5 for page in pages)
    np.testing.assert_allclose(
        visible_images(pages[2])[4].get_array().filled(0), data.attention[2, 4], atol=1e-6
    )


def test_ignore_first_token_drops_row_and_column():
    data = view_data(decoder_record(n=6), "full_sequence", ignore_first_token=True)
    assert data.attention.shape[-2:] == (5, 5)
    assert data.row_tokens[0] == "t1"


def test_view_of_the_wrong_architecture_is_an_error():
    from attnviz.errors import AttnvizError

    with pytest.raises(AttnvizError, match="for encoder_decoder models"):
        view_data(decoder_record(), "cross_attention")


@pytest.mark.parametrize("layout, pages", [("layer_average", 1), ("heads", 3)])
def test_render_writes_a_reproducible_pdf(tmp_path, layout, pages):
    save_record(decoder_record(layers=3), tmp_path / "r.pt")
    for name in ("a.pdf", "b.pdf"):
        render_figure(tmp_path / "r.pt", "full_sequence", layout, PlotConfig(), tmp_path / name)
    assert len(PdfReader(tmp_path / "a.pdf").pages) == pages
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_view_data_type():
    data = view_data(decoder_record(), "full_sequence")
    assert isinstance(data, ViewData) and data.causal and data.attention.dtype == np.float32
