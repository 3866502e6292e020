"""The interactive viewer in a real headless Chromium: pages of real records from the demo
models, opened from file://, driven by mouse and clicks, checked against the records."""

from __future__ import annotations

import html
import re
import time

import numpy as np
import pytest
import torch

import attnviz
from attnviz.errors import AttnvizError
from attnviz.index import build_index
from attnviz.viewer.browser import console_errors, headless_chromium, hover, open_page
from attnviz.viewer.data import pool_factor, pool_max, presets

TIP = re.compile(r"query #(\d+) .*\nkey +#(\d+) .*\nweight (\d\.\d{3})")


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def records(demo_model):
    """One short real record per architecture; the decoder's with generated tokens."""

    def extract(name, text, **options):
        model, tokenizer = demo_model(name)
        return attnviz.extract_attention(model, tokenizer, text, model_id=name, **options)

    return {
        "encoder": extract("minilm", "The quick brown fox jumps over the lazy dog."),
        "decoder": extract("smollm2", "The capital of France is", max_new_tokens=3),
        "encoder_decoder": extract("t5_tiny", "translate: The house is small.", target="Das Haus"),
    }


def wait_for(driver, script, timeout=10.0):
    end = time.monotonic() + timeout
    while not driver.execute_script(f"return {script}"):
        assert time.monotonic() < end, f"timed out waiting for {script}"
        time.sleep(0.02)


def select(driver, section, layer, head):
    driver.execute_script(f"return attnviz.select({section}, {layer}, {head})")


def hover_cell(driver, row, col):
    """Hover the cell (row, col); return (row, col, weight) read from the tooltip."""
    point = driver.execute_script(f"return attnviz.cellCenter({row}, {col})")
    hover(driver, point["x"], point["y"])
    tip = driver.find_element("id", "tip")
    assert tip.is_displayed()
    match = TIP.search(tip.text)
    assert match, tip.text
    return int(match[1]), int(match[2]), float(match[3])


def shaded(driver, axis):
    """{token index: weight} of the token view's shaded tokens on `axis` ('q' or 'k')."""
    tokens = driver.find_elements("css selector", f"#token-panels .tok[data-axis='{axis}']")
    return {
        int(t.get_attribute("data-i")): float(t.get_attribute("data-w"))
        for t in tokens
        if "shaded" in t.get_attribute("class")
    }


def click_token(driver, axis, index):
    selector = f"#token-panels .tok[data-axis='{axis}'][data-i='{index}']"
    driver.find_element("css selector", selector).click()


def expected_shades(weights):
    return {i: round(float(w), 3) for i, w in enumerate(weights) if round(float(w), 3) > 0}


def test_encoder_page_hover_zoom_and_token_view(records, browser, tmp_path):
    record = records["encoder"]
    page = attnviz.save_viewer(record, tmp_path / "fox.html", cmap="Purples", gamma=1.5)
    assert (tmp_path / "fox_files" / "self_0_0.js").is_file()
    open_page(browser, page)
    browser.save_screenshot(str(tmp_path / "encoder-model-view.png"))
    # pick layer 3, head 5 by clicking its thumbnail in the model view
    point = browser.execute_script("return attnviz.thumbCenter(3, 5)")
    hover(browser, point["x"], point["y"])
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).click().perform()
    wait_for(browser, "attnviz.state().layer === 3 && attnviz.state().head === 5")
    attention = record["attention"]["self"].float().numpy()  # (layers, heads, q, k)
    for row, col in [(0, 0), (2, 7), (5, 1), (11, 11)]:
        r, c, weight = hover_cell(browser, row, col)
        assert (r, c) == (row, col)
        assert weight == pytest.approx(attention[3, 5, r, c], abs=5e-4)
    browser.save_screenshot(str(tmp_path / "encoder-map-tooltip.png"))
    # zoom in on rows and columns 4..8: the same cells, bigger, and still exact
    browser.execute_script("attnviz.zoomTo([4, 8], [4, 8])")
    assert browser.execute_script("return attnviz.state().zoom") == pytest.approx(150)
    assert hover_cell(browser, 6, 5)[2] == pytest.approx(attention[3, 5, 6, 5], abs=5e-4)
    # the token view: what token 4 attends to, then what attends to it
    click_token(browser, "q", 4)
    assert shaded(browser, "q") == pytest.approx(expected_shades(attention[3, 5, 4]), abs=1e-9)
    from selenium.webdriver.support.select import Select

    Select(browser.find_element("id", "direction")).select_by_value("from")
    click_token(browser, "q", 4)
    assert shaded(browser, "q") == pytest.approx(expected_shades(attention[3, 5, :, 4]))
    browser.save_screenshot(str(tmp_path / "encoder-token-view.png"))
    # the head mean (last column of the model view)
    browser.find_element("id", "zoom-reset").click()
    select(browser, 0, 2, 12)
    mean = attention[2].mean(0)
    assert hover_cell(browser, 3, 6)[2] == pytest.approx(mean[3, 6], abs=5e-4)
    assert console_errors(browser) == []


def test_decoder_page_masks_the_future_and_offers_the_generated_views(records, browser, tmp_path):
    record = records["decoder"]
    page = attnviz.save_viewer(record, tmp_path / "gen.html", ignore_first_token=True)
    open_page(browser, page)
    browser.save_screenshot(str(tmp_path / "decoder-model-view.png"))
    presets = browser.execute_script(
        "return [...document.querySelectorAll('#preset option')].map(o => o.textContent)"
    )
    assert presets == [
        "whole map",
        "Source self-attention",
        "Generated to source",
        "Generated self-attention",
    ]
    select(browser, 0, 29, 8)
    attention = record["attention"]["self"].float().numpy()
    n = attention.shape[-1]
    r, c, weight = hover_cell(browser, n - 1, 2)
    assert weight == pytest.approx(attention[29, 8, r, c], abs=5e-4)
    point = browser.execute_script("return attnviz.cellCenter(2, 5)")
    hover(browser, point["x"], point["y"])
    assert "masked (causal)" in browser.find_element("id", "tip").text
    browser.save_screenshot(str(tmp_path / "decoder-map-tooltip.png"))
    # the first token is ignored: no row or column 0 to hover, and it is never shaded
    point = browser.execute_script("return attnviz.cellCenter(0, 0)")
    hover(browser, point["x"], point["y"])
    assert not browser.find_element("id", "tip").is_displayed()
    click_token(browser, "q", n - 1)
    expected = expected_shades(attention[29, 8, n - 1])
    expected.pop(0, None)
    assert shaded(browser, "q") == pytest.approx(expected)
    browser.save_screenshot(str(tmp_path / "decoder-token-view.png"))
    assert console_errors(browser) == []


def test_encoder_decoder_page_shows_every_section(records, browser, tmp_path):
    record = records["encoder_decoder"]
    page = attnviz.save_viewer(record, tmp_path / "t5.html")
    open_page(browser, page)
    titles = browser.execute_script(
        "return [...document.querySelectorAll('#section option')].map(o => o.textContent)"
    )
    assert titles == ["Encoder self-attention", "Decoder self-attention", "Cross-attention"]
    browser.save_screenshot(str(tmp_path / "encdec-model-view.png"))
    select(browser, 2, 3, 1)  # cross-attention: decoder tokens (rows) x encoder tokens
    cross = record["attention"]["cross"].float().numpy()
    r, c, weight = hover_cell(browser, 1, 4)
    assert (r, c) == (1, 4) and weight == pytest.approx(cross[3, 1, 1, 4], abs=5e-4)
    tip = browser.find_element("id", "tip").text
    assert f"query #1 '{record['target_tokens'][1]}'" in tip
    browser.save_screenshot(str(tmp_path / "encdec-map-tooltip.png"))
    click_token(browser, "q", 2)  # a decoder token: the encoder tokens it attends to
    assert shaded(browser, "k") == pytest.approx(expected_shades(cross[3, 1, 2]))
    click_token(browser, "k", 3)  # an encoder token: the decoder tokens attending to it
    assert shaded(browser, "q") == pytest.approx(expected_shades(cross[3, 1, :, 3]))
    browser.save_screenshot(str(tmp_path / "encdec-token-view.png"))
    assert console_errors(browser) == []


def test_long_input_is_pooled_with_spans_and_exact_cells_on_zoom(demo_model, browser, tmp_path):
    model, tokenizer = demo_model("minilm")
    text = " ".join(f"word{i} is here" for i in range(60))
    record = attnviz.extract_attention(model, tokenizer, text, model_id="minilm", layers=[0])
    attention = record["attention"]["self"].float().numpy()[0, 2]  # (q, k) of head 2
    n = attention.shape[-1]
    page = attnviz.save_viewer(record, tmp_path / "long.html", max_cells=32)
    open_page(browser, page)
    select(browser, 0, 0, 2)
    factor = pool_factor(n, 32)
    assert factor > 1
    point = browser.execute_script(f"return attnviz.cellCenter({n // 2}, {n // 3})")
    hover(browser, point["x"], point["y"])
    tip = browser.find_element("id", "tip").text
    spans = re.search(r"queries #(\d+)-#(\d+) .*\nkeys +#(\d+)-#(\d+) .*\nmax weight (\S+)", tip)
    assert spans, tip
    a, b, c, d = (int(x) for x in spans.groups()[:4])
    assert b - a + 1 == factor and a <= n // 2 <= b and c <= n // 3 <= d
    assert float(spans[5]) == pytest.approx(attention[a : b + 1, c : d + 1].max(), abs=5e-4)
    browser.save_screenshot(str(tmp_path / "long-pooled.png"))
    browser.execute_script("attnviz.zoomTo([40, 60], [40, 60])")  # exact cells are loaded
    wait_for(browser, "attnviz.state().exact")
    r, c, weight = hover_cell(browser, 50, 45)
    assert (r, c) == (50, 45) and weight == pytest.approx(attention[50, 45], abs=5e-4)
    # above exact_tokens only each head's top cells stay exact
    top = attnviz.save_viewer(record, tmp_path / "top.html", max_cells=32, exact_tokens=0)
    open_page(browser, top)
    select(browser, 0, 0, 2)
    flat = np.argsort(attention.ravel())[-1]
    peak = divmod(int(flat), n)
    browser.execute_script(
        f"attnviz.zoomTo([{peak[0] - 5}, {peak[0] + 5}], [{peak[1]}, {peak[1] + 10}])"
    )
    assert hover_cell(browser, *peak)[2] == pytest.approx(attention[peak], abs=5e-4)
    assert console_errors(browser) == []


def test_reduced_record_shows_pooled_maps_with_spans_and_top_cells(demo_model, browser, tmp_path):
    model, tokenizer = demo_model("smollm2")
    text = (
        "The first token of a long prompt holds much of the attention. Later tokens look back "
        "at their neighbours, and a few heads follow the previous token exactly."
    )
    settings = dict(full_max_tokens=16, map_size=12, top_cells=8, storage_dtype="float32")
    record = attnviz.extract_attention(
        model, tokenizer, text, model_id="smollm2", max_new_tokens=2, layers=[0, 1], **settings
    )
    assert record["attention"] == {}  # reduced: no (q, k) matrix anywhere
    part = record["reduced"]["self"]
    rows, cols = part["row_edges"].tolist(), part["col_edges"].tolist()
    page = attnviz.save_viewer(record, tmp_path / "reduced.html")
    open_page(browser, page)
    select(browser, 0, 1, 2)
    assert "extract.full_max_tokens=16" in browser.find_element("id", "map-note").text
    inked = """const c = document.getElementById('thumbs'), d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) n += d[i] + d[i + 1] + d[i + 2] < 600; return n;"""
    assert browser.execute_script(inked) > 100  # the model view's thumbnails are drawn
    pooled_map = part["maps"][1][2].float().numpy()  # (mq, mk) of layer 1, head 2
    top, k = set(part["top_index"][1, 2].tolist()), part["shape"][1]
    i, j = 5, 3  # a pooled cell away from the first token, below the diagonal
    assert cols[j + 1] <= rows[i] and rows[i] * k + cols[j] not in top
    point = browser.execute_script(f"return attnviz.cellCenter({rows[i]}, {cols[j]})")
    hover(browser, point["x"], point["y"])
    tip = browser.find_element("id", "tip").text
    spans = re.search(r"queries #(\d+)-#(\d+) .*\nkeys +#(\d+)-#(\d+) .*\nmax weight (\S+)", tip)
    assert spans, tip
    span = [rows[i], rows[i + 1] - 1, cols[j], cols[j + 1] - 1]
    assert [int(x) for x in spans.groups()[:4]] == span
    assert float(spans[5]) == pytest.approx(pooled_map[i, j], abs=5e-4)
    # zoomed in, a top cell (off the first row and column) is exact
    cells = zip(part["top_values"][1, 2].tolist(), part["top_index"][1, 2].tolist(), strict=True)
    value, r, c = next((v, *divmod(at, k)) for v, at in cells if at // k > 1 and at % k > 0)
    browser.execute_script(f"attnviz.zoomTo([{max(0, r - 3)}, {r + 3}], [{c}, {c + 6}])")
    assert hover_cell(browser, r, c) == (r, c, pytest.approx(value, abs=5e-4))
    browser.save_screenshot(str(tmp_path / "reduced.png"))
    assert console_errors(browser) == []


def test_inline_notebook_viewer_needs_no_files(records, browser, tmp_path):
    shown = attnviz.show(records["encoder"], height=700)
    frame = shown._repr_html_()
    assert frame.startswith("<iframe srcdoc=") and "height:700px" in frame
    page = html.unescape(re.search(r'srcdoc="([^"]*)"', frame)[1])
    (tmp_path / "inline.html").write_text(page)
    open_page(browser, tmp_path / "inline.html")
    assert browser.execute_script("return attnviz.loaded") == []  # no data file was asked for
    attention = records["encoder"]["attention"]["self"].float().numpy()
    select(browser, 0, 5, 0)
    assert hover_cell(browser, 1, 2)[2] == pytest.approx(attention[5, 0, 1, 2], abs=5e-4)
    assert console_errors(browser) == []


def test_bad_input_is_one_line_and_writes_nothing(records, tmp_path):
    out = tmp_path / "out" / "page.html"
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    cases = [
        (lambda: attnviz.save_viewer(tmp_path / "nope.pt", out), "does not exist"),
        (lambda: attnviz.save_viewer(foreign, out), "not written by attnviz"),
        (lambda: attnviz.save_viewer(records["encoder"], out, colour="red"), "unknown key"),
        (lambda: attnviz.save_viewer(records["encoder"], out, scale="log"), "choose one of"),
        (lambda: attnviz.show(records["encoder"], cmap="nope"), "not a matplotlib colormap"),
    ]
    for call, message in cases:
        with pytest.raises(AttnvizError, match=message) as error:
            call()
        assert "\n" not in str(error.value)
        assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_a_failed_rebuild_keeps_the_old_page(records, tmp_path, monkeypatch):
    page = attnviz.save_viewer(records["encoder"], tmp_path / "p.html")
    before = page.read_text()
    import attnviz.viewer.page as viewer_page

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(viewer_page, "section_data", broken)
    with pytest.raises(OSError):
        attnviz.save_viewer(records["encoder"], page)
    assert page.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.html", "p_files"]


def test_index_links_each_prompt_to_its_viewer(tmp_path):
    thumb = tmp_path / "m" / "s" / "p" / "v" / "fig.png"
    thumb.parent.mkdir(parents=True)
    thumb.write_bytes(b"png")
    figures = [{"path": str(thumb.with_suffix(".pdf")), "thumbnail": str(thumb),
                "bookmarks": ["m", "s", "p", "a figure"]}]  # fmt: skip
    viewer = tmp_path / "m" / "s" / "viewer" / "p.html"
    build_index(
        figures, tmp_path / "index.html", "t", str(tmp_path / "r.pdf"), {"m/s/p": str(viewer)}
    )
    assert (
        "<a href='m/s/viewer/p.html'>interactive viewer</a>"
        in (tmp_path / "index.html").read_text()
    )


def test_pooling_keeps_peaks_and_the_first_token_alone():
    matrix = np.zeros((10, 10), np.float32)
    matrix[:, 0] = 0.5  # a sink column
    matrix[7, 4] = 0.9  # one strong cell
    pooled = pool_max(matrix, 3)  # blocks: token 0, then 1-3, 4-6, 7-9
    assert pooled.shape == (4, 4)
    assert pooled[3, 2] == pytest.approx(0.9)  # the peak keeps its value
    assert (pooled[:, 0] == 0.5).all() and (pooled[:, 1:] <= 0.9).all()
    assert pooled[1:, 1:].sum() == pytest.approx(0.9)


def test_question_context_pair_offers_its_four_parts(demo_model):
    model, tokenizer = demo_model("minilm")
    record = attnviz.extract_attention(
        model, tokenizer, question="Who sat?", context="The cat sat.", model_id="minilm"
    )
    end = record["segments"]["question_end"]
    parts = {p["name"]: (p["rows"], p["cols"]) for p in presets(record, "encoder", "self")}
    assert parts == {
        "question -> question": ([0, end], [0, end]),
        "context -> context": ([end, None], [end, None]),
        "question -> context": ([0, end], [end, None]),
        "context -> question": ([end, None], [0, end]),
    }
