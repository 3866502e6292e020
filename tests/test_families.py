"""Models a researcher brings: shared layers, block-local attention, families whose weights are
not a (q, k) matrix, and models made in code (no config.architectures). Tiny models built from
configs, with MiniLM's tokenizer."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

import attnviz
from attnviz.errors import AttnvizError

TEXT = "The quick brown fox jumps over the lazy dog."
SMALL = dict(hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=2)


@pytest.fixture(scope="module")
def tokenizer(demo_model_dir):
    return tf.AutoTokenizer.from_pretrained(demo_model_dir("minilm"))


def build(name: str, vocab: int):
    torch.manual_seed(0)
    if name == "albert":  # one attention module for both layers
        return tf.AlbertModel(tf.AlbertConfig(vocab_size=vocab, embedding_size=16, **SMALL))
    if name == "bert":  # layers that share nothing
        return tf.BertModel(tf.BertConfig(vocab_size=vocab, **SMALL))
    if name == "llama":
        return tf.LlamaModel(tf.LlamaConfig(vocab_size=vocab, num_key_value_heads=2, **SMALL))
    attention_type = {"longt5_local": "local", "longt5_global": "transient-global"}[name]
    config = tf.LongT5Config(
        vocab_size=vocab,
        d_model=32,
        d_kv=8,
        num_heads=4,
        d_ff=64,
        num_layers=2,
        encoder_attention_type=attention_type,
        local_radius=2,
        global_block_size=4,
        decoder_start_token_id=0,
    )
    return tf.LongT5ForConditionalGeneration(config)


def eager_attentions(model, tokenizer, **extra):
    model.set_attn_implementation("eager")
    inputs = tokenizer(TEXT, return_tensors="pt")
    with torch.no_grad():
        return model(**inputs, **extra, output_attentions=True)


@pytest.mark.parametrize("name", ["albert", "bert"])
def test_every_layer_the_model_runs_is_a_layer_of_the_record(tokenizer, name):
    model = build(name, len(tokenizer)).eval()
    record = attnviz.extract_attention(
        model, tokenizer, TEXT, architecture="encoder", storage_dtype="float32"
    )
    own = eager_attentions(model, tokenizer).attentions
    stored = record["attention"]["self"]  # (layers, heads, q, k)
    assert len(own) == stored.shape[0] == 2 and record["layers"]["self"] == [0, 1]
    for layer, weights in enumerate(own):
        torch.testing.assert_close(stored[layer], weights[0], rtol=0, atol=1e-6)
    one = attnviz.extract_attention(model, tokenizer, TEXT, architecture="encoder", layers=[-1])
    torch.testing.assert_close(one["attention"]["self"][0].float(), own[1][0], rtol=0, atol=1e-3)


def test_block_local_attention_is_mapped_exactly_into_the_matrix(tokenizer):
    model = build("longt5_local", len(tokenizer)).eval()
    record = attnviz.extract_attention(model, tokenizer, TEXT, target="Ein Fuchs.")
    stored = record["attention"]["encoder"].float()  # (layers, heads, q, k)
    decoder_ids = torch.tensor([record["target_token_ids"].tolist()])
    own = eager_attentions(model, tokenizer, decoder_input_ids=decoder_ids)
    block, n = 3, stored.shape[-1]  # local_radius + 1
    expected = torch.zeros_like(stored)
    for layer, blocks in enumerate(own.encoder_attentions):  # (1, blocks, heads, block, 3 block)
        for q in range(n):
            for k in range(max(0, q - 2), min(n, q + 3)):  # the window: |q - k| <= radius
                b = q // block
                expected[layer, :, q, k] = blocks[0, b, :, q % block, k - (b - 1) * block]
    torch.testing.assert_close(stored, expected, rtol=0, atol=1e-3)
    torch.testing.assert_close(stored.sum(-1), torch.ones(stored.shape[:-1]), rtol=0, atol=2e-3)
    cross = torch.stack([w[0] for w in own.cross_attentions])
    torch.testing.assert_close(record["attention"]["cross"].float(), cross, rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    ("name", "architecture", "why"),
    [("longt5_global", "encoder_decoder", "transient-global"), ("longformer", "encoder", "window")],
)
def test_weights_that_are_not_a_matrix_are_refused_before_the_model_runs(
    tokenizer, name, architecture, why
):
    if name == "longformer":
        config = tf.LongformerConfig(vocab_size=len(tokenizer), attention_window=4, **SMALL)
        model = tf.LongformerModel(config)
    else:
        model = build(name, len(tokenizer))
    calls = []
    model.register_forward_pre_hook(lambda module, args: calls.append(1))
    with pytest.raises(AttnvizError, match=rf"model type '{model.config.model_type}'.*{why}"):
        attnviz.extract_attention(model.eval(), tokenizer, TEXT, architecture=architecture)
    assert calls == []


@pytest.mark.parametrize(("name", "architecture"), [("bert", "encoder"), ("llama", "decoder")])
def test_a_model_made_in_code_is_taken_for_what_it_is(tokenizer, name, architecture):
    model = build(name, len(tokenizer)).eval()
    assert not model.config.architectures
    record = attnviz.extract_attention(model, tokenizer, TEXT)
    assert record["meta"]["architecture"] == architecture
    above = torch.triu(torch.ones(record["attention"]["self"].shape[-2:]), 1).bool()
    assert bool((record["attention"]["self"][..., above] > 0).any()) == (name == "bert")


def test_view_attention_draws_an_encoder_made_in_code_bidirectionally(tokenizer, tmp_path):
    model = build("bert", len(tokenizer)).eval()
    record = attnviz.view_attention(
        model, "bert", tokenizer, TEXT, save_fig_path=tmp_path, fig_format="png"
    )
    assert record["meta"]["architecture"] == "encoder"
    weights = record["attention"]["self"].float()  # (layers, heads, q, k)
    assert weights[..., 0, -1].min() > 0  # the first token sees the last: not causal
    assert (tmp_path / "bert" / "all_layers_avg.png").stat().st_size > 0
