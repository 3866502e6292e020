"""Word-level views: tokens grouped into words by their character offsets, attention summed over
the attended-to pieces and averaged over the attending ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnviz.config import ExtractConfig, PlotConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import extract_record
from attnviz.plot.layouts import layout_figures
from attnviz.record import SCHEMA_VERSION, from_attention_viewer
from attnviz.views import view_data
from attnviz.words import group_words, record_words, word_attention
from conftest import ARCHITECTURES

TEXT = "The tokenizer splits unbelievably long words.\nNew  lines"
WORDS = ["The", "tokenizer", "splits", "unbelievably", "long", "words.", "New", "lines"]


def extract(demo_model, name, prompt, **settings):
    model, tokenizer = demo_model(name)
    settings = ExtractConfig(**settings)
    return extract_record(model, tokenizer, prompt, ARCHITECTURES[name], settings, {"model": name})


@pytest.fixture(scope="module")
def records(demo_model):
    return {
        "minilm": extract(demo_model, "minilm", PromptConfig(id="p", text=TEXT)),
        "smollm2": extract(
            demo_model, "smollm2", PromptConfig(id="p", text=TEXT, max_new_tokens=4)
        ),
        "t5_tiny": extract(
            demo_model, "t5_tiny", PromptConfig(id="p", text=TEXT, target="Tokenized words.")
        ),
    }


def groups(record, side="tokens"):
    """The tokens of each word, as display labels."""
    words, tokens = record_words(record, side), record[side]
    ends = [*words.starts[1:].tolist(), len(tokens)]
    return [tokens[a:b] for a, b in zip(words.starts.tolist(), ends, strict=True)]


def test_wordpiece_words_of_minilm(records):
    record = records["minilm"]
    words = record_words(record)
    assert words.labels == ["[CLS]", *WORDS, "[SEP]"]  # the prompt's text, not lowercased
    assert words.special == [True, *[False] * len(WORDS), True]
    assert groups(record)[2] == ["token", "##izer"]
    assert groups(record)[4] == ["un", "##bel", "##ie", "##va", "##bly"]
    assert groups(record)[6] == ["words", "."]  # punctuation stays with its word


def test_byte_level_words_of_smollm2_with_generated_text(records):
    record = records["smollm2"]
    source_end = record["segments"]["source_end"]
    words = record_words(record)
    source = int(np.searchsorted(words.starts, source_end))
    assert words.labels[:source] == WORDS  # spaces inside the pieces' spans, same words
    assert words.starts[source] == source_end  # generated text starts a word (offsets restart)
    pieces = groups(record)
    assert pieces[3] == ["unbelie", "v", "ably"]
    assert pieces[6] == ["\\n", "New"]  # whitespace-only pieces join the word after them
    assert pieces[7] == ["Ġ", "lines"]  # the second of two spaces is a piece of its own
    generated = record["generated_text"].split()
    assert words.labels[source:] == generated


def test_decoder_side_words_of_t5(records):
    data = view_data(records["t5_tiny"], "cross_attention", word_level=True)
    assert data.col_tokens == ["[CLS]", *WORDS, "[SEP]"]
    assert data.row_tokens[-2:] == ["tokenized", "words."]  # the decoded target text
    assert all(data.row_special[: len(data.row_tokens) - 2])  # decoder start tokens
    assert data.attention.shape[-2:] == (len(data.row_tokens), len(WORDS) + 2)


def toy_record(attention):
    """[CLS] un ##happy cat: three words, one of two pieces."""
    return {
        "tokens": ["[CLS]", "un", "##happy", "cat"],
        "special_tokens_mask": torch.tensor([True, False, False, False]),
        "offsets": torch.tensor([[0, 0], [0, 2], [2, 7], [8, 11]]),
        "attention": {"self": torch.tensor(attention, dtype=torch.float32)[None, None]},
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "model": "toy",
            "prompt_id": "p",
            "architecture": "encoder",
            "prompt": {"text": "unhappy cat"},
        },
    }


def test_aggregation_by_hand():
    attention = [
        [0.1, 0.2, 0.3, 0.4],
        [0.4, 0.3, 0.2, 0.1],
        [0.25, 0.25, 0.25, 0.25],
        [0.1, 0.1, 0.1, 0.0],  # sums to 0.3: renormalised
    ]
    data = view_data(toy_record(attention), "self_attention", word_level=True)
    assert data.row_tokens == data.col_tokens == ["[CLS]", "unhappy", "cat"]
    assert data.row_special == [True, False, False]
    # columns: sum over the pieces of "unhappy"; rows: mean over them; rows sum to 1
    expected = [
        [0.1, 0.5, 0.4],
        [(0.4 + 0.25) / 2, (0.5 + 0.5) / 2, (0.1 + 0.25) / 2],
        [0.1 / 0.3, 0.2 / 0.3, 0.0],
    ]
    np.testing.assert_allclose(data.attention[0, 0], expected, atol=1e-6)
    assert word_attention(np.zeros((2, 2)), np.array([0]), np.array([0, 1])).tolist() == [[0, 0]]


def test_labels_without_the_text_join_the_pieces():
    record = toy_record(np.eye(4))
    del record["meta"]["prompt"]
    assert record_words(record).labels == ["[CLS]", "unhappy", "cat"]


def test_whitespace_rules_of_group_words():
    text = "a b\n\nc.d"
    # "a", " b", "\n", "\n", "c", ".d": leading spaces and blank pieces join the next word
    offsets = [[0, 1], [1, 3], [3, 4], [4, 5], [5, 6], [6, 8]]
    words = group_words(offsets, [False] * 6, list("abxxcd"), [text] * 6)
    assert words.starts.tolist() == [0, 1, 2]
    assert words.labels == ["a", "b", "c.d"]


def test_causal_stays_causal(records):
    for view in ("full_sequence", "self_attention_source", "self_attention_generated"):
        data = view_data(records["smollm2"], view, word_level=True)
        assert data.causal
        assert np.abs(np.triu(data.attention, k=1)).max() == 0.0
        sums = data.attention.sum(-1)
        assert np.all((np.abs(sums - 1) < 1e-4) | (sums == 0))


def test_generated_views_slice_words_consistently(records):
    record = records["smollm2"]
    whole = view_data(record, "full_sequence", word_level=True)
    source = view_data(record, "self_attention_source", word_level=True)
    generated = view_data(record, "generated_to_source", word_level=True)
    assert source.row_tokens == generated.col_tokens == WORDS
    assert whole.row_tokens == WORDS + generated.row_tokens


def test_question_end_maps_to_its_word(demo_model):
    prompt = PromptConfig(id="qc", question="Where is Paris?", context="Paris is in France.")
    record = extract(demo_model, "minilm", prompt)
    data = view_data(record, "question_context", word_level=True)
    assert data.row_tokens[: data.question_end] == ["[CLS]", "Where", "is", "Paris?", "[SEP]"]
    assert data.row_tokens[data.question_end :] == ["Paris", "is", "in", "France.", "[SEP]"]
    dropped = view_data(record, "question_context", ignore_first_token=True, word_level=True)
    assert dropped.row_tokens == data.row_tokens[1:]
    assert dropped.question_end == data.question_end - 1


def test_records_without_offsets_are_an_error():
    record = from_attention_viewer(
        {"attention_scores": [torch.full((1, 1, 2, 2), 0.5)], "tokens_list": ["a", "b"]}, "av"
    )
    with pytest.raises(AttnvizError, match="word-level views need offsets.*fast tokenizer"):
        view_data(record, "full_sequence", word_level=True)


def test_word_level_views_are_drawn(records):
    data = view_data(records["minilm"], "self_attention", word_level=True)
    [fig] = layout_figures("layer_average", data, PlotConfig(), "minilm words")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["[CLS]", *WORDS, "[SEP]"]
    assert ax.images[0].get_array().shape == (len(WORDS) + 2,) * 2
    assert data.title.endswith("(words)")
