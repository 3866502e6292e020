"""Sweep-wide comparisons: one prompt in several models, aligned on tokens or words, and the
difference, circles, stability and evolution figures drawn from them."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from attnviz.compare import align, difference, run_spread, symmetric_limit
from attnviz.config import ExtractConfig, PlotConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import extract_record
from attnviz.plot.comparison import DIFFERENCE_CMAP, comparison_figure
from attnviz.views import view_data
from conftest import ARCHITECTURES

TEXT = "The tokenizer splits unbelievably long words."
WORDS = ["The", "tokenizer", "splits", "unbelievably", "long", "words."]
VIEWS = {
    "minilm": "self_attention",
    "t5_tiny": "encoder_self_attention",
    "smollm2": "full_sequence",
}


@pytest.fixture(scope="module")
def records(demo_model):
    made = {}
    for name in VIEWS:
        model, tokenizer = demo_model(name)
        prompt = PromptConfig(id="p", text=TEXT)
        made[name] = extract_record(
            model, tokenizer, prompt, ARCHITECTURES[name], ExtractConfig(), {"model": name}
        )
    return made


def aligned(records, names, **options):
    return align([records[n] for n in names], [VIEWS[n] for n in names], **options)


def figure(kind, result, style=None):
    return comparison_figure(
        kind, result.matrices, result.labels, result.models, "compare", style or PlotConfig()
    )


def test_models_sharing_a_tokenizer_compare_token_by_token(records):
    result = aligned(records, ["minilm", "t5_tiny"])
    assert result.level == "token" and result.models == ["minilm", "t5_tiny"]
    assert result.labels[0] == result.labels[1] == records["minilm"]["tokens"]
    assert result.matrices.shape == (2, 14, 14) and not result.causal
    assert result.layers == [5, 3] and result.heads == ["mean", "mean"]  # the last stored layers
    expected = view_data(records["t5_tiny"], "encoder_self_attention").attention[-1].mean(0)
    np.testing.assert_allclose(result.matrices[1], expected, atol=1e-6)
    picked = aligned(records, ["minilm", "t5_tiny"], layer=0, head=2)
    expected = records["minilm"]["attention"]["self"][0, 2].float().numpy()
    np.testing.assert_allclose(picked.matrices[0], expected, atol=1e-6)
    assert picked.layers == [0, 0] and picked.heads == ["2", "2"]


def test_other_tokenizers_need_word_level(records):
    with pytest.raises(AttnvizError, match="'minilm' and 'smollm2'.*prompt 'p'.*word-level"):
        aligned(records, ["minilm", "smollm2"])
    result = aligned(records, ["minilm", "smollm2"], word_level=True)
    assert result.level == "word"
    assert result.labels == (WORDS, WORDS)  # [CLS] and [SEP] left out: the text's words
    assert result.matrices.shape == (2, len(WORDS), len(WORDS))
    np.testing.assert_allclose(result.matrices.sum(-1), 1.0, atol=1e-4)
    assert not result.causal  # one of the two is bidirectional


def test_different_words_prompts_views_and_layers_are_errors(records):
    other = copy.deepcopy(records["smollm2"])
    other["meta"]["prompt"]["text"] = TEXT.replace("words", "worms")
    with pytest.raises(AttnvizError, match="into different words .*'words.' vs 'worms.'"):
        align([records["minilm"], other], [VIEWS["minilm"], VIEWS["smollm2"]], word_level=True)
    other["meta"]["prompt_id"] = "q"
    with pytest.raises(AttnvizError, match="compare records of one prompt"):
        align([records["smollm2"], other], "full_sequence")
    with pytest.raises(AttnvizError, match="show different tokens"):
        align(
            [records["t5_tiny"], records["t5_tiny"]], ["cross_attention", "encoder_self_attention"]
        )
    with pytest.raises(AttnvizError, match="layer 6 is out of range for 'minilm'"):
        aligned(records, ["minilm", "t5_tiny"], layer=6)


def test_difference_is_centred_on_zero(records):
    result = aligned(records, ["minilm", "t5_tiny"])
    values = difference(result.matrices)
    np.testing.assert_allclose(values, result.matrices[1] - result.matrices[0])
    assert symmetric_limit(values) == pytest.approx(np.abs(values).max())
    fig = figure("difference", result, PlotConfig(gamma=1.5, scale="fixed"))
    ax = fig.axes[0]
    image = ax.images[0]
    assert image.cmap.name.startswith(DIFFERENCE_CMAP)
    assert image.norm.vmin == pytest.approx(-image.norm.vmax) and image.norm.vmax > 0
    assert ax.get_title() == "t5_tiny − minilm"
    assert any(a.get_label() == "<colorbar>" for a in fig.artists)
    np.testing.assert_allclose(image.get_array(), values, atol=1e-6)


def test_circles_stability_and_evolution_figures(records):
    two = aligned(records, ["minilm", "t5_tiny"])
    fig = figure("circles", two)
    assert len(fig.axes[0].collections) == 1  # the circles: one collection
    three = aligned(records, ["minilm", "t5_tiny", "smollm2"], word_level=True)
    fig = figure("stability", three)
    mean, _ = run_spread(three.matrices)
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), mean, atol=1e-6)
    assert len(fig.axes[0].images) == 2  # the mean and the gradients of the circles
    assert fig.axes[0].get_title().startswith("mean of 3 runs")
    fig = figure("evolution", three)
    assert fig.axes[0].get_title().endswith("minilm → smollm2")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == WORDS


@pytest.mark.parametrize(
    ("kind", "count", "message"),
    [
        ("difference", 3, "exactly 2 models but 3"),
        ("circles", 1, "exactly 2 models but 1"),
        ("stability", 1, "at least 2 models but 1"),
        ("evolution", 1, "at least 2 models but 1"),
        ("average", 2, "unknown comparison 'average'"),
    ],
)
def test_wrong_model_counts_are_errors(kind, count, message):
    matrices = np.full((count, 3, 3), 1 / 3)
    with pytest.raises(AttnvizError, match=message):
        comparison_figure(
            kind, matrices, (list("abc"), list("abc")), ["m"] * count, "t", PlotConfig()
        )


def test_run_spread_is_the_mean_and_standard_error():
    runs = np.array([[[0.0, 1.0]], [[1.0, 1.0]], [[2.0, 1.0]]])  # (3 runs, 1, 2)
    mean, error = run_spread(runs)
    np.testing.assert_allclose(mean, [[1.0, 1.0]])
    np.testing.assert_allclose(error, [[1.0 / np.sqrt(3), 0.0]])
