"""What attnviz stores equals what the model computes: six architectures, every mode."""

from __future__ import annotations

import pytest
import torch
import transformers

from attnviz.config import ExtractConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import display_tokens, extract_record
from attnviz.views import view_data
from conftest import ARCHITECTURES

TEXT = "The quick brown fox jumps over the lazy dog.\nIt was not amused."
AUTO = {
    "encoder": "AutoModel",
    "decoder": "AutoModelForCausalLM",
    "encoder_decoder": "AutoModelForSeq2SeqLM",
}
ALL_MODELS = list(ARCHITECTURES)


@pytest.fixture(scope="session")
def reference(model_dir):
    """Return a function: name -> the model loaded by plain transformers, eager attention."""
    cache = {}

    def get(name):
        if name not in cache:
            auto = getattr(transformers, AUTO[ARCHITECTURES[name]])
            model = auto.from_pretrained(model_dir(name), attn_implementation="eager")
            cache[name] = model.eval()
        return cache[name]

    return get


def reference_attention(model, record) -> dict:
    """The model's own `output_attentions` on the record's tokens, per section."""
    ids = record["token_ids"].unsqueeze(0)
    with torch.no_grad():
        if "target_token_ids" in record:
            out = model(
                input_ids=ids,
                decoder_input_ids=record["target_token_ids"].unsqueeze(0),
                output_attentions=True,
            )
            per_section = {
                "encoder": out.encoder_attentions,
                "decoder": out.decoder_attentions,
                "cross": out.cross_attentions,
            }
        else:
            per_section = {"self": model(input_ids=ids, output_attentions=True).attentions}
    return {k: torch.stack([layer[0] for layer in v]) for k, v in per_section.items()}


def per_step_generate(model, ids, new_tokens, **options):
    """Greedy `generate` with its own per-step attentions: the reference for generated rows."""
    with torch.no_grad():
        return model.generate(
            ids,
            max_new_tokens=new_tokens,
            do_sample=False,
            output_attentions=True,
            return_dict_in_generate=True,
            **options,
        )


def extract(demo_model, name, prompt, **settings):
    model, tokenizer = demo_model(name)
    return extract_record(
        model, tokenizer, prompt, ARCHITECTURES[name], ExtractConfig(**settings), {"model": name}
    )


def assert_rows_are_distributions(attention, atol):
    sums = attention.float().sum(-1)  # (layers, heads, q)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=atol, rtol=0)


def assert_causal(attention):
    q, k = attention.shape[-2:]
    upper = torch.triu(torch.ones(q, k, dtype=torch.bool), diagonal=1 + k - q)
    assert (attention[..., upper] == 0).all()  # exactly zero, not small


@pytest.mark.parametrize("storage, atol", [("float16", 1e-3), ("float32", 1e-5)])
@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_layer_equals_the_models_own_attention(demo_model, reference, name, storage, atol):
    record = extract(demo_model, name, PromptConfig(id="p", text=TEXT), storage_dtype=storage)
    expected = reference_attention(reference(name), record)
    assert set(record["attention"]) == set(expected)
    for section, got in record["attention"].items():
        assert got.dtype == getattr(torch, storage)
        assert got.shape == expected[section].shape
        torch.testing.assert_close(got.float(), expected[section], atol=atol, rtol=0)
        assert_rows_are_distributions(got, atol=10 * atol)
        if section in ("decoder",) or (section == "self" and ARCHITECTURES[name] == "decoder"):
            assert_causal(got)
    if "cross" in record["attention"]:  # (target, source)
        cross = record["attention"]["cross"]
        assert cross.shape[-2:] == (len(record["target_tokens"]), len(record["tokens"]))
    main = record["attention"].get("self", record["attention"].get("encoder"))
    assert len(record["tokens"]) == main.shape[-1] == len(record["offsets"])
    # Attention-Viewer's keys: one (1, heads, n, n) tensor per layer, and the tokens.
    assert len(record["attention_scores"]) == main.shape[0]
    assert torch.equal(record["attention_scores"][-1][0], main[-1])
    assert record["tokens_list"] == record["tokens"]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_row_chunks_give_the_same_numbers(demo_model, reference, name, monkeypatch):
    import attnviz.chunked_attention as chunked

    calls = []
    original = chunked.chunked_eager_attention

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setitem(chunked.CHUNK_BYTES, "cpu", 1)  # one query row per chunk
    monkeypatch.setitem(chunked.AttentionInterface._global_mapping, "attnviz", counting)
    prompt = PromptConfig(id="p", text="Rows one by one.", target="Eins.")
    if ARCHITECTURES[name] != "encoder_decoder":
        prompt = PromptConfig(id="p", text="Rows one by one.")
    record = extract(demo_model, name, prompt, storage_dtype="float32")
    assert calls, "the chunked implementation was not used"
    expected = reference_attention(reference(name), record)
    for section, got in record["attention"].items():
        torch.testing.assert_close(got, expected[section], atol=1e-5, rtol=0)


@pytest.mark.parametrize("hidden", ["family_eager", "_recorder_specs"])
@pytest.mark.parametrize("name", ["minilm", "smollm2", "t5_tiny"])
def test_models_that_cannot_be_chunked_fall_back(demo_model, reference, name, hidden, monkeypatch):
    """No family eager function: hooks on whole layers; no declared modules: the outputs."""
    import attnviz.capture
    import attnviz.sites

    empty = None if hidden == "family_eager" else []
    owner = attnviz.capture if hidden == "family_eager" else attnviz.sites
    monkeypatch.setattr(owner, hidden, lambda module: empty)
    record = extract(demo_model, name, PromptConfig(id="p", text=TEXT), layers=[0, -1])
    expected = reference_attention(reference(name), record)
    for section, got in record["attention"].items():
        torch.testing.assert_close(got.float(), expected[section][[0, -1]], atol=1e-3, rtol=0)
    model, _ = demo_model(name)
    assert model.config._attn_implementation == "eager"  # restored


def batch_prompts(architecture):
    texts = [
        "Short one.",
        "A much longer prompt, with many more tokens in it than the rest.",
        "Mid.",
    ]
    prompts = [PromptConfig(id=f"p{i}", text=t) for i, t in enumerate(texts)]
    if architecture == "decoder":
        prompts[2] = PromptConfig(id="g", text="The capital of France is", max_new_tokens=3)
    if architecture == "encoder_decoder":
        prompts[1] = PromptConfig(id="t", text=texts[1], target="Ein viel längerer Text.")
    if architecture == "encoder":
        prompts[2] = PromptConfig(id="qc", question="Where?", context="Paris is in France.")
    return prompts


@pytest.mark.parametrize("special_tokens", ["keep", "drop"])
@pytest.mark.parametrize("name", ALL_MODELS)
def test_batched_prompts_equal_one_at_a_time(demo_model, name, special_tokens):
    from attnviz.extract import extract_records

    model, tokenizer = demo_model(name)
    architecture = ARCHITECTURES[name]
    prompts = batch_prompts(architecture)
    settings = ExtractConfig("float32", special_tokens=special_tokens, max_new_tokens=3)
    batched = extract_records(model, tokenizer, prompts, architecture, settings, {})
    for prompt, record in zip(prompts, batched, strict=True):
        alone = extract_record(model, tokenizer, prompt, architecture, settings, {})
        assert record["tokens"] == alone["tokens"]
        assert record["segments"] == alone["segments"]
        assert record.get("target_tokens") == alone.get("target_tokens")
        for section, got in record["attention"].items():
            assert got.shape == alone["attention"][section].shape
            torch.testing.assert_close(got, alone["attention"][section], atol=1e-5, rtol=0)
            if special_tokens == "keep":
                assert_rows_are_distributions(got, atol=1e-4)


@pytest.mark.parametrize("name", ["smollm2", "gpt2_tiny", "llama_tiny"])
def test_generated_rows_equal_per_step_generate(demo_model, name):
    model, tokenizer = demo_model(name)
    prompt = PromptConfig(id="g", text="The capital of France is", max_new_tokens=5)
    record = extract_record(
        model, tokenizer, prompt, "decoder", ExtractConfig("float32"), {"model": name}
    )
    source = record["segments"]["source_end"]
    ids = tokenizer(prompt.text, return_tensors="pt")["input_ids"]
    assert source == ids.shape[1]
    steps = per_step_generate(model, ids, 5, pad_token_id=tokenizer.pad_token_id or 0)
    assert record["token_ids"].tolist() == steps.sequences[0].tolist()
    generated = len(record["tokens"]) - source
    assert generated == steps.sequences.shape[1] - source
    to_source = view_data(record, "generated_to_source").attention  # (layers, heads, gen, src)
    assert to_source.shape[2:] == (generated, source)
    for step in range(1, generated):  # step s feeds generated token s-1 as the query
        per_step = torch.stack([layer[0, :, -1] for layer in steps.attentions[step]])
        torch.testing.assert_close(
            torch.from_numpy(to_source[:, :, step - 1]), per_step[..., :source], atol=1e-4, rtol=0
        )
    prompt_rows = torch.stack([layer[0] for layer in steps.attentions[0]])  # step 0: the prompt
    source_view = view_data(record, "self_attention_source").attention
    torch.testing.assert_close(torch.from_numpy(source_view), prompt_rows, atol=1e-4, rtol=0)
    assert view_data(record, "self_attention_generated").attention.shape[2:] == (
        generated,
        generated,
    )


@pytest.mark.parametrize("name", ["t5_tiny", "bart_tiny"])
def test_generated_decoder_rows_equal_per_step_generate(demo_model, name):
    model, tokenizer = demo_model(name)
    prompt = PromptConfig(id="g", text=TEXT, max_new_tokens=4)
    record = extract_record(
        model, tokenizer, prompt, "encoder_decoder", ExtractConfig("float32"), {"model": name}
    )
    ids = tokenizer(TEXT, return_tensors="pt")["input_ids"]
    steps = per_step_generate(model, ids, 4)
    assert record["target_token_ids"].tolist() == steps.sequences[0].tolist()
    for step in range(len(steps.cross_attentions)):  # step s feeds decoder token s
        cross = torch.stack([layer[0, :, -1] for layer in steps.cross_attentions[step]])
        torch.testing.assert_close(
            record["attention"]["cross"][:, :, step], cross, atol=1e-5, rtol=0
        )
        own = torch.stack([layer[0, :, -1] for layer in steps.decoder_attentions[step]])
        torch.testing.assert_close(
            record["attention"]["decoder"][:, :, step, : step + 1], own, atol=1e-5, rtol=0
        )


def test_teacher_forcing_uses_the_target_shifted_right(demo_model):
    model, tokenizer = demo_model("t5_tiny")
    prompt = PromptConfig(id="t", text=TEXT, target="Der schnelle braune Fuchs.")
    record = extract_record(model, tokenizer, prompt, "encoder_decoder", ExtractConfig(), {})
    labels = tokenizer(text_target=prompt.target, return_tensors="pt")["input_ids"][0]
    decoder = record["target_token_ids"]
    assert decoder[0] == model.config.decoder_start_token_id
    assert decoder[1:].tolist() == labels[:-1].tolist()


def test_question_context_records_the_boundary(demo_model):
    prompt = PromptConfig(id="qc", question="Where is Paris?", context="Paris is in France.")
    record = extract(demo_model, "minilm", prompt)
    tokens, end = record["tokens"], record["segments"]["question_end"]
    assert tokens[:end] == ["[CLS]", "where", "is", "paris", "?", "[SEP]"]
    assert tokens[end:] == ["paris", "is", "in", "france", ".", "[SEP]"]
    assert record["special_tokens_mask"].tolist() == [t in ("[CLS]", "[SEP]") for t in tokens]
    model, tokenizer = demo_model("minilm")  # segment ids reach the model: BERT uses them
    inputs = tokenizer(prompt.question, prompt.context, return_tensors="pt")
    with torch.no_grad():
        expected = torch.stack([a[0] for a in model(**inputs, output_attentions=True).attentions])
    torch.testing.assert_close(record["attention"]["self"].float(), expected, atol=1e-3, rtol=0)


def test_chosen_layers_heads_and_head_mean(demo_model):
    prompt = PromptConfig(id="p", text=TEXT)
    full = extract(demo_model, "smollm2", prompt, storage_dtype="float32")["attention"]["self"]
    some = extract(demo_model, "smollm2", prompt, layers=[0, -1], heads=[1, 7])
    assert some["layers"] == {"self": [0, 29]} and some["heads"] == {"self": [1, 7]}
    torch.testing.assert_close(
        some["attention"]["self"].float(), full[[0, 29]][:, [1, 7]], atol=1e-3, rtol=0
    )
    mean = extract(demo_model, "smollm2", prompt, head_mean=True)["attention"]["self"]
    assert mean.shape == (30, 1, *full.shape[-2:])
    torch.testing.assert_close(mean.float(), full.mean(1, keepdim=True), atol=1e-3, rtol=0)


def test_special_tokens_dropped(demo_model):
    prompt = PromptConfig(id="qc", question="Where is Paris?", context="Paris is in France.")
    full = extract(demo_model, "minilm", prompt, storage_dtype="float32")
    dropped = extract(demo_model, "minilm", prompt, storage_dtype="float32", special_tokens="drop")
    keep = [i for i, t in enumerate(full["tokens"]) if t not in ("[CLS]", "[SEP]")]
    assert dropped["tokens"] == [full["tokens"][i] for i in keep]
    assert dropped["segments"]["question_end"] == 4  # where is paris ?
    torch.testing.assert_close(
        dropped["attention"]["self"], full["attention"]["self"][:, :, keep][:, :, :, keep]
    )


def test_display_tokens_strip_word_markers(demo_model):
    _, tokenizer = demo_model("smollm2")
    ids = tokenizer("Hello world\nagain")["input_ids"]
    assert display_tokens(tokenizer, ids) == ["Hello", "world", "\\n", "again"]


def test_a_model_loaded_with_sdpa_is_captured_and_restored(model_dir):
    path = model_dir("llama_tiny")
    model = transformers.AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa")
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    record = extract_record(
        model, tokenizer, PromptConfig(id="p", text=TEXT), "decoder", ExtractConfig("float32"), {}
    )
    assert model.config._attn_implementation == "sdpa"
    model.set_attn_implementation("eager")
    expected = reference_attention(model, record)["self"]
    torch.testing.assert_close(record["attention"]["self"], expected, atol=1e-5, rtol=0)


def test_capture_leaves_no_layer_for_transformers_to_keep(demo_model):
    from attnviz.capture import AttentionCapture, Selection

    model, tokenizer = demo_model("smollm2")
    ids = tokenizer(TEXT, return_tensors="pt")["input_ids"]
    every = torch.arange(ids.shape[1])
    positions = [{"self": (every, every)}]
    with torch.no_grad(), AttentionCapture(model, "decoder", Selection(), positions) as capture:
        out = model(input_ids=ids, output_attentions=True)
    assert out.attentions == ()  # each layer's fp32 weights died with the layer
    assert capture.attention[0]["self"].shape == (30, 9, ids.shape[1], ids.shape[1])
    leftover = [
        hook
        for m in model.modules()
        for hook in m._forward_hooks.values()
        if getattr(hook, "__name__", "") == "take"
    ]
    assert leftover == []  # the hooks are gone after the block


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_a_dynamically_quantised_model_works(model_dir):
    path = model_dir("minilm")
    model = transformers.AutoModel.from_pretrained(path, attn_implementation="eager").eval()
    quantised = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, torch.qint8)
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    record = extract_record(
        quantised,
        tokenizer,
        PromptConfig(id="p", text=TEXT),
        "encoder",
        ExtractConfig("float32"),
        {},
    )
    expected = reference_attention(quantised, record)["self"]
    torch.testing.assert_close(record["attention"]["self"], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "name, prompt, settings, message",
    [
        ("smollm2", PromptConfig(id="x", question="q?", context="c."), {}, "encoder model"),
        ("minilm", PromptConfig(id="x", text="a", target="b"), {}, "target"),
        ("minilm", PromptConfig(id="x", text="a", max_new_tokens=3), {}, "does not generate"),
        ("minilm", PromptConfig(id="x", text="word " * 600), {}, "more than the model's 512"),
        ("minilm", PromptConfig(id="x", text="a b"), {"layers": [6]}, "layer index 6"),
        ("smollm2", PromptConfig(id="x", text="a b"), {"heads": [-10]}, "head index -10"),
    ],
)
def test_bad_input_is_a_one_line_error(demo_model, name, prompt, settings, message):
    with pytest.raises(AttnvizError, match=message) as err:
        extract(demo_model, name, prompt, **settings)
    assert "\n" not in str(err.value)


def test_truncation_when_asked(demo_model):
    record = extract(demo_model, "minilm", PromptConfig(id="x", text="word " * 600), truncate=True)
    assert len(record["tokens"]) == 512 and record["tokens"][-1] == "[SEP]"
