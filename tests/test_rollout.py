"""Attention rollout: a worked example, its invariants, its views and their figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.plot.layouts import layout_figures
from attnviz.record import SCHEMA_VERSION
from attnviz.rollout import attention_rollout, record_rollout
from attnviz.views import view_data

CAUSAL_UNIFORM = [[1, 0, 0], [1 / 2, 1 / 2, 0], [1 / 3, 1 / 3, 1 / 3]]


def test_two_layers_three_tokens_by_hand():
    first_token = [[1, 0, 0], [1, 0, 0], [1, 0, 0]]
    itself = np.eye(3).tolist()
    attention = torch.tensor([[first_token, itself], [CAUSAL_UNIFORM, CAUSAL_UNIFORM]])
    # layer 1: head mean [[1,0,0], [.5,.5,0], [.5,0,.5]],
    #   0.5 * mean + 0.5 I = [[1,0,0], [.25,.75,0], [.25,0,.75]] (rows already sum to 1)
    # layer 2: 0.5 * uniform + 0.5 I = [[1,0,0], [.25,.75,0], [1/6,1/6,2/3]], times layer 1:
    #   row 1: .25 * [1,0,0] + .75 * [.25,.75,0] = [.4375, .5625, 0]
    #   row 2: [1,0,0] / 6 + [.25,.75,0] / 6 + 2/3 * [.25,0,.75] = [.375, .125, .5]
    expected = [
        [[1, 0, 0], [0.25, 0.75, 0], [0.25, 0, 0.75]],
        [[1, 0, 0], [0.4375, 0.5625, 0], [0.375, 0.125, 0.5]],
    ]
    rollout = attention_rollout(attention)
    assert rollout.dtype == torch.float32 and rollout.shape == (2, 3, 3)
    np.testing.assert_allclose(rollout.numpy(), expected, atol=1e-6)


def test_rows_are_renormalised_after_the_residual():
    attention = torch.tensor([[[[0.5, 0.0], [0.2, 0.2]]]])  # rows that lost their specials
    # 0.5 A + 0.5 I = [[0.75, 0], [0.1, 0.6]], rows scaled to 1
    np.testing.assert_allclose(attention_rollout(attention)[0], [[1, 0], [1 / 7, 6 / 7]], atol=1e-6)


def causal_attention(layers, heads, n):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(layers, heads, n, n, generator=g) * 3
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -torch.inf)
    return torch.softmax(scores, -1).half()  # (layers, heads, n, n), stored as records store it


def test_rows_sum_to_one_and_causal_stays_causal():
    rollout = attention_rollout(causal_attention(6, 3, 16)).numpy()  # (layers, n, n)
    np.testing.assert_allclose(rollout.sum(-1), 1, atol=1e-5)
    assert (rollout[:, ~np.tril(np.ones((16, 16), bool))] == 0).all()  # exactly zero
    assert (rollout >= 0).all()


def record(architecture="decoder", layers=4, heads=3, n=7) -> dict:
    """A record of random attention; an encoder-decoder one has n source and n target tokens."""
    causal = causal_attention(layers, heads, n)
    full = torch.softmax(torch.randn(layers, heads, n, n), -1).half()
    sections = {
        "encoder": {"self": full},
        "decoder": {"self": causal},
        "encoder_decoder": {"encoder": full, "decoder": causal, "cross": full},
    }[architecture]
    tokens = [f"t{i}" for i in range(n)]
    return {
        "tokens": tokens,
        "target_tokens": tokens,
        "special_tokens_mask": torch.tensor([i == 0 for i in range(n)]),
        "attention": sections,
        "layers": {section: list(range(layers)) for section in sections},
        "segments": {},
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": "toy",
            "prompt_id": "p",
            "architecture": architecture,
        },
    }


def images(fig):
    return [ax for ax in fig.axes if ax.images and ax.get_label() != "<colorbar>"]


@pytest.mark.parametrize(
    "architecture, view, section",
    [
        ("encoder", "rollout", "self"),
        ("decoder", "full_sequence_rollout", "self"),
        ("encoder_decoder", "encoder_rollout", "encoder"),
    ],
)
def test_rollout_views_draw_with_the_existing_layouts(architecture, view, section):
    rec = record(architecture, layers=4, heads=3, n=7)
    data = view_data(rec, view)
    assert data.attention.shape == (4, 1, 7, 7) and data.attention.dtype == np.float32
    assert data.heads == ["rollout"] and data.layers == [0, 1, 2, 3]
    assert data.causal == (architecture == "decoder")
    expected = attention_rollout(rec["attention"][section]).numpy()
    np.testing.assert_allclose(data.attention[:, 0], expected)
    style = PlotConfig(num_figs_per_row=4)
    [average] = layout_figures("layer_average", data, style, "toy")
    assert len(images(average)) == 4
    np.testing.assert_allclose(images(average)[-1].images[0].get_array().filled(0), expected[-1])
    pages = layout_figures("heads", data, style, "toy")
    assert len(pages) == 4 and all(len(images(page)) == 1 for page in pages)
    assert images(pages[2])[0].get_title() == "layer 2, head rollout"
    [single] = layout_figures("single", data, style, "toy")
    np.testing.assert_allclose(images(single)[0].images[0].get_array().filled(0), expected[-1])
    assert plt.get_fignums() == []  # Figure objects only: nothing left open


def test_a_record_without_every_layer_is_an_error():
    rec = record(layers=2)
    rec["layers"]["self"] = [0, 2]
    with pytest.raises(AttnvizError, match=r"holds self layers \[0, 2\] only; extract it again"):
        view_data(rec, "full_sequence_rollout")
    rec["layers"]["self"] = [0, 1]  # layers 0 and 1 of a deeper model: only the settings tell
    rec["meta"]["settings"] = {"layers": [0, 1], "head_mean": False}
    with pytest.raises(AttnvizError, match=r"extract.layers=null \(every layer\)"):
        view_data(rec, "full_sequence_rollout")


def test_a_subset_of_heads_is_rolled_out_with_their_mean():
    rec = record(heads=3)
    rec["heads"] = {"self": [1, 4, 7]}
    two = record_rollout(rec, "self")
    one = attention_rollout(rec["attention"]["self"].float().mean(1, keepdim=True))
    np.testing.assert_allclose(two.numpy(), one.numpy(), atol=1e-6)


def test_cross_attention_cannot_be_rolled_out():
    with pytest.raises(AttnvizError, match="rollout needs square self-attention, got 5 x 7"):
        attention_rollout(torch.ones(2, 1, 5, 7) / 7)
