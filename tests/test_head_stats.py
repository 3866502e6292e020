"""Head statistics on hand-built heads with known answers, head selection, the summary figure,
and the statistics of a real MiniLM record."""

from __future__ import annotations

import csv
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import attnviz.statistics as statistics
from attnviz.catalogue import STATISTICS
from attnviz.config import ExtractConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import extract_record
from attnviz.head_stats import (
    head_statistics,
    mean_over_prompts,
    read_stats_csv,
    record_head_stats,
    select_heads,
    stats_rows,
    write_set_stats,
    write_stats_csv,
)
from attnviz.plot.head_summary import head_summary_figure
from attnviz.record import SCHEMA_VERSION


def one_head(matrix, causal, **options) -> dict[str, float]:
    """The statistics of a single (n, n) head, as plain numbers."""
    attention = torch.tensor(matrix, dtype=torch.float32)[None, None]  # (1, 1, n, n)
    return {k: float(v[0, 0]) for k, v in head_statistics(attention, causal, **options).items()}


def uniform(n, causal):
    allowed = np.tril(np.ones((n, n))) if causal else np.ones((n, n))
    return allowed / allowed.sum(-1, keepdims=True)


def naive(matrix, causal, special, source_end) -> dict[str, float]:
    """The statistics of one head, row by row, straight from their definitions."""
    n = len(matrix)
    per_row = {name: [] for name in STATISTICS}
    for i, row in enumerate(matrix):
        allowed = row[: i + 1] if causal else row
        if len(allowed) > 1:
            p = allowed / allowed.sum()
            p = p[p > 0]
            per_row["entropy"].append(-(p * np.log(p)).sum() / math.log(len(allowed)))
        per_row["sink_first"].append(row[0])
        per_row["sink_special"].append(row[special].sum())
        if i >= 1:
            per_row["previous_token"].append(row[i - 1])
        per_row["diagonal"].append(row[i])
        per_row["distance"].append(sum(row[j] * abs(i - j) for j in range(n)))
        if i >= source_end:
            per_row["generated_to_source"].append(row[:source_end].sum())
    return {name: np.mean(values) for name, values in per_row.items()}


def test_a_previous_token_head():
    n = 5
    matrix = np.zeros((n, n))
    matrix[0, 0] = 1
    matrix[np.arange(1, n), np.arange(n - 1)] = 1
    stats = one_head(matrix, causal=True)
    assert stats["previous_token"] == 1
    assert stats["entropy"] == 0  # one-hot rows (row 0, with one key, is skipped)
    assert stats["diagonal"] == pytest.approx(1 / n)  # only row 0 attends itself
    assert stats["sink_first"] == pytest.approx(2 / n)  # rows 0 and 1
    assert stats["distance"] == pytest.approx((n - 1) / n)  # one token back, but row 0
    assert stats["sink_special"] == 0  # no special tokens given
    assert math.isnan(stats["generated_to_source"])  # no source_end


@pytest.mark.parametrize("causal", [True, False])
def test_a_uniform_head_has_entropy_one(causal):
    n = 4
    stats = one_head(uniform(n, causal), causal)
    assert stats["entropy"] == pytest.approx(1)
    if causal:  # row i: 1 / (i + 1) on each of keys 0..i, mean distance i / 2
        assert stats["sink_first"] == pytest.approx(np.mean([1, 1 / 2, 1 / 3, 1 / 4]))
        assert stats["distance"] == pytest.approx(np.mean([0, 0.5, 1, 1.5]))
    else:  # rows 0..3 of |i - j| average 1.5, 1, 1, 1.5
        assert stats["sink_first"] == pytest.approx(1 / 4)
        assert stats["distance"] == pytest.approx(1.25)


def test_entropy_of_a_row_that_sums_to_less_than_one_is_of_the_row_rescaled():
    matrix = np.tile([0.25, 0.25, 0, 0], (4, 1))  # dropped special tokens took half
    assert one_head(matrix, causal=False)["entropy"] == pytest.approx(math.log(2) / math.log(4))


def test_a_sink_head_on_the_first_and_on_special_tokens():
    n = 6
    first = np.zeros((n, n))
    first[:, 0] = 1
    special = np.array([True, False, False, False, False, True])
    stats = one_head(first, causal=True, special=special)
    assert stats["sink_first"] == stats["sink_special"] == 1
    assert stats["entropy"] == 0
    assert stats["distance"] == pytest.approx((n - 1) / 2)  # row i looks i tokens back
    both = np.zeros((n, n))
    both[:, [0, n - 1]] = 0.5  # half on [CLS], half on [SEP]
    stats = one_head(both, causal=False, special=special)
    assert stats["sink_special"] == pytest.approx(1) and stats["sink_first"] == pytest.approx(0.5)
    assert one_head(both, causal=False)["sink_special"] == 0  # no special tokens: 0


def test_a_diagonal_head():
    stats = one_head(np.eye(5), causal=False)
    assert stats["diagonal"] == 1 and stats["previous_token"] == 0
    assert stats["distance"] == 0 and stats["entropy"] == 0


def test_distance_counts_tokens_both_ways():
    matrix = np.zeros((4, 4))
    matrix[:, 3] = 1  # every row looks at the last token: 3, 2, 1, 0 tokens away
    assert one_head(matrix, causal=False)["distance"] == pytest.approx(1.5)


@pytest.mark.parametrize("causal", [True, False])
def test_blocks_of_rows_give_the_definitions_numbers(causal, monkeypatch):
    monkeypatch.setattr(statistics, "_CHUNK_ELEMENTS", 130)  # blocks of 5 rows: 2 x 5 x 13
    n, source_end = 13, 9
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(3, 2, n, n, generator=g) * 2
    if causal:
        scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), -torch.inf)
    attention = torch.softmax(scores, -1).half()  # float16, as records store it
    special = np.zeros(n, bool)
    special[[0, 4]] = True
    stats = head_statistics(attention, causal, torch.from_numpy(special), source_end)
    for layer in range(3):
        for head in range(2):
            matrix = attention[layer, head].double().numpy()
            expected = naive(matrix, causal, special, source_end)
            for name in STATISTICS:
                assert stats[name][layer, head] == pytest.approx(expected[name], rel=1e-5)


def decoder_record(attention, source_end=None) -> dict:
    n = attention.shape[-1]
    return {
        "tokens": [f"t{i}" for i in range(n)],
        "special_tokens_mask": torch.zeros(n, dtype=torch.bool),
        "attention": {"self": attention},
        "segments": {} if source_end is None else {"source_end": source_end},
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": "toy",
            "prompt_id": "p",
            "architecture": "decoder",
        },
    }


def test_generated_to_source_on_a_record_that_generated():
    attention = torch.tensor(uniform(6, causal=True), dtype=torch.float32)
    attention[4, :5] = torch.tensor([0.3, 0.2, 0.1, 0.0, 0.4])  # 0.6 on the 4 source tokens
    attention[5] = torch.tensor([0.5, 0.1, 0.1, 0.1, 0.1, 0.1])  # 0.8
    record = decoder_record(attention[None, None], source_end=4)
    [(section, result)] = record_head_stats(record).items()
    assert section == "self" and result.layers == [0] and result.heads == ["0"]
    assert result.stats["generated_to_source"][0, 0] == pytest.approx(0.7)
    for source_end in (None, 6):  # nothing asked for, nothing generated
        stats = record_head_stats(decoder_record(attention[None, None], source_end))["self"]
        assert math.isnan(stats.stats["generated_to_source"][0, 0])


def test_cross_attention_has_entropy_and_sinks_only():
    uniform = torch.ones(1, 1, 3, 5) / 5  # 3 target tokens, each uniform over 5 source tokens
    stats = head_statistics(uniform, causal=False, special=[1, 0, 0, 0, 1])
    assert stats["entropy"][0, 0] == pytest.approx(1.0)
    assert stats["sink_first"][0, 0] == pytest.approx(0.2)
    assert stats["sink_special"][0, 0] == pytest.approx(0.4)
    for name in ("previous_token", "diagonal", "distance", "generated_to_source"):
        assert np.isnan(stats[name][0, 0]), name


def test_mean_over_prompts_ignores_nan():
    first = {"entropy": np.array([[0.2, np.nan]]), "sink_first": np.array([[1.0, np.nan]])}
    second = {"entropy": np.array([[0.4, 0.5]]), "sink_first": np.array([[0.0, np.nan]])}
    mean = mean_over_prompts(iter([first, second]))
    np.testing.assert_allclose(mean["entropy"], [[0.3, 0.5]])
    assert mean["sink_first"][0, 0] == 0.5 and np.isnan(mean["sink_first"][0, 1])
    with pytest.raises(AttnvizError, match=r"prompt 2 has entropy of shape \(2, 1\)"):
        mean_over_prompts([first, {"entropy": np.zeros((2, 1))}])
    with pytest.raises(AttnvizError, match="no prompts to average over"):
        mean_over_prompts([])


STATS = {
    "entropy": np.array([[0.5, 0.1, 0.5], [0.9, np.nan, 0.2]]),
    "sink_first": np.full((2, 3), np.nan),
}


def test_select_heads_best_first_never_nan():
    assert select_heads(STATS, "top_k_by_entropy", 3) == [(1, 0), (0, 0), (0, 2)]  # tie: order
    assert select_heads(STATS, "bottom_k_by_entropy", 2) == [(0, 1), (1, 2)]
    assert (1, 1) not in select_heads(STATS, "top_k_by_entropy", 6)  # 5 have a value
    assert len(select_heads(STATS, "top_k_by_entropy", 6)) == 5


@pytest.mark.parametrize(
    "spec, k, message",
    [
        ("top_k_by_focus", 1, "unknown statistic 'focus' in 'top_k_by_focus'; choose one of "),
        ("top_3_by_entropy", 1, "'top_3_by_entropy' is malformed; write all, top_k_by_<stat"),
        ("entropy", 1, "'entropy' is malformed"),
        ("top_k_by_entropy", 0, r"k is 0 but there are 6 heads \(2 layers x 3 heads\); choose k"),
        ("bottom_k_by_entropy", 7, "k is 7 but there are 6 heads"),
        ("top_k_by_sink_first", 1, "statistic 'sink_first' has no value for any head"),
    ],
)
def test_select_heads_bad_input(spec, k, message):
    with pytest.raises(AttnvizError, match=message) as error:
        select_heads(STATS, spec, k)
    assert "\n" not in str(error.value)
    if "unknown statistic" in message:
        assert str(error.value).endswith(", ".join(STATISTICS))


def panels(fig):
    return [ax for ax in fig.axes if ax.images]


def test_summary_figure_one_panel_per_statistic():
    stats = {name: np.random.default_rng(0).random((30, 9)) for name in STATISTICS}
    stats["generated_to_source"][:] = np.nan
    stats["entropy"][2, 3] = np.nan
    layers = list(range(10, 40))
    fig = head_summary_figure(stats, "toy: head statistics", layers=layers)
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [
        "entropy\n(blank: 1 without a value)",
        *STATISTICS[1:-1],
        "generated_to_source\n(blank: no values)",
    ]
    assert len(fig.axes) == len(axes) + len(STATISTICS) - 1 + 1  # colour bars; one panel blank
    assert all(ax.get_xlabel() == "Head" and ax.get_ylabel() == "Layer" for ax in axes)
    [labels] = {tuple(t.get_text() for t in ax.get_yticklabels()) for ax in axes}
    assert labels[0] == "10" and set(labels) <= {str(i) for i in layers}
    image = axes[0].images[0].get_array()
    assert image.shape == (30, 9) and image.mask[2, 3] and image.mask.sum() == 1
    assert axes[-1].images[0].get_array().mask.all()
    assert plt.get_fignums() == []  # built on Figure: nothing left open in pyplot


@pytest.fixture(scope="module")
def minilm_record(demo_model):
    model, tokenizer = demo_model("minilm")
    prompt = PromptConfig(id="fox", text="The quick brown fox jumps over the lazy dog.")
    return extract_record(model, tokenizer, prompt, "encoder", ExtractConfig(), {"model": "minilm"})


def test_statistics_of_a_real_minilm_record(minilm_record, tmp_path):
    n = len(minilm_record["tokens"])
    result = record_head_stats(minilm_record)
    assert list(result) == ["self"]
    stats = result["self"]
    assert stats.layers == list(range(6)) and stats.heads == [str(h) for h in range(12)]
    assert set(stats.stats) == set(STATISTICS)
    assert all(v.shape == (6, 12) and v.dtype == np.float64 for v in stats.stats.values())
    for name in ("entropy", "sink_first", "sink_special", "previous_token", "diagonal"):
        assert ((stats.stats[name] >= -1e-6) & (stats.stats[name] <= 1 + 1e-6)).all(), name
    assert ((stats.stats["distance"] >= 0) & (stats.stats["distance"] <= n - 1)).all()
    assert (stats.stats["sink_special"] >= stats.stats["sink_first"] - 1e-6).all()  # [CLS]
    assert np.isnan(stats.stats["generated_to_source"]).all()  # an encoder generates nothing
    focused = select_heads(stats.stats, "bottom_k_by_entropy", 3)
    entropy = [stats.stats["entropy"][i] for i in focused]
    assert entropy == sorted(entropy) and entropy[0] == stats.stats["entropy"].min()

    write_stats_csv(stats_rows([minilm_record], prompt_set="demo"), tmp_path / "heads.csv")
    with open(tmp_path / "heads.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 * 12
    assert list(rows[0]) == ["model", "prompt_set", "prompt", "section", "layer", "head"] + list(
        STATISTICS
    )
    last = rows[-1]
    assert (last["model"], last["prompt_set"], last["prompt"], last["layer"], last["head"]) == (
        "minilm",
        "demo",
        "fox",
        "5",
        "11",
    )
    assert float(last["entropy"]) == pytest.approx(stats.stats["entropy"][5, 11])
    assert last["generated_to_source"] == "nan"


def test_heads_pages_pick_by_the_models_mean_over_its_prompts(tmp_path):
    """A prompt's heads page picks the heads of the model's mean statistics (the table), not
    the prompt's own: here head 0 is the most focused in prompt a only."""
    from pypdf import PdfReader

    from attnviz.config import PlotConfig
    from attnviz.plot.render import render_figure
    from attnviz.record import save_record

    n = 4
    focused = np.full((n, n), 0.1 / 3) + np.eye(n) * (0.9 - 0.1 / 3)  # entropy ~0.3
    heads = {
        "a": [np.eye(n), uniform(n, False), focused],  # own pick: head 0 (entropy 0)
        "b": [uniform(n, False), uniform(n, False), focused],  # mean pick: head 2
    }
    paths = []
    for prompt, matrices in heads.items():
        record = {
            "tokens": [f"w{i}" for i in range(n)],
            "attention": {"self": torch.tensor(np.stack(matrices), dtype=torch.float32)[None]},
            "meta": {
                "schema_version": SCHEMA_VERSION,
                "model": "m",
                "prompt_id": prompt,
                "architecture": "encoder",
            },
        }
        paths.append(tmp_path / f"{prompt}.pt")
        save_record(record, paths[-1])
    table = tmp_path / "head_stats.csv"
    write_set_stats([str(p) for p in paths], "set", table)
    style = PlotConfig(heads="bottom_k_by_entropy", top_k=1)
    for stats, picked in ((table, "head 2: entropy"), (None, "head 0: entropy 0")):
        out = tmp_path / "heads.pdf"
        render_figure(paths[0], "self_attention", "heads", style, out, head_stats_table=stats)
        assert picked in PdfReader(out).pages[0].extract_text()


def test_a_constant_statistic_is_shown_as_constant_with_its_value():
    stats = {name: np.random.default_rng(0).random((3, 4)) for name in ("entropy", "sink_special")}
    stats["sink_special"][:] = 0.0  # a model without special tokens
    stats["sink_special"][0, 0] = np.nan
    fig = head_summary_figure(stats, "toy")
    entropy, sink = panels(fig)
    assert entropy.get_title() == "entropy"
    assert sink.get_title() == "sink_special\n(constant: 0)\n(blank: 1 without a value)"
    assert len(fig.axes) == 2 + 1  # one colour bar: entropy's
    assert not any("0.1" in t.get_text() for ax in fig.axes for t in ax.get_yticklabels())


def test_the_statistics_stage_writes_the_table_and_the_summary_is_drawn_from_it(tmp_path):
    """The statistics job writes the set's table from the records without the figure stage
    (no matplotlib is imported); the summary job draws the means of that table alone."""
    import subprocess
    import sys

    from pypdf import PdfReader

    from attnviz.plot.render import render_head_summary
    from attnviz.record import save_record

    n, paths = 4, []
    for prompt, matrix in (("a", np.eye(4)), ("b", uniform(n, False))):
        record = {
            "tokens": [f"w{i}" for i in range(n)],
            "attention": {"self": torch.tensor(matrix, dtype=torch.float32)[None, None]},
            "meta": {
                "schema_version": SCHEMA_VERSION,
                "model": "m",
                "prompt_id": prompt,
                "architecture": "encoder",
            },
        }
        paths.append(str(tmp_path / f"{prompt}.pt"))
        save_record(record, paths[-1])
    table = tmp_path / "head_stats.csv"
    script = (
        "import sys; from attnviz.head_stats import write_set_stats; "
        f"write_set_stats({paths!r}, 'set', {str(table)!r}); "
        "assert 'matplotlib' not in sys.modules, 'the statistics stage imported matplotlib'"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    rows = read_stats_csv(table)
    assert [(r["prompt_set"], r["prompt"], r["entropy"]) for r in rows] == [
        ("set", "a", 0.0),
        ("set", "b", pytest.approx(1.0)),
    ]
    table.write_text(table.read_text().replace(",0.0,", ",0.5,", 1))  # a's entropy: the table's
    render_head_summary(table, tmp_path / "summary.pdf", tmp_path / "summary.png")
    [page] = PdfReader(tmp_path / "summary.pdf").pages
    text = page.extract_text()
    assert "m | set | head statistics of self attention, mean over 2 prompts" in text
    assert "constant: 0.75" in text  # entropy: the mean of the table's 0.5 and 1
    assert (tmp_path / "summary.png").stat().st_size > 0
