"""Long prompts: records reduced while they are captured equal what the full matrix gives
(statistics, pooled maps, top cells, generated rows), hold nothing in full but what is asked
for, draw every figure from pooled maps, and refuse what needs every weight in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz.config import ExtractConfig, ModelConfig, PlotConfig, PromptConfig, check_extract
from attnviz.errors import AttnvizError
from attnviz.extract import extract_prompt_set, extract_record, extract_records
from attnviz.head_stats import record_head_stats
from attnviz.plot import render_figure
from attnviz.plot.layouts import layout_figures
from attnviz.record import load_record, save_record
from attnviz.resources import extraction_mem_mb
from attnviz.views import view_data

TEXT = (
    "The first token of a long prompt often holds half of the attention. Later tokens look "
    "back at their neighbours, and a few heads follow the previous token exactly."
)
CASES = {  # model: (architecture, prompt, section)
    "smollm2": ("decoder", PromptConfig(id="g", text=TEXT, max_new_tokens=3), "self"),
    "minilm": ("encoder", PromptConfig(id="q", question="Who looks back?", context=TEXT), "self"),
}
LONG = dict(full_max_tokens=8, map_size=7, top_cells=5, storage_dtype="float32")


def pooled(matrix: torch.Tensor, rows: list[int], cols: list[int]) -> torch.Tensor:
    """Max-pool (..., q, k) by block edges."""
    out = torch.zeros(*matrix.shape[:-2], len(rows) - 1, len(cols) - 1)
    for i, (r0, r1) in enumerate(zip(rows[:-1], rows[1:], strict=True)):
        for j, (c0, c1) in enumerate(zip(cols[:-1], cols[1:], strict=True)):
            out[..., i, j] = matrix[..., r0:r1, c0:c1].amax((-2, -1))
    return out


@pytest.fixture(scope="module")
def pair(demo_model):
    """Return a function: model -> (full float32 record, the same prompt reduced)."""
    cache = {}

    def get(name):
        if name not in cache:
            model, tokenizer = demo_model(name)
            arch, prompt, _ = CASES[name]
            full = ExtractConfig(storage_dtype="float32")
            reduced = ExtractConfig(**LONG, full_layers=[-1], full_heads=[0])
            cache[name] = tuple(
                extract_record(model, tokenizer, prompt, arch, s, {"model": name})
                for s in (full, reduced)
            )
        return cache[name]

    return get


@pytest.mark.parametrize("name", CASES)
def test_streamed_statistics_equal_those_of_the_full_matrix(pair, name):
    full, reduced = pair(name)
    section = CASES[name][2]
    expected = record_head_stats(full)[section].stats
    streamed = record_head_stats(reduced)[section].stats
    for statistic, values in expected.items():
        np.testing.assert_allclose(streamed[statistic], values, atol=1e-5, err_msg=statistic)
    assert not np.isnan(streamed["entropy"]).any()


@pytest.mark.parametrize("name", CASES)
def test_pooled_maps_equal_pooling_of_the_full_map(pair, name):
    full, reduced = pair(name)
    section = CASES[name][2]
    attention = full["attention"][section]  # (layers, heads, n, n)
    part = reduced["reduced"][section]
    rows, cols = part["row_edges"].tolist(), part["col_edges"].tolist()
    assert len(rows) - 1 <= LONG["map_size"] and rows[-1] == attention.shape[2]
    assert 1 in rows  # the first token is a column and a row of its own
    maps = torch.stack(part["maps"])  # (layers, heads, mq, mk)
    torch.testing.assert_close(maps, pooled(attention, rows, cols), rtol=0, atol=1e-6)
    means = torch.stack(part["mean_maps"])
    torch.testing.assert_close(means, pooled(attention.mean(1), rows, cols), rtol=0, atol=1e-6)
    block_sums = torch.stack(part["block_mean"]).sum(-1)  # rows of the block means sum to 1
    torch.testing.assert_close(block_sums, torch.ones_like(block_sums), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_top_cells_equal_those_of_the_full_map(pair, name):
    full, reduced = pair(name)
    section = CASES[name][2]
    attention = full["attention"][section]
    part = reduced["reduced"][section]
    heads = torch.cat([attention, attention.mean(1, keepdim=True)], 1).flatten(2)
    values, index = heads.topk(LONG["top_cells"], -1)  # (layers, heads + 1, top)
    torch.testing.assert_close(part["top_values"], values, rtol=0, atol=1e-6)
    cells = heads.gather(-1, part["top_index"])  # the cells the record names hold its scores
    torch.testing.assert_close(cells, part["top_values"], rtol=0, atol=1e-6)


def test_generated_rows_are_exact(pair):
    full, reduced = pair("smollm2")
    end = full["segments"]["source_end"]
    generated = reduced["reduced"]["self"]["generated"]  # (layers, heads, g, n)
    assert generated.shape[2] == len(full["tokens"]) - end > 0
    torch.testing.assert_close(generated, full["attention"]["self"][:, :, end:], rtol=0, atol=0)
    data = view_data(reduced, "generated_to_source")
    np.testing.assert_array_equal(data.attention, full["attention"]["self"][:, :, end:, :end])


@pytest.mark.parametrize("name", CASES)
def test_a_long_record_holds_in_full_only_what_is_asked(pair, name):
    full, reduced = pair(name)
    section = CASES[name][2]
    assert reduced["attention"] == {} and reduced["attention_scores"] == []
    part = reduced["reduced"][section]
    n = full["attention"][section].shape[-1]
    assert part["full"].shape == (1, 1, n, n) and part["full_heads"] == [0]
    last = full["attention"][section][-1, 0]
    torch.testing.assert_close(part["full"][0, 0], last, rtol=0, atol=0)
    square = [k for k, v in part.items() if isinstance(v, torch.Tensor) and v.shape[-2:] == (n, n)]
    assert square == ["full"]  # nothing else at full resolution (generated rows: few x n)


def test_short_prompts_are_recorded_as_before(pair):
    full, _ = pair("smollm2")
    assert "reduced" not in full
    assert full["attention"]["self"].shape[-1] == len(full["tokens"])


def test_figures_of_a_long_record(pair, tmp_path):
    _, reduced = pair("smollm2")
    path = tmp_path / "attention.pt"
    save_record(reduced, path)
    record = load_record(path)
    style = PlotConfig(heads="all")
    for view, layout, variant in [
        ("full_sequence", "layer_average", "plain"),
        ("full_sequence", "heads", "top_cells"),
        ("full_sequence_rollout", "layer_average", "plain"),
        ("self_attention_source", "single", "regions"),
        ("self_attention_generated", "single", "plain"),
    ]:
        out = tmp_path / f"{view}-{layout}.pdf"
        render_figure(path, view, layout, style, out, variant)
        assert out.stat().st_size > 0
    data = view_data(record, "full_sequence")
    assert data.row_tokens[0] == record["tokens"][0]  # token 0 is a block of its own
    assert "…" in data.row_tokens[-2] and data.title.startswith("Full sequence, max over")
    [fig] = layout_figures("layer_average", data, PlotConfig(), "t")
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown.filled(0), data.head_mean[0], atol=1e-6)


def test_top_cells_variant_shows_exact_scores(pair):
    _, reduced = pair("smollm2")
    data = view_data(reduced, "full_sequence")
    style = PlotConfig(heads="all", top_n=2)
    [fig] = layout_figures("single", data, style, "t", "top_cells")
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    best = float(reduced["reduced"]["self"]["top_values"][-1, -1, 0])
    assert f"{best:.3f}" in text


@pytest.mark.parametrize(
    "options, setting, variant",
    [
        (dict(word_level=True), "word_level", "plain"),
        (dict(ignore_first_token=True), "ignore_first_token", "plain"),
        (dict(regions=[[0, 0, 2, 2]]), "plot.regions", "top_cells"),
    ],
)
def test_views_that_need_every_weight_refuse_a_long_record(
    pair, tmp_path, options, setting, variant
):
    _, reduced = pair("smollm2")
    path = tmp_path / "attention.pt"
    save_record(reduced, path)
    out = tmp_path / "figure.pdf"
    style = PlotConfig(**options)
    with pytest.raises(AttnvizError, match="extract.full_max_tokens") as err:
        render_figure(path, "full_sequence", "layer_average", style, out, variant)
    assert setting in str(err.value) and "\n" not in str(err.value)
    assert not out.exists()


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(map_size=1), "map_size is 1; choose at least 2"),
        (dict(full_max_tokens=0), "full_max_tokens is 0; choose at least 1"),
    ],
)
def test_bad_reduction_settings_are_one_line_errors(settings, message):
    with pytest.raises(AttnvizError, match=message) as err:
        check_extract(ExtractConfig(**settings))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(map_size=1), "map_size is 1"),
        (dict(full_layers=[0], full_heads=[9]), "head index 9 is out of range.*full_heads"),
        (dict(full_layers=[0], layers=[1]), "extract.layers does not keep"),
    ],
)
def test_bad_long_settings_are_one_line_errors(demo_model, settings, message):
    model, tokenizer = demo_model("smollm2")
    with pytest.raises(AttnvizError, match=message) as err:
        extract_record(
            model, tokenizer, PromptConfig(id="x", text=TEXT), "decoder",
            ExtractConfig(full_max_tokens=8, **settings), {},
        )  # fmt: skip
    assert "\n" not in str(err.value)


def test_a_full_layer_the_model_lacks_writes_nothing(model_dir, tmp_path):
    path = str(model_dir("smollm2"))
    out = tmp_path / "attention.pt"
    cfg = ModelConfig(architecture="decoder", path=path, device="cpu")
    settings = ExtractConfig(full_max_tokens=8, full_layers=[30])
    with pytest.raises(AttnvizError, match="layer index 30 is out of range.*extract.full_layers"):
        extract_prompt_set("smollm2", cfg, path, [PromptConfig(id="x", text=TEXT)], settings, [out])
    assert list(tmp_path.iterdir()) == []


def test_extraction_memory_follows_the_prompt_length(model_dir):
    path = str(model_dir("smollm2"))
    model = ModelConfig(architecture="decoder", path=path)

    def mem(tokens: int, **settings) -> int:
        prompt = PromptConfig(id="x", text="abc" * tokens)  # about 3 characters a token
        return extraction_mem_mb(model, path, 1, [prompt], ExtractConfig(**settings))

    assert mem(100) < mem(1000)
    full = 30 * 9 * 4000**2 * 2 / 2**20  # every weight of 4,000 tokens, fp16
    assert mem(4000, full_max_tokens=8192) > full  # 9.5 GB were needed where 2.3 were asked
    assert mem(4000) < full / 2  # reduced while captured
    assert mem(8000) < 4096


def test_long_maps_are_readable():
    """A 2,000-token map whose first column holds half of every row: the colour scale follows
    the rest of the data, the first column is not hidden under the frame, peaks survive."""
    from attnviz.plot import heatmap

    n = 2000
    rows = np.arange(1, n + 1, dtype=np.float32)[:, None]
    matrix = np.tril(np.full((n, n), 0.5, dtype=np.float32)) / rows  # (n, n) causal
    matrix[:, 0] += 0.5
    matrix[1500, 700] = 0.9  # one strong cell
    image = heatmap(matrix, causal=True)
    assert image.norm.vmax < 0.5  # not the sink's value: the other cells use the scale
    assert np.isclose(image.get_array().filled(0), 0.9).sum() == 1  # the peak survives pooling
    (left, right), (bottom, top) = image.axes.get_xlim(), image.axes.get_ylim()
    assert left < -0.5 and right > n - 0.5 and top < -0.5 and bottom > n - 0.5  # frame outside


def test_a_long_record_is_checked_tensor_by_tensor_as_it_is_read(pair, tmp_path):
    path = tmp_path / "long.pt"
    save_record(pair("smollm2")[1], path)
    record = torch.load(path, weights_only=True)
    record["reduced"]["self"]["maps"][1][0, 0, 0] += 0.5  # damaged after it was written
    torch.save(record, path)
    loaded = load_record(path)  # mapped: the maps are not read yet
    assert torch.equal(loaded["reduced"]["self"]["maps"][0], record["reduced"]["self"]["maps"][0])
    assert len(loaded["reduced"]["self"]["mean_maps"]) == len(record["reduced"]["self"]["maps"])
    with pytest.raises(AttnvizError, match=r"its reduced\.self\.maps\.1 does not match") as err:
        loaded["reduced"]["self"]["maps"][1]
    assert "\n" not in str(err.value)
    with pytest.raises(AttnvizError, match=r"reduced\.self\.maps\.1 does not match"):
        load_record(path, mmap=False)  # read whole: checked at once
    with pytest.raises(AttnvizError, match=r"reduced\.self\.maps\.1 does not match"):
        style = PlotConfig(heads="all")  # a page of every head: layer 1 is drawn
        render_figure(str(path), "full_sequence", "heads", style, str(tmp_path / "h.pdf"))
    assert not (tmp_path / "h.pdf").exists()


@pytest.mark.parametrize("kind", ["difference", "stability"])
def test_comparisons_of_long_records_use_their_pooled_maps(demo_model_dir, tmp_path, kind):
    from attnviz.compare import align
    from attnviz.models import load_model
    from attnviz.plot.render import render_comparison

    paths = []
    for name in ("tinylm_seed1", "tinylm_seed2"):  # two training runs of one tiny Llama
        path = str(demo_model_dir(name))
        model, tokenizer = load_model(ModelConfig("decoder", path=path), path, name)
        prompt = PromptConfig(id="p", text=TEXT)
        record = extract_record(model, tokenizer, prompt, "decoder", ExtractConfig(**LONG), {})
        record["meta"]["model"] = name
        paths.append(tmp_path / f"{name}.pt")
        save_record(record, paths[-1])
    records = [load_record(p) for p in paths]
    aligned = align(records, "full_sequence", -1, None)
    part = records[1]["reduced"]["self"]
    assert aligned.matrices.shape[1:] == (len(part["row_edges"]) - 1, len(part["col_edges"]) - 1)
    np.testing.assert_allclose(aligned.matrices[1], part["mean_maps"][-1].float().numpy())
    out = tmp_path / f"{kind}.pdf"
    settings = dict(layer=-1, head=None, word_level=False)
    render_comparison(paths, ["full_sequence"] * 2, kind, "c", settings, PlotConfig(), out)
    assert out.stat().st_size > 0
    short = extract_record(model, tokenizer, prompt, "decoder", ExtractConfig(), {})
    with pytest.raises(AttnvizError, match="pooled maps .* extract.full_max_tokens") as err:
        align([records[0], short], "full_sequence", -1, None)
    assert "\n" not in str(err.value)
    with pytest.raises(AttnvizError, match="word_level .* extract.full_max_tokens"):
        align(records, "full_sequence", -1, None, word_level=True)


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of attnviz's own softmax attention."""
    import attnviz.chunked_attention as chunked

    calls, original = [], chunked.softmax_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(chunked, "softmax_attention", counting)
    return calls


@pytest.mark.parametrize("head_by_head", [True, False])  # the CPU's way, and the GPU's
def test_plain_softmax_attention_gives_the_family_eager_numbers(
    demo_model, counted, monkeypatch, head_by_head
):
    """SmolLM2 (Llama) on a long prompt: attnviz computes the softmax itself; the record equals
    the one the family's eager function gives."""
    import attnviz.chunked_attention as chunked
    import attnviz.softmax_rows as rows

    model, tokenizer = demo_model("smollm2")
    prompt, settings = CASES["smollm2"][1], ExtractConfig(**LONG, full_layers=[-1])
    monkeypatch.setitem(rows.ONE_HEAD, "cpu", head_by_head)
    monkeypatch.setattr(rows, "ROWS_CPU", 5)  # several blocks of rows
    monkeypatch.setattr(rows, "BYTES_GPU", 4 * 9 * 5 * 40)
    fused = extract_record(model, tokenizer, prompt, "decoder", settings, {})["reduced"]["self"]
    assert len(counted) == 30  # every layer
    monkeypatch.setattr(chunked, "plain_softmax", lambda *args: False)
    eager = extract_record(model, tokenizer, prompt, "decoder", settings, {})["reduced"]["self"]
    assert len(counted) == 30
    for name, values in eager["stats"].items():
        np.testing.assert_allclose(fused["stats"][name], values, atol=1e-5, err_msg=name)
    for key in ("maps", "mean_maps", "block_mean"):  # equal to rounding (products in blocks)
        torch.testing.assert_close(
            torch.stack(fused[key]), torch.stack(eager[key]), atol=1e-5, rtol=0
        )
    for key in ("top_values", "full", "generated"):
        torch.testing.assert_close(fused[key], eager[key], atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "change, causal",
    [
        (lambda m: m, True),
        (lambda m: m.masked_fill(torch.ones_like(m, dtype=torch.bool).tril(-3), -1e30), False),
        (lambda m: m.masked_fill(m < 0, float("-inf")), False),  # 0 * -inf is no weight
        (lambda m: m + torch.ones_like(m).tril(), False),  # a bias, not a mask
        (lambda m: m.transpose(-2, -1), False),
    ],
    ids=["causal", "sliding window", "infinite", "bias", "future"],
)
def test_only_an_exactly_causal_mask_takes_attnvizs_own_softmax(change, causal):
    from attnviz.softmax_rows import _causal

    n = 12
    mask = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)[None, None]
    assert _causal(change(mask)) is causal


def test_batches_and_short_prompts_run_the_family_eager_function(demo_model, counted):
    model, tokenizer = demo_model("smollm2")
    prompts = [PromptConfig(id="a", text=TEXT), PromptConfig(id="b", text=TEXT[:40])]
    records = extract_records(model, tokenizer, prompts, "decoder", ExtractConfig(**LONG), {})
    assert all("reduced" in record for record in records)  # long, padded into one batch
    extract_record(model, tokenizer, prompts[0], "decoder", ExtractConfig(), {})  # short
    assert counted == []


# every row's score of token 0 exceeds its others' by `gap`: its own weight is a normal float,
# or below the smallest one (exp(-120) is 0 in float32)
@pytest.mark.parametrize("gap", [0.0, 120.0], ids=["normal", "underflow"])
def test_row_sums_of_attnvizs_softmax_hold_when_a_row_barely_sees_itself(gap):
    """Entropy's sum_j p log p comes from each row's weight of its own key, or, where that
    weight is below the smallest normal float, from the row's largest weight."""
    from attnviz.softmax_rows import softmax_attention

    n, dim = 6, 4
    query = torch.zeros(1, 2, n, dim)
    query[..., 0] = 1.0
    key = torch.zeros(1, 1, n, dim)
    key[0, 0, 0, 0] = gap
    value = torch.randn(1, 1, n, dim)
    mask = torch.full((n, n), torch.finfo(torch.float32).min).triu(1)[None, None]
    taken = []
    out = softmax_attention(query, key, value, mask, 1.0, lambda w, f, s: taken.append(s))
    scores = (query @ key.mT).double() + mask.double()  # (1, 2, n, n)
    weights = scores.softmax(-1)
    expected = (weights * weights.clamp_min(1e-300).log()).sum(-1)[0]  # (heads, n)
    torch.testing.assert_close(torch.cat([s.a_log_a for s in taken], -1).double(), expected)
    torch.testing.assert_close(out, (weights.float() @ value).transpose(1, 2))
