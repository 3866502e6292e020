"""Shared fixtures: the real demo models, built once into results/models (as `make` does)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO / "results" / "models"
ARCHITECTURES = {"minilm": "encoder", "smollm2": "decoder", "t5_tiny": "encoder_decoder"}

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_model_dir():
    """Return a function: demo name -> its folder, built on first use."""
    from attnviz.demo_models import prepare_demo_model

    def get(name: str) -> Path:
        return prepare_demo_model(name, MODELS_DIR / name)

    return get


@pytest.fixture(scope="session")
def demo_model(demo_model_dir):
    """Return a function: demo name -> (model, tokenizer) loaded through attnviz, cached."""
    from attnviz.config import ModelConfig
    from attnviz.models import load_model

    cache = {}

    def get(name: str):
        if name not in cache:
            cfg = ModelConfig(architecture=ARCHITECTURES[name], demo=name, device="cpu")
            cache[name] = load_model(cfg, str(demo_model_dir(name)), name)
        return cache[name]

    return get
