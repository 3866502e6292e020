"""IzzyViz's API on attnviz's engine: its signatures, its figures, none of its bugs."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import attnviz
from attnviz import izzyviz
from attnviz.errors import AttnvizError
from attnviz.izzyviz.visualization import visualize_attention_encoder_only

SIGNATURES = Path(__file__).with_name("data") / "seed_signatures.txt"


def documented():
    for line in SIGNATURES.read_text().splitlines():
        if line and not line.startswith("#"):
            module, signature = (part.strip() for part in line.split("|", 1))
            [function] = ast.parse(f"def {signature}: pass").body
            args = function.args
            names = [a.arg for a in args.args]
            defaults = [ast.literal_eval(d) for d in args.defaults]
            yield (
                module,
                function.name,
                list(zip(names, [...] * (len(names) - len(defaults)) + defaults, strict=True)),
            )


@pytest.mark.parametrize(("module", "name", "parameters"), list(documented()))
def test_signatures_match_the_seeds_documentation(module, name, parameters):
    """Same names, order and defaults as the seeds document; only new keyword parameters
    (defaulted) may follow."""
    function = getattr(importlib.import_module(module), name)
    actual = [
        (p.name, ... if p.default is inspect.Parameter.empty else p.default)
        for p in inspect.signature(function).parameters.values()
    ]
    assert actual[: len(parameters)] == parameters
    assert all(default is not ... for _, default in actual[len(parameters) :])


def softmax_rows(rng, *shape, sharpness=3.0):
    x = rng.normal(size=shape) * sharpness
    e = np.exp(x - x.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_comparison_circles_show_the_second_map_and_the_difference(in_tmp):
    rng = np.random.default_rng(0)
    a, b = softmax_rows(rng, 6, 6), softmax_rows(rng, 6, 6)
    b[2, 3] = a[2, 3]  # no difference: no circle
    tokens = [f"w{i}" for i in range(6)]
    figure = izzyviz.compare_two_attentions_with_circles(torch.tensor(a), b, tokens)
    assert (in_tmp / "attention_comparison_circles.pdf").is_file()
    ax = figure.axes[0]
    [circles] = ax.collections
    offsets = circles.get_offsets()
    radius = 0.45 * np.abs(a - b) / np.abs(a - b).max()
    drawn = {(int(y), int(x)) for x, y in offsets}  # offsets are (column, row)
    assert drawn == {tuple(c) for c in np.argwhere(radius >= 0.01)} and (2, 3) not in drawn
    diameters = circles._widths * 2  # EllipseCollection keeps half-widths
    difference = np.abs(a - b)[offsets[:, 1].astype(int), offsets[:, 0].astype(int)]
    np.testing.assert_allclose(diameters, 2 * 0.45 * difference / difference.max(), rtol=1e-5)
    image = ax.images[0]
    expected = image.cmap(image.norm(b[offsets[:, 1].astype(int), offsets[:, 0].astype(int)]))
    np.testing.assert_allclose(circles.get_facecolors(), expected, atol=1e-6)
    assert image.norm.vmax == pytest.approx(max(a.max(), b.max()))  # one scale for both maps


def test_stability_circles_grow_with_the_spread_between_runs(in_tmp):
    rng = np.random.default_rng(1)
    base = softmax_rows(rng, 5, 5)
    runs = np.stack([base] * 4)
    runs[:, 1, 1] += [0.0, 0.2, -0.2, 0.1]  # the only unstable cell
    figure = izzyviz.check_stability_heatmap_with_gradient_color(runs)
    assert (in_tmp / "check_stability_heatmap_with_gradient_color.pdf").is_file()
    ax = figure.axes[0]
    mean_image, gradient = ax.images
    np.testing.assert_allclose(mean_image.get_array(), runs.mean(0), atol=1e-6)
    rgba = np.asarray(gradient.get_array())  # (5 s, 5 s, 4)
    s = rgba.shape[0] // 5
    drawn = rgba[..., 3].reshape(5, s, 5, s).max(axis=(1, 3))  # (5, 5): a circle in the cell?
    assert np.argwhere(drawn).tolist() == [[1, 1]]  # a circle only where runs differ
    middle = s + s // 2  # the centre pixel of cell (1, 1); 0.35 of a cell right is inside too
    centre, rim = rgba[middle, middle, :3], rgba[middle, middle + int(0.35 * s), :3]
    assert centre.sum() > rim.sum()  # lower bound (lighter in Blues) at the centre


def test_evolution_sparklines_follow_each_cell(in_tmp):
    rng = np.random.default_rng(2)
    series = softmax_rows(rng, 5, 2, 3, 4, 4)  # (checkpoints, layers, heads, n, n)
    tokens = ["a", "b", "c", "d"]
    figure = izzyviz.visualize_attention_evolution_sparklines(series, tokens, layer=1, head=2)
    assert (in_tmp / "attention_evolution_sparklines.pdf").is_file()
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), series[:, 1, 2].mean(0), atol=1e-6)
    [lines] = ax.collections
    vertices = np.concatenate([p.vertices for p in lines.get_paths()])
    assert len(vertices) == 16 * 5  # one 5-point line per cell
    assert np.all(np.abs(vertices[:, 0] - np.round(vertices[:, 0])) <= 0.4 + 1e-6)
    everything = izzyviz.visualize_attention_evolution_sparklines(series, save_path=None)
    np.testing.assert_allclose(
        everything.axes[0].images[0].get_array(), series.mean((0, 1, 2)), atol=1e-6
    )


def test_detected_regions_box_planted_blocks(in_tmp):
    x = np.random.default_rng(3).random((40, 40)) * 0.01
    x[5:9, 10:20] += 1.0
    x[25:30, 2:6] += 0.6
    regions = izzyviz.find_attention_regions_with_merging(x, n_seeds=2, expansion_threshold=0.5)
    assert regions == [(5, 10, 8, 19), (25, 2, 29, 5)]
    tokens = [str(i) for i in range(40)]
    figure = izzyviz.visualize_attention_with_detected_regions(
        x, tokens, tokens, n_regions=2, expansion_threshold=0.5, label_regions=True
    )
    assert (in_tmp / "attention_with_detected_regions.pdf").is_file()
    ax = figure.axes[0]
    boxes = [(p.get_y() + 0.5, p.get_x() + 0.5) for p in ax.patches]
    assert boxes == [(5, 10), (25, 2)]
    assert [t.get_text() for t in ax.texts] == ["R1", "R2"]


def test_encoder_decoder_use_cases_have_their_files_and_axes(in_tmp):
    rng = np.random.default_rng(4)
    cross = softmax_rows(rng, 3, 5)
    izzyviz.visualize_attention_encoder_decoder(cross, list("abcde"), list("xyz"))
    decoder = np.tril(softmax_rows(rng, 3, 3))
    izzyviz.visualize_attention_encoder_decoder(
        decoder, list("abcde"), list("xyz"), use_case="decoder_self_attention"
    )
    assert {p.name for p in in_tmp.iterdir()} == {
        "cross_attention_heatmap.pdf",
        "decoder_self_attention_heatmap.pdf",
    }


def test_no_figure_stays_open_and_inputs_are_not_written(tmp_path):
    rng = np.random.default_rng(5)
    attentions = tuple(torch.tensor(softmax_rows(rng, 1, 2, 6, 6)) for _ in range(3))
    before = [a.clone() for a in attentions]
    assert plt.get_fignums() == []
    for i in range(3):
        visualize_attention_encoder_only(
            attentions,
            list("abcdef"),
            1,
            1,
            auto_detect_regions=True,
            save_path=tmp_path / f"{i}.pdf",
        )
        izzyviz.compare_two_attentions_with_circles(
            attentions[0][0, 0], attentions[1][0, 0], list("abcdef"), save_path=tmp_path / "c.pdf"
        )
    assert plt.get_fignums() == []  # nothing registered with pyplot, so nothing to leak
    assert all(torch.equal(a, b) for a, b in zip(attentions, before, strict=True))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda a, t: izzyviz.compare_two_attentions_with_circles(
                a[0][0, 0], a[0][0, 0, :4, :4], t
            ),
            r"^attn2 is 4 x 4 but attn1 is 6 x 6; compare two maps of the same tokens$",
        ),
        (
            lambda a, t: visualize_attention_encoder_only(a, t, layer=3, head=0),
            r"^layer is 3 but there are 3 layers; choose -3..2$",
        ),
        (
            lambda a, t: izzyviz.visualize_attention_self_attention(a, t, layer=0, head=-3),
            r"^head is -3 but there are 2 heads; choose -2..1$",
        ),
        (
            lambda a, t: visualize_attention_encoder_only(a, t[:4], layer=0, head=0),
            r"^tokens has 4 tokens but the attention matrix has 6 rows; pass the 6 tokens",
        ),
        (
            lambda a, t: visualize_attention_encoder_only(
                a, t, 0, 0, left_top_cells=[(2, 2)], right_bottom_cells=[(7, 3)]
            ),
            r"^region \(2, 2\) to \(7, 3\) is outside the 6 x 6 matrix",
        ),
        (
            lambda a, t: izzyviz.visualize_attention_encoder_decoder(a[0][0, 0], t, t[:5]),
            r"^decoder_tokens has 5 tokens but the attention matrix has 6 rows",
        ),
        (
            lambda a, t: izzyviz.visualize_attention_evolution_sparklines(
                torch.stack([a[0]] * 3), layer=0, head=5
            ),
            r"^head is 5 but there are 2 heads",
        ),
    ],
)
def test_bad_input_is_one_line_naming_the_argument(tmp_path, monkeypatch, call, message):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(6)
    attentions = tuple(torch.tensor(softmax_rows(rng, 1, 2, 6, 6)) for _ in range(3))
    with pytest.raises(AttnvizError, match=message) as error:
        call(attentions, list("abcdef"))
    assert "\n" not in str(error.value)
    assert list(tmp_path.iterdir()) == []  # no half-written figure


def test_modern_entry_point_extracts_and_draws_like_the_pipeline(demo_model, tmp_path):
    model, tokenizer = demo_model("minilm")
    record = attnviz.extract_attention(
        model, tokenizer, "Bees make honey.", model_id="minilm", heads=[1, 2]
    )
    assert record["attention"]["self"].shape[:2] == (6, 2)
    figures = attnviz.draw(
        record, layout="single", variant="top_cells", save_path=tmp_path / "f.png", head=1, top_n=2
    )
    assert (tmp_path / "f.png").is_file() and len(figures) == 1
    [ax] = [a for a in figures[0].axes if a.images]
    assert ax.get_title() == "layer 5, head 2"  # stored head 1 is the model's head 2
    top = record["attention"]["self"][-1, 1].float().flatten().topk(2).values
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in top.tolist()]
    with pytest.raises(AttnvizError, match=r"^plot: unknown key 'gama'"):
        attnviz.draw(record, gama=2)
    with pytest.raises(AttnvizError, match=r"^extract: unknown key 'head'"):
        attnviz.extract_attention(model, tokenizer, "Bees.", head=1)
    with pytest.raises(AttnvizError, match=r"^the prompt is empty"):
        attnviz.extract_attention(model, tokenizer, "  ")
