"""Every example in the seeds' READMEs, as written there but for the model: the demo models
(loaded through the same `from_pretrained` calls) instead of hub downloads. Each must write the
file its README documents."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from pypdf import PdfReader

from attnviz.izzyviz.visualization import (
    visualize_attention_decoder_only,
    visualize_attention_encoder_decoder,
    visualize_attention_encoder_only,
)


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # IzzyViz writes its default files into the working folder
    return tmp_path


def one_pdf_page(path) -> bool:
    return len(PdfReader(path).pages) == 1


def test_izzyviz_quick_start(demo_model_dir, in_tmp):
    from transformers import BertModel, BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(demo_model_dir("minilm"))
    # transformers 5 runs sdpa unless told, and sdpa returns no attention weights
    model = BertModel.from_pretrained(demo_model_dir("minilm"), attn_implementation="eager")
    sentence = "The quick brown fox jumps over the lazy dog."
    inputs = tokenizer(sentence, return_tensors="pt", add_special_tokens=True)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    with torch.no_grad():
        outputs = model(**inputs, output_attentions=True)
        attentions = outputs.attentions
    left_top_cells = [(4, 4)]
    right_bottom_cells = [(8, 8)]
    figure = visualize_attention_encoder_only(
        attentions,
        tokens,
        layer=-1,
        head=8,
        top_n=5,
        mode="self_attention",
        left_top_cells=left_top_cells,
        right_bottom_cells=right_bottom_cells,
        plot_titles=["Custom Self-Attention Heatmap Title"],
    )
    assert one_pdf_page(in_tmp / "self_attention_heatmap.pdf")
    [ax] = [a for a in figure.axes if a.get_title()]
    assert ax.get_title() == "Custom Self-Attention Heatmap Title"
    scores = [t.get_text() for t in ax.texts]
    expected = attentions[-1][0, 8].flatten().topk(5).values
    assert scores == [f"{v:.2f}" for v in expected.tolist()]  # top 5 cells, highest first
    [box] = [p for p in ax.patches if p.get_edgecolor()[:3] == (1.0, 0.0, 0.0)]
    assert box.get_width() > 0 and box.get_height() > 0


def test_izzyviz_quick_start_with_the_model_as_transformers_5_loads_it(demo_model_dir, in_tmp):
    from transformers import BertModel, BertTokenizer

    import attnviz
    from attnviz.errors import AttnvizError

    tokenizer = BertTokenizer.from_pretrained(demo_model_dir("minilm"))
    model = BertModel.from_pretrained(demo_model_dir("minilm"))  # sdpa: no attention weights
    sentence = "The quick brown fox jumps over the lazy dog."
    inputs = tokenizer(sentence, return_tensors="pt", add_special_tokens=True)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    with torch.no_grad():
        attentions = model(**inputs, output_attentions=True).attentions
    with pytest.raises(AttnvizError, match="attn_implementation='eager'"):
        visualize_attention_encoder_only(attentions, tokens, layer=-1, head=8, top_n=5)
    model.train()  # as a model being fine-tuned is: dropout on
    record = attnviz.extract_attention(model, tokenizer, sentence, storage_dtype="float32")
    assert model.config._attn_implementation == "sdpa" and model.training  # left as it was
    eager = BertModel.from_pretrained(demo_model_dir("minilm"), attn_implementation="eager")
    with torch.no_grad():
        expected = torch.cat(eager(**inputs, output_attentions=True).attentions)
    torch.testing.assert_close(record["attention"]["self"], expected, rtol=0, atol=1e-6)
    assert record["tokens"][:4] == ["[CLS]", "the", "quick", "brown"]
    visualize_attention_encoder_only(record["attention"]["self"], tokens, layer=-1, head=8)
    assert one_pdf_page(in_tmp / "self_attention_heatmap.pdf")


def test_izzyviz_encoder_self_attention(demo_model_dir, in_tmp):
    from transformers import BertModel, BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(demo_model_dir("minilm"))
    model = BertModel.from_pretrained(demo_model_dir("minilm"), output_attentions=True)
    sentence = "Deep learning models are revolutionizing AI."
    inputs = tokenizer(sentence, return_tensors="pt", add_special_tokens=True)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    with torch.no_grad():
        outputs = model(**inputs)
        attentions = outputs.attentions
    visualize_attention_encoder_only(
        attentions=attentions, tokens=tokens, layer=-1, head=0, mode="self_attention"
    )
    assert one_pdf_page(in_tmp / "self_attention_heatmap.pdf")


def test_izzyviz_question_context(demo_model_dir, in_tmp):
    from transformers import BertModel, BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(demo_model_dir("minilm"))
    model = BertModel.from_pretrained(demo_model_dir("minilm"), output_attentions=True)
    question = "What is the capital of France?"
    context = "Paris is the capital city of France, known for its art, fashion, and culture."
    inputs = tokenizer(question, context, return_tensors="pt", add_special_tokens=True)
    input_ids = inputs["input_ids"]
    token_type_ids = inputs["token_type_ids"][0]
    question_end = (token_type_ids == 0).sum().item()
    tokens = tokenizer.convert_ids_to_tokens(input_ids[0])
    with torch.no_grad():
        outputs = model(**inputs)
        attentions = outputs.attentions
    before = [a.clone() for a in attentions]
    figure = visualize_attention_encoder_only(
        attentions=attentions,
        tokens=tokens,
        layer=-1,
        head=0,
        question_end=question_end,
        mode="question_context",
    )
    assert one_pdf_page(in_tmp / "QC_attention_heatmaps.pdf")
    # IzzyViz swaps these two titles and writes into the caller's tensors; attnviz does neither
    panels = {ax.get_title(): ax for ax in figure.axes if ax.get_title()}
    head = attentions[-1][0, 0].numpy()
    q2c = panels["question -> context"].images[0].get_array()
    np.testing.assert_allclose(q2c, head[:question_end, question_end:], atol=1e-6)
    labels = [t.get_text() for t in panels["question -> context"].get_yticklabels()]
    assert set(labels) <= set(tokens[:question_end])
    assert all(torch.equal(a, b) for a, b in zip(attentions, before, strict=True))


def _smollm2(demo_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(demo_model_dir("smollm2"))
    model = AutoModelForCausalLM.from_pretrained(demo_model_dir("smollm2"), output_attentions=True)
    model.eval()
    return model, tokenizer


def test_izzyviz_decoder_full_sequence(demo_model_dir, in_tmp):
    model, tokenizer = _smollm2(demo_model_dir)
    source_text = "Once upon a time, in a faraway land, there lived a wise old man."
    input_ids = tokenizer.encode(source_text, return_tensors="pt")
    source_tokens = tokenizer.convert_ids_to_tokens(input_ids[0])
    with torch.no_grad():
        outputs = model(input_ids)
        attentions = outputs.attentions
    figure = visualize_attention_decoder_only(
        attentions=attentions,
        source_tokens=source_tokens,
        generated_tokens=[],
        layer=-1,
        head=0,
        use_case="full_sequence",
    )
    assert one_pdf_page(in_tmp / "decoder_self_attention_heatmap.pdf")
    [ax] = [a for a in figure.axes if a.images]
    shown = ax.images[0].get_array()
    assert shown.mask[0, 1] and not shown.mask[1, 0]  # causal cells blank, not zeros


def test_izzyviz_generated_to_source(demo_model_dir, in_tmp):
    model, tokenizer = _smollm2(demo_model_dir)
    source_text = "Climate change is a pressing issue"
    input_ids = tokenizer.encode(source_text, return_tensors="pt")
    source_tokens = tokenizer.convert_ids_to_tokens(input_ids[0])
    max_length = input_ids.shape[1] + 10
    with torch.no_grad():
        outputs = model.generate(
            input_ids, max_length=max_length, output_attentions=True, return_dict_in_generate=True
        )
    full_input_ids = outputs.sequences
    full_tokens = tokenizer.convert_ids_to_tokens(full_input_ids[0])
    generated_tokens = full_tokens[len(source_tokens) :]
    with torch.no_grad():
        full_outputs = model(full_input_ids)
        attentions = full_outputs.attentions
    figure = visualize_attention_decoder_only(
        attentions=attentions,
        source_tokens=source_tokens,
        generated_tokens=generated_tokens,
        layer=-1,
        head=0,
        use_case="generated_to_source",
    )
    assert one_pdf_page(in_tmp / "decoder_generated_to_source_attention_heatmap.pdf")
    [ax] = [a for a in figure.axes if a.images]
    assert ax.images[0].get_array().shape == (len(generated_tokens), len(source_tokens))


def test_izzyviz_cross_attention(demo_model_dir, in_tmp):
    from transformers import AutoTokenizer, T5ForConditionalGeneration

    model_name = demo_model_dir("t5_tiny")
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    model = T5ForConditionalGeneration.from_pretrained(model_name, output_attentions=True)
    source_text = "I am happy."
    input_ids = tokenizer(source_text, return_tensors="pt").input_ids
    output = model.generate(
        input_ids, return_dict_in_generate=True, output_attentions=True, max_new_tokens=10
    )
    generated_tokens = tokenizer.convert_ids_to_tokens(output.sequences[0])
    cross_attentions = output.cross_attentions
    layer_index = -2
    head_index = 3  # the README's head 4 of t5-small's 8; t5_tiny has 4 heads
    all_attention_scores = []
    for token_index in range(len(cross_attentions)):
        attention_tensor = cross_attentions[token_index][layer_index]
        head_attention = attention_tensor[0, head_index, :, :].squeeze(0).detach().numpy()
        all_attention_scores.append(head_attention)
    attention_matrix = np.vstack(all_attention_scores)
    if len(generated_tokens) > attention_matrix.shape[0]:
        generated_tokens = [token for token in generated_tokens if token != "<pad>"]
    generated_tokens = generated_tokens[: attention_matrix.shape[0]]
    source_tokens = tokenizer.convert_ids_to_tokens(input_ids[0])
    visualize_attention_encoder_decoder(attention_matrix, source_tokens, generated_tokens)
    assert one_pdf_page(in_tmp / "cross_attention_heatmap.pdf")


def test_attention_viewer_main_example(demo_model_dir, tmp_path):
    """The README's `python main.py --model_path ... --plot_figs_per_head`, as
    `python -m attnviz view` (SmolLM2, a Llama like the README's)."""
    command = [
        sys.executable,
        "-m",
        "attnviz",
        "view",
        "--model_path",
        str(demo_model_dir("smollm2")),
        "--model_id",
        "smollm2-135m",
        "--prompt",
        "Summer is warm. Winter is cold.\\n",
        "--save_fig_path",
        "./vis",
        "--plot_figs_per_head",
    ]
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True)
    folder = tmp_path / "vis" / "smollm2-135m"
    names = {p.name for p in folder.iterdir()}
    assert names == {"all_layers_avg.jpg", *(f"layer_{i}.jpg" for i in range(30))}
    assert Image.open(folder / "all_layers_avg.jpg").format == "JPEG"
