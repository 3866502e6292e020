"""What the workflow's jobs ask a cluster for: memory, GPUs. Plain arithmetic on config and
file sizes, evaluated by Snakemake when a job is about to be submitted (its inputs exist by
then), and again with a higher `attempt` when a failed job is retried: each retry asks for
proportionally more memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from attnviz.config import ExtractConfig, ModelConfig, PromptConfig

BASE_MB = 1024  # Python, torch and matplotlib themselves
HUB_MODEL_MB = 8192  # a hub model without mem_gb, not in the local HF cache: size unknown
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
# Loaded weights per byte on disk: float32 may widen half-precision files (x2), and loading
# holds a second copy briefly; half precision holds about what the files hold.
_LOAD_FACTOR = {"float32": 2.5, "auto": 2.5, "float16": 1.5, "bfloat16": 1.5}
CHARS_PER_TOKEN = 3  # a cautious guess without the tokenizer (English BPE averages about 4)
# A model shape when its config.json is not at hand: an 8B Llama
_LARGE = {"num_hidden_layers": 32, "num_attention_heads": 32, "hidden_size": 4096}


def weights_bytes(folder: str | os.PathLike) -> int:
    """The size of the weight files in a model folder (0 if there are none)."""
    root = Path(folder)
    if not root.is_dir():
        return 0
    return sum(f.stat().st_size for f in root.rglob("*") if f.suffix in WEIGHT_SUFFIXES)


def hub_cache_folder(hub_id: str) -> Path:
    """Where the Hugging Face hub cache keeps `hub_id`'s snapshots (HF_HUB_CACHE, HF_HOME)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    cache = Path(os.environ.get("HF_HUB_CACHE", home / "hub"))
    return cache / f"models--{hub_id.replace('/', '--')}" / "snapshots"


def extraction_mem_mb(
    model: ModelConfig,
    source: str,
    attempt: int = 1,
    prompts: list[PromptConfig] = (),
    settings: ExtractConfig | None = None,
) -> int:
    """Memory for the job that loads `model` from `source` and extracts the attention of
    `prompts`: `mem_gb` if the config gives it, else scaled from the weights on disk (a hub
    model's in the local HF cache, the largest snapshot; HUB_MODEL_MB if it is not there)
    plus what the longest prompt's capture holds (`attention_mb`); times `attempt`."""
    if model.mem_gb is not None:
        return int(model.mem_gb * 1024 * attempt)
    folder = Path(source)
    if model.hub_id is not None:
        snapshots = hub_cache_folder(model.hub_id)
        sizes = {weights_bytes(s): s for s in snapshots.iterdir()} if snapshots.is_dir() else {}
        if not any(sizes):
            return (HUB_MODEL_MB + attention_mb(None, prompts, settings)) * attempt
        size, folder = max(sizes.items())
    else:
        size = weights_bytes(source)
    weights = _LOAD_FACTOR[model.dtype] * size / 2**20
    return int((BASE_MB + weights + attention_mb(folder, prompts, settings)) * attempt)


def prompt_tokens(prompt: PromptConfig) -> int:
    """A cautious token count of a prompt from its characters (and what it generates)."""
    texts = (prompt.text, prompt.question, prompt.context, prompt.target)
    chars = sum(len(t) for t in texts if t)
    return chars // CHARS_PER_TOKEN + 2 + (prompt.max_new_tokens or 0)


def attention_mb(folder, prompts: list[PromptConfig], settings: ExtractConfig | None) -> int:
    """What capturing the longest of `prompts` holds besides the weights, in MB: a full
    record (layers x heads x n^2 in the storage dtype) up to `full_max_tokens`, else the
    reduced record and its float32 accumulators (layers x heads x map_size^2), plus the
    activations of n tokens (the model's shape from `folder`'s config.json)."""
    if not prompts:
        return 0
    settings = settings or ExtractConfig()
    shape = dict(_LARGE)
    config = Path(folder) / "config.json" if folder is not None else None
    if config is not None and config.is_file():
        found = json.loads(config.read_text())
        shape.update({key: found[key] for key in shape if isinstance(found.get(key), int)})
    layers = len(settings.layers) if settings.layers else shape["num_hidden_layers"]
    heads = len(settings.heads) if settings.heads else shape["num_attention_heads"]
    heads = 1 if settings.head_mean else heads
    n = max(prompt_tokens(p) for p in prompts)
    width = 2 if settings.storage_dtype == "float16" else 4
    if n <= settings.full_max_tokens:
        kept = layers * heads * n * n * width * settings.batch_size
    else:
        blocks = min(n, settings.map_size) ** 2
        kept = layers * (heads + 2) * blocks * (4 + width) + 2 * layers * heads * n * width
    activations = 24 * n * shape["hidden_size"] * 4  # hidden states, MLP, a chunk of weights
    return int((kept + activations) / 2**20)


def extraction_gpus(model: ModelConfig) -> int:
    """One GPU for a model whose config puts it on `cuda`, none otherwise."""
    return 1 if model.device == "cuda" else 0


def stats_mem_mb(records: list[str | os.PathLike], attempt: int = 1) -> int:
    """Memory for the head statistics of a prompt set: records are read one at a time, so
    the largest one counts."""
    sizes = {Path(r).stat().st_size: r for r in records if Path(r).exists()}
    return plot_mem_mb([sizes[max(sizes)]] if sizes else [], attempt)


def plot_mem_mb(records: list[str | os.PathLike], attempt: int = 1) -> int:
    """Memory for drawing figures of `records` (one, or the models of a comparison): their
    float16 attention becomes float32 arrays (x2), plus views and pooled images of them;
    times `attempt`."""
    size = sum(Path(r).stat().st_size for r in records if Path(r).exists())
    return int((BASE_MB + 6 * size / 2**20) * attempt)
