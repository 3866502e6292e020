"""What attnviz stores equals what the model computes, for each demo architecture."""

from __future__ import annotations

import pytest
import torch
import transformers

from attnviz.config import ExtractConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import display_tokens, extract_record

TEXT = "The quick brown fox jumps over the lazy dog.\nIt was not amused."


def reference_model(path, auto_class):
    """The model loaded by plain transformers, eager attention: the ground truth."""
    model = getattr(transformers, auto_class).from_pretrained(path, attn_implementation="eager")
    return model.eval(), transformers.AutoTokenizer.from_pretrained(path)


def assert_rows_are_distributions(attention, atol):
    sums = attention.float().sum(-1)  # (layers, heads, q)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=atol, rtol=0)


@pytest.mark.parametrize("storage, atol", [("float32", 1e-6), ("float16", 1e-3)])
@pytest.mark.parametrize(
    "name, architecture, auto_class",
    [("minilm", "encoder", "AutoModel"), ("smollm2", "decoder", "AutoModelForCausalLM")],
)
def test_self_attention_equals_model_output(
    demo_model, demo_model_dir, name, architecture, auto_class, storage, atol
):
    model, tokenizer = demo_model(name)
    prompt = PromptConfig(id="p", text=TEXT)
    record = extract_record(model, tokenizer, prompt, architecture, ExtractConfig(storage), {})

    ref_model, ref_tok = reference_model(demo_model_dir(name), auto_class)
    inputs = ref_tok(TEXT, return_tensors="pt")
    with torch.no_grad():
        expected = torch.stack(
            [a[0] for a in ref_model(**inputs, output_attentions=True).attentions]
        )

    got = record["attention"]["self"]  # (layers, heads, q, k)
    assert got.dtype == getattr(torch, storage)
    assert got.shape == expected.shape
    torch.testing.assert_close(got.float(), expected, atol=atol, rtol=0)
    assert_rows_are_distributions(got, atol=10 * atol)
    assert record["token_ids"].tolist() == inputs["input_ids"][0].tolist()
    assert len(record["tokens"]) == got.shape[-1]
    if architecture == "decoder":
        upper = torch.triu(torch.ones(got.shape[-2:], dtype=torch.bool), diagonal=1)
        assert (got[..., upper] == 0).all()  # causal cells are exactly zero
    # Attention-Viewer's keys: one (1, heads, n, n) tensor per layer, and the tokens.
    assert len(record["attention_scores"]) == got.shape[0]
    assert torch.equal(record["attention_scores"][3][0], got[3])
    assert record["tokens_list"] == record["tokens"]


@pytest.mark.parametrize("target", [None, "Der schnelle braune Fuchs."])
def test_encoder_decoder_attention_equals_model_output(demo_model, demo_model_dir, target):
    model, tokenizer = demo_model("t5_tiny")
    prompt = PromptConfig(id="p", text=TEXT, target=target)
    settings = ExtractConfig("float32", max_new_tokens=6)
    record = extract_record(model, tokenizer, prompt, "encoder_decoder", settings, {})

    ref_model, ref_tok = reference_model(demo_model_dir("t5_tiny"), "AutoModelForSeq2SeqLM")
    inputs = ref_tok(TEXT, return_tensors="pt")
    decoder_ids = record["target_token_ids"].unsqueeze(0)
    if target is None:  # greedy generation of exactly max_new_tokens after the start token
        assert decoder_ids.shape[1] == 1 + 6
        assert decoder_ids[0, 0] == ref_model.config.decoder_start_token_id
    else:  # teacher forcing: the target shifted right
        labels = ref_tok(text_target=target, return_tensors="pt")["input_ids"]
        assert decoder_ids[0, 1:].tolist() == labels[0, :-1].tolist()
    with torch.no_grad():
        out = ref_model(**inputs, decoder_input_ids=decoder_ids, output_attentions=True)
    n, t = inputs["input_ids"].shape[1], decoder_ids.shape[1]
    for section, expected, shape in (
        ("encoder", out.encoder_attentions, (4, 4, n, n)),
        ("decoder", out.decoder_attentions, (4, 4, t, t)),
        ("cross", out.cross_attentions, (4, 4, t, n)),  # (target, source)
    ):
        got = record["attention"][section]
        assert got.shape == shape
        torch.testing.assert_close(got, torch.stack([a[0] for a in expected]), atol=1e-6, rtol=0)
        assert_rows_are_distributions(got, atol=1e-5)
    upper = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
    assert (record["attention"]["decoder"][..., upper] == 0).all()
    assert len(record["target_tokens"]) == t


def test_question_context_records_the_boundary(demo_model):
    model, tokenizer = demo_model("minilm")
    prompt = PromptConfig(id="qc", question="Where is Paris?", context="Paris is in France.")
    record = extract_record(model, tokenizer, prompt, "encoder", ExtractConfig(), {})
    tokens, end = record["tokens"], record["segments"]["question_end"]
    assert tokens[:end] == ["[CLS]", "where", "is", "paris", "?", "[SEP]"]
    assert tokens[end:] == ["paris", "is", "in", "france", ".", "[SEP]"]
    assert record["special_tokens_mask"].tolist() == [t in ("[CLS]", "[SEP]") for t in tokens]


def test_display_tokens_strip_word_markers(demo_model):
    _, tokenizer = demo_model("smollm2")
    ids = tokenizer("Hello world\nagain")["input_ids"]
    assert display_tokens(tokenizer, ids) == ["Hello", "world", "\\n", "again"]


@pytest.mark.parametrize(
    "name, architecture, prompt, message",
    [
        ("smollm2", "decoder", PromptConfig(id="x", question="q?", context="c."), "encoder"),
        ("minilm", "encoder", PromptConfig(id="x", text="a", target="b"), "target"),
    ],
)
def test_prompts_a_model_cannot_read_are_refused(demo_model, name, architecture, prompt, message):
    model, tokenizer = demo_model(name)
    with pytest.raises(AttnvizError, match=message):
        extract_record(model, tokenizer, prompt, architecture, ExtractConfig(), {})
