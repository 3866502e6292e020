"""The tinylm demo training run: checkpoints of one deterministic run, seeds that differ, and
attention that changes as the model learns."""

from __future__ import annotations

import itertools
import json
import math

import pytest
import torch
import transformers
from omegaconf import OmegaConf
from safetensors.torch import load_file

from attnviz.catalogue import DEMO_MODELS
from attnviz.config import CONF_DIR, ExtractConfig, ModelConfig, PromptConfig
from attnviz.demo_models import TINYLM_RUNS, prepare_demo_model
from attnviz.extract import extract_record
from attnviz.head_stats import record_head_stats
from attnviz.models import load_model

NAMES = list(TINYLM_RUNS)
TEXT = "A girl painted the old boat in the garden while her father slept."  # not in the corpus


@pytest.fixture(scope="module")
def records(demo_model_dir):
    """name -> the record of TEXT, extracted by attnviz from results/models/<name>."""
    result = {}
    for name in NAMES:
        path = str(demo_model_dir(name))
        cfg = ModelConfig(architecture="decoder", path=path, device="cpu")
        model, tokenizer = load_model(cfg, path, name)
        prompt = PromptConfig(id="unseen", text=TEXT)
        settings = ExtractConfig(storage_dtype="float32")
        result[name] = extract_record(model, tokenizer, prompt, "decoder", settings, {})
    return result


def training(demo_model_dir, name: str) -> dict:
    return json.loads((demo_model_dir(name) / "training.json").read_text())


def test_a_build_is_deterministic(tmp_path):
    first = prepare_demo_model("tinylm_step50", tmp_path / "a")
    second = prepare_demo_model("tinylm_step50", tmp_path / "b")
    for name in ("model.safetensors", "training.json", "config.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_checkpoints_are_one_run(demo_model_dir):
    """Each folder is trained on its own; the shorter runs are prefixes of the longest."""
    runs = {name: training(demo_model_dir, name) for name in NAMES}
    for name, (seed, steps) in TINYLM_RUNS.items():
        assert (runs[name]["seed"], runs[name]["steps"], len(runs[name]["loss"])) == (
            seed,
            steps,
            steps,
        )
    final = runs["tinylm_step200"]["loss"]
    assert runs["tinylm_step0"]["loss"] == []
    assert runs["tinylm_step50"]["loss"] == final[:50]  # exact floats: the same trajectory


@pytest.mark.parametrize("name", ["tinylm_step200", "tinylm_seed1", "tinylm_seed2"])
def test_training_reduces_the_loss(demo_model_dir, name):
    run = training(demo_model_dir, name)
    loss = run["loss"]
    # random weights predict the corpus word pieces near uniformly: log(vocabulary)
    assert loss[0] == pytest.approx(math.log(run["corpus"]["vocabulary"]), abs=0.3)
    assert sum(loss[-10:]) / 10 < 0.2 * loss[0]


def test_checkpoints_and_seeds_differ_in_weights_and_attention(demo_model_dir, records):
    weights = {n: load_file(demo_model_dir(n) / "model.safetensors") for n in NAMES}
    key = "model.layers.0.self_attn.q_proj.weight"
    for a, b in itertools.combinations(NAMES, 2):
        assert (weights[a][key] - weights[b][key]).abs().max() > 1e-2, (a, b)
        attention_a = records[a]["attention"]["self"]  # (layers, heads, n, n)
        attention_b = records[b]["attention"]["self"]
        assert (attention_a - attention_b).abs().max() > 0.05, (a, b)


def test_attention_sharpens_during_training(records):
    """Random weights attend near uniformly (entropy 1); training makes the heads pick keys."""
    entropy = {n: record_head_stats(records[n])["self"].stats["entropy"] for n in NAMES}
    assert entropy["tinylm_step0"].min() > 0.99  # (layers, heads)
    assert entropy["tinylm_step50"].mean() < 0.97
    for name in ("tinylm_step200", "tinylm_seed1", "tinylm_seed2"):
        assert entropy[name].mean() < 0.75, name
    assert entropy["tinylm_step200"].mean() < entropy["tinylm_step50"].mean() - 0.15


def test_loads_through_transformers_and_generates(demo_model_dir, records):
    folder = demo_model_dir("tinylm_step200")
    model = transformers.AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    encoded = tokenizer(TEXT, return_tensors="pt")
    assert set(encoded) == {"input_ids", "attention_mask"}  # no token_type_ids for Llama
    with torch.no_grad():
        out = model(**encoded, output_attentions=True)
        generated = model.generate(**encoded, max_new_tokens=20, do_sample=False)
    expected = torch.stack([layer[0] for layer in out.attentions])  # (layers, heads, n, n)
    torch.testing.assert_close(records["tinylm_step200"]["attention"]["self"], expected)
    assert model.generation_config.eos_token_id == tokenizer.sep_token_id
    assert generated[0, -1] == tokenizer.sep_token_id  # a whole sentence, then [SEP]: stop


def test_each_run_has_a_model_config():
    for name in NAMES:
        assert name in DEMO_MODELS
        conf = OmegaConf.load(CONF_DIR / "model" / f"{name}.yaml")
        assert (conf[name].architecture, conf[name].demo) == ("decoder", name)
