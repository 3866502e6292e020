"""Provenance of a record: the model, weights, prompt and settings it was made from (hashes
that decide whether a record on disk can be reused, and what the report lists)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch
import transformers

import attnviz
from attnviz.config import ExtractConfig, PromptConfig
from attnviz.gguf import file_sha256
from attnviz.record import request_sha256 as record_request_sha256


def model_meta(model, tokenizer, architecture: str, device: torch.device) -> dict:
    """What a record says of the model that made it: architecture, type, tokenizer, dtype,
    device and library versions."""
    config = model.config
    return {
        "architecture": architecture,
        "model_type": config.model_type,
        "name_or_path": str(getattr(config, "name_or_path", "")),
        "commit_hash": getattr(config, "_commit_hash", None),
        "tokenizer": f"{type(tokenizer).__name__}:{len(tokenizer)}",
        "model_dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "device": device.type,
        "versions": {
            "attnviz": attnviz.__version__,
            "torch": str(torch.__version__),
            "transformers": str(transformers.__version__),
        },
    }


def prompt_sha256(value) -> str:
    """sha256 of a prompt (a dict) as sorted JSON."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def weights_sha256(folder: str | os.PathLike, gguf_file: str | None = None) -> str | None:
    """A hash of a local model folder's weight files, or of its GGUF file (None for a hub id)."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if gguf_file is not None:
        return file_sha256(folder / gguf_file)
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(path.name.encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()


def request_sha256(meta: dict, prompt: PromptConfig, settings: ExtractConfig) -> str:
    """What a record was made from: model identity, prompt and settings. A cached record is
    reused only if its request hash equals the new request's."""
    return record_request_sha256(meta, asdict(prompt), asdict(settings))
