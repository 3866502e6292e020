"""Figures: the heatmap primitive, layouts, highlight variants, and reproducible files."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle
from pypdf import PdfReader

from attnviz.analysis import find_regions, top_cells
from attnviz.config import PlotConfig
from attnviz.errors import AttnvizError
from attnviz.plot import heatmap, render_figure
from attnviz.plot.heatmap import label_positions
from attnviz.plot.layouts import (
    head_figures,
    layer_average_figures,
    layout_figures,
    save_figures,
)
from attnviz.record import SCHEMA_VERSION, save_record
from attnviz.views import view_data


def causal_attention(layers, heads, n, seed=0):
    """Random causal attention: rows sum to 1, upper triangle zero."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(layers, heads, n, n, generator=g) * 3
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
    return torch.softmax(scores, -1)


def record_of(layers=3, heads=2, n=6, architecture="decoder", question_end=None):
    attention = causal_attention(layers, heads, n)
    if architecture == "encoder":
        attention = torch.softmax(torch.randn(layers, heads, n, n), -1)
    tokens = [f"t{i}" for i in range(n)]
    tokens[0] = "[CLS]"
    record = {
        "tokens": tokens,
        "special_tokens_mask": torch.tensor([i == 0 for i in range(n)]),
        "attention": {"self": attention.half()},
        "segments": {} if question_end is None else {"question_end": question_end},
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": "toy",
            "prompt_id": "p",
            "architecture": architecture,
        },
    }
    return record


def images(fig):
    return [
        ax
        for ax in fig.axes
        if ax.axison and (ax.images or ax.collections) and ax.get_label() != "<colorbar>"
    ]


def colour_bars(fig):
    return [artist for artist in fig.artists if artist.get_label() == "<colorbar>"]


def the_image(ax):
    return (ax.images or ax.collections)[0]


def test_heatmap_is_one_image_with_masked_causal_cells_and_bold_specials():
    matrix = causal_attention(1, 1, 5)[0, 0].numpy()
    special = [True, False, False, False, True]
    image = heatmap(matrix, list("abcde"), list("abcde"), causal=True, row_special=special)
    data = image.get_array()
    assert data.shape == (5, 5)
    assert data.mask[0, 1] and not data.mask[1, 0] and not data.mask[4, 4]
    ax = image.axes
    assert len(ax.texts) == 0  # no per-cell artists
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == list("abcde")
    assert [t.get_fontweight() for t in labels][:2] == ["bold", "normal"]


def test_tick_labels_thin_out_but_keep_highlighted_tokens():
    assert len(label_positions(32, 40)) == 32
    positions = label_positions(512, 40, always=[257])
    assert len(positions) <= 41 and 257 in positions and positions[0] == 0
    image = heatmap(np.eye(512), [f"w{i}" for i in range(512)], None, highlight=[(257, 3)])
    labels = {t.get_text(): t for t in image.axes.get_yticklabels()}
    assert len(labels) <= 41 and labels["w257"].get_color() == "red"


@pytest.mark.parametrize("n", [32, 512])
def test_tick_labels_never_overlap(n):
    data = view_data(record_of(layers=1, heads=1, n=n), "full_sequence")
    [fig] = layout_figures("single", data, PlotConfig(top_n=5), "toy", "top_cells")
    fig.canvas.draw()
    [ax] = images(fig)
    for labels, edge in ((ax.get_yticklabels(), "y"), (ax.get_xticklabels(), "x")):
        boxes = sorted(
            (b.y0, b.y1) if edge == "y" else (b.x0, b.x1)
            for b in (t.get_window_extent() for t in labels if t.get_text())
        )
        assert len(boxes) > 3
        assert all(a[1] <= b[0] + 0.5 for a, b in zip(boxes, boxes[1:], strict=False))


def test_long_inputs_are_pooled_keeping_peaks():
    matrix = np.full((4096, 4096), 1e-4, dtype=np.float32)
    matrix[1234, 3210] = 1.0
    image = heatmap(matrix, max_pixels=1024)
    shown = image.get_array()
    assert max(shown.shape) <= 1024 and shown.max() == 1.0  # the single peak survives
    left, right = image.axes.get_xlim()  # every token in the view
    assert image.get_extent()[0] == -0.5 and left < -0.5 and right > 4095.5


def test_non_finite_attention_is_an_error():
    with pytest.raises(AttnvizError, match="1 non-finite values"):
        heatmap(np.array([[0.5, np.nan], [0.5, 0.5]]))


@pytest.mark.parametrize("layers, per_row", [(6, 4), (2, 4), (30, 4)])
def test_layer_average_has_one_panel_per_layer(layers, per_row):
    record = record_of(layers=layers)
    data = view_data(record, "full_sequence")
    [fig] = layer_average_figures(data, PlotConfig(num_figs_per_row=per_row), "toy", "plain")
    axes = images(fig)
    assert len(axes) == layers
    expected = record["attention"]["self"].float().mean(1)[layers - 1].numpy()
    np.testing.assert_allclose(the_image(axes[-1]).get_array().filled(0), expected, atol=1e-6)


def test_head_pages_have_one_panel_per_head():
    data = view_data(record_of(layers=3, heads=5), "full_sequence")
    pages = list(head_figures(data, PlotConfig(num_figs_per_row=4), "toy", "plain"))
    assert len(pages) == 3 and all(len(images(page)) == 5 for page in pages)
    np.testing.assert_allclose(
        the_image(images(pages[2])[4]).get_array().filled(0), data.attention[2, 4], atol=1e-6
    )


@pytest.mark.parametrize("scale, bars", [("panel", 5), ("figure", 1), ("fixed", 1)])
def test_colour_scale_per_panel_figure_or_fixed(scale, bars):
    data = view_data(record_of(heads=5), "full_sequence")
    style = PlotConfig(scale=scale, vmin=0.0, vmax=0.5)
    [fig] = list(head_figures(data, style, "toy", "plain"))[:1]
    norms = {(the_image(ax).norm.vmin, the_image(ax).norm.vmax) for ax in images(fig)}
    assert len(colour_bars(fig)) == bars
    if scale == "fixed":
        assert norms == {(0.0, 0.5)}
    elif scale == "figure":
        visible = data.attention[0][:, np.tril(np.ones((6, 6), bool))]
        [(lo, hi)] = norms
        assert (lo, hi) == (pytest.approx(visible.min()), pytest.approx(visible.max()))
    else:
        assert len(norms) == 5


def test_top_cells_are_enlarged_scored_and_their_tokens_red():
    data = view_data(record_of(layers=1, heads=1), "full_sequence")
    style = PlotConfig(top_n=2, enlarged_size=2.0, layouts=["single"])
    [fig] = layout_figures("single", data, style, "toy", "top_cells")
    [ax] = images(fig)
    matrix = data.attention[0].mean(0)
    cells = top_cells(matrix, 2, ~np.tril(np.ones((6, 6), bool)))
    mesh = the_image(ax)
    assert mesh.get_array().shape == (6, 6)  # still one image artist
    assert ax.dataLim.width == 6 + len({c for _, c in cells})  # enlarged columns twice as wide
    assert sorted(t.get_text() for t in ax.texts) == sorted(f"{matrix[r, c]:.2f}" for r, c in cells)
    red = {t.get_text() for t in ax.get_yticklabels() if t.get_color() == "red"}
    assert red == {data.row_tokens[r] for r, _ in cells}


def test_top_n_larger_than_the_cells_is_an_error(tmp_path):
    save_record(record_of(layers=1, heads=1, n=3), tmp_path / "r.pt")
    style = PlotConfig(top_n=7)  # a causal 3 x 3 matrix has 6 cells
    with pytest.raises(AttnvizError, match="top_n is 7 but the matrix has 6 cells"):
        render_figure(
            tmp_path / "r.pt", "full_sequence", "single", style, tmp_path / "f.pdf", "top_cells"
        )
    assert not (tmp_path / "f.pdf").exists()


def test_boxes_where_asked_and_where_detected(tmp_path):
    data = view_data(record_of(layers=1, heads=1, n=8), "full_sequence")
    style = PlotConfig(regions=[[2, 1, 4, 3]], auto_regions=2)
    [fig] = layout_figures("single", data, style, "toy", "regions")
    [ax] = images(fig)
    boxes = [p for p in ax.patches if isinstance(p, Rectangle)]
    detected = find_regions(data.attention[0].mean(0), 2, masked=~np.tril(np.ones((8, 8), bool)))
    assert len(boxes) == 1 + len(detected)
    first = boxes[0]
    assert (first.get_x(), first.get_y(), first.get_width(), first.get_height()) == (
        0.5,
        1.5,
        3.0,
        3.0,
    )  # columns 1..3 and rows 2..4, cell edges at -0.5 + index


def test_a_region_outside_the_matrix_is_an_error(tmp_path):
    save_record(record_of(n=6), tmp_path / "r.pt")
    style = PlotConfig(regions=[[2, 2, 9, 3]])
    with pytest.raises(AttnvizError, match=r"outside the 6 x 6 matrix"):
        render_figure(
            tmp_path / "r.pt", "full_sequence", "single", style, tmp_path / "f.pdf", "regions"
        )
    assert list(tmp_path.iterdir()) == [tmp_path / "r.pt"]


def test_find_regions_finds_planted_blocks():
    x = np.random.default_rng(0).random((512, 512)) * 0.01
    x[100:110, 200:230] += 1.0
    x[300:305, 10:15] += 0.8
    assert find_regions(x, 2) == [(100, 200, 109, 229), (300, 10, 304, 14)]


def test_question_context_is_five_titled_panels():
    record = record_of(n=9, architecture="encoder", question_end=4)
    data = view_data(record, "question_context")
    [fig] = layout_figures("single", data, PlotConfig(head=1), "toy", "plain")
    axes = images(fig)
    assert [ax.get_title() for ax in axes] == [
        "whole sequence",
        "question -> question",
        "context -> context",
        "question -> context",
        "context -> question",
    ]
    shapes = [the_image(ax).get_array().shape for ax in axes]
    assert shapes == [(9, 9), (4, 4), (5, 5), (4, 5), (5, 4)]
    whole = data.attention[-1, 1]
    np.testing.assert_allclose(the_image(axes[3]).get_array(), whole[:4, 4:], atol=1e-6)
    assert [t.get_text() for t in axes[3].get_yticklabels()] == data.row_tokens[:4]


def test_question_context_needs_a_pair():
    with pytest.raises(AttnvizError, match="needs a question/context pair"):
        view_data(record_of(architecture="encoder"), "question_context")


def test_ignore_first_token_can_renormalise_rows():
    data = view_data(record_of(n=6), "full_sequence", ignore_first_token=True, renormalize=True)
    assert data.attention.shape[-2:] == (5, 5) and data.row_tokens[0] == "t1"
    np.testing.assert_allclose(data.attention.sum(-1), 1.0, atol=1e-3)


def test_view_of_the_wrong_architecture_is_an_error():
    with pytest.raises(AttnvizError, match="for encoder_decoder models"):
        view_data(record_of(), "cross_attention")


@pytest.mark.parametrize(
    "layout, suffix, pages",
    [("layer_average", "pdf", 1), ("heads", "pdf", 3), ("single", "png", 1), ("single", "svg", 1)],
)
def test_render_writes_reproducible_files(tmp_path, layout, suffix, pages):
    save_record(record_of(layers=3), tmp_path / "r.pt")
    for name in ("a", "b"):
        render_figure(
            tmp_path / "r.pt",
            "full_sequence",
            layout,
            PlotConfig(heads="all"),
            tmp_path / f"{name}.{suffix}",
            "top_cells",
        )
    a, b = (tmp_path / f"{name}.{suffix}" for name in "ab")
    assert a.read_bytes() == b.read_bytes()
    if suffix == "pdf":
        assert len(PdfReader(a).pages) == pages
        assert b"/FontFile2" in a.read_bytes()  # TrueType (Type 42) fonts embedded


def test_several_pages_do_not_go_into_a_png(tmp_path):
    save_record(record_of(layers=3), tmp_path / "r.pt")
    with pytest.raises(AttnvizError, match="3 pages cannot go into one .png"):
        style = PlotConfig(heads="all")
        render_figure(tmp_path / "r.pt", "full_sequence", "heads", style, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


@pytest.mark.parametrize(
    "lo, hi, gamma", [(0.0, 1.0, 1.0), (0.003, 0.47, 1.0), (0.02, 0.3, 0.5), (-0.4, 0.4, 1.0)]
)
def test_colour_bars_carry_the_ticks_matplotlib_would(lo, hi, gamma):
    """The light colour bar (one artist, no axes) labels the values Figure.colorbar would, at
    the same heights."""
    matrix = np.linspace(lo, hi, 36, dtype=np.float32).reshape(6, 6)
    image = heatmap(matrix, gamma=gamma, font_size=7)
    fig = image.axes.figure
    [bar] = colour_bars(fig)
    gradient = bar.get_children()[0]
    where = gradient.bbox.transformed(fig.transFigure.inverted()).bounds  # figure fractions
    reference = fig.colorbar(image, cax=fig.add_axes(where))  # matplotlib's, at the same place
    reference.ax.tick_params(labelsize=7)
    ticks = reference.ax.transAxes.inverted().transform(
        reference.ax.transData.transform([(0, v) for v in reference.get_ticks()])
    )[:, 1]  # heights in the bar, 0 to 1
    shown = (ticks >= -1e-9) & (ticks <= 1 + 1e-9)
    labels = [t.get_text() for t in reference.ax.get_yticklabels()]
    assert [t.get_text() for t in bar.texts] == [t for t, s in zip(labels, shown, strict=True) if s]
    heights = [t.get_position()[1] for t in bar.texts]
    np.testing.assert_allclose(heights, where[1] + where[3] * ticks[shown], atol=1e-6)


def test_a_pdf_holds_the_cells_and_the_bar_colours_not_resampled_copies(tmp_path):
    """A heatmap goes into a PDF as its cells, each repeated to whole pixels (its edges stay
    sharp in viewers that smooth images), and its colour bar as the colormap's colours: the
    right colours, not copies resampled at the page's resolution."""
    matrix = np.random.default_rng(0).random((6, 6)).astype(np.float32)
    image = heatmap(matrix, cmap="viridis")
    save_figures([image.axes.figure], tmp_path / "h.pdf")
    [page] = PdfReader(tmp_path / "h.pdf").pages
    embedded = {(i.image.width, i.image.height): i.image.convert("RGB") for i in page.images}
    assert set(embedded) == {(66, 66), (1, 256)}  # 6 cells x 11 pixels; 256 colours
    pixels = np.asarray(embedded[66, 66])[::-1]  # stored bottom row first, flipped onto the page
    cells = pixels[::11, ::11]  # (6, 6, 3): one pixel of each cell
    assert (pixels.reshape(6, 11, 6, 11, 3) == cells[:, None, :, None]).all()  # flat cells
    np.testing.assert_allclose(cells, image.cmap(image.norm(matrix), bytes=True)[..., :3], atol=1)
    bar = np.asarray(embedded[1, 256])[::-1, 0]  # (256, 3): stored top colour first
    np.testing.assert_allclose(bar, image.cmap(np.arange(256), bytes=True)[:, :3], atol=1)


def test_colour_bar_labels_are_drawn_where_matplotlib_would_draw_them(tmp_path):
    """The bar's labels, drawn without a layout each, land where matplotlib's own text at the
    same place (left, va="center_baseline") lands, in the file's coordinates."""
    image = heatmap(np.linspace(-0.4, 0.4, 36, dtype=np.float32).reshape(6, 6), font_size=7)
    fig = image.axes.figure
    [bar] = colour_bars(fig)
    for text in bar.texts:  # matplotlib's, at each label's place, 100 points lower down
        x, y = text.get_position()
        fig.text(
            x, y - 100 / 72 / fig.get_figheight(), text.get_text(), fontsize=7, va="center_baseline"
        )
    save_figures([fig], tmp_path / "bar.svg")
    svg = (tmp_path / "bar.svg").read_text()
    drawn = {}
    for label in [t.get_text() for t in bar.texts]:
        ys = re.findall(rf'x="[\d.]+" y="([\d.]+)"[^>]*>{label}</text>', svg)
        drawn[label] = sorted(float(y) for y in ys)
    assert all(len(ys) == 2 for ys in drawn.values())  # the bar's label and matplotlib's
    for ours, theirs in drawn.values():
        assert theirs - ours == pytest.approx(100, abs=0.01)  # points
