"""Shared fixtures: the real demo models, built once into results/models (as `make` does)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "results" / "models"
ARCHITECTURES = {
    "minilm": "encoder",
    "smollm2": "decoder",
    "t5_tiny": "encoder_decoder",
    "bart_tiny": "encoder_decoder",
    "gpt2_tiny": "decoder",
    "llama_tiny": "decoder",
}


def workflow_command(workdir: Path, *args: str) -> list[str]:
    """`snakemake` on the repository's workflow in `workdir`, the demo models shared through a
    symlink (nothing is built twice)."""
    (workdir / "results").mkdir(exist_ok=True)
    link = workdir / "results" / "models"
    if not link.exists():
        link.symlink_to(MODELS_DIR, target_is_directory=True)
    snakefile = str(REPO / "Snakefile")
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        snakefile,
        "--directory",
        str(workdir),
        *args,
    ]


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_model_dir():
    """Return a function: demo name -> its folder, built on first use."""
    from attnviz.demo_models import prepare_demo_model

    def get(name: str) -> Path:
        return prepare_demo_model(name, MODELS_DIR / name)

    return get


def _build_tiny(name: str, out: Path) -> Path:
    """A small random model of another family, saved with MiniLM's tokenizer."""
    import torch
    import transformers as tf

    from attnviz.demo_models import package_dir

    tokenizer = tf.AutoTokenizer.from_pretrained(
        package_dir("minilm") / "model", model_input_names=["input_ids", "attention_mask"]
    )
    vocab = len(tokenizer)
    torch.manual_seed(0)
    if name == "bart_tiny":
        config = tf.BartConfig(
            vocab_size=vocab,
            d_model=64,
            encoder_layers=2,
            decoder_layers=2,
            encoder_attention_heads=4,
            decoder_attention_heads=4,
            encoder_ffn_dim=128,
            decoder_ffn_dim=128,
            max_position_embeddings=128,
            pad_token_id=0,
            bos_token_id=101,
            eos_token_id=102,
            decoder_start_token_id=101,
        )
        model = tf.BartForConditionalGeneration(config)
    elif name == "gpt2_tiny":
        config = tf.GPT2Config(vocab_size=vocab, n_embd=64, n_layer=2, n_head=4, n_positions=64)
        model = tf.GPT2LMHeadModel(config)
    else:  # llama_tiny: rotary positions, grouped-query attention
        config = tf.LlamaConfig(
            vocab_size=vocab,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
        )
        model = tf.LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def model_dir(demo_model_dir, tmp_path_factory):
    """Return a function: model name (demo or tiny) -> its folder."""
    tiny = tmp_path_factory.mktemp("tiny_models")

    def get(name: str) -> Path:
        if name.endswith("_tiny") and name != "t5_tiny":
            return (tiny / name) if (tiny / name).exists() else _build_tiny(name, tiny / name)
        return demo_model_dir(name)

    return get


@pytest.fixture(scope="session")
def demo_model(model_dir):
    """Return a function: model name -> (model, tokenizer) loaded through attnviz, cached."""
    from attnviz.config import ModelConfig
    from attnviz.models import load_model

    cache = {}

    def get(name: str):
        if name not in cache:
            path = str(model_dir(name))
            cfg = ModelConfig(architecture=ARCHITECTURES[name], path=path, device="cpu")
            cache[name] = load_model(cfg, path, name)
        return cache[name]

    return get
