"""What the workflow's jobs ask a cluster for: memory, GPUs. Plain arithmetic on config and
file sizes, evaluated by Snakemake when a job is about to be submitted (its inputs exist by
then), and again with a higher `attempt` when a failed job is retried: each retry asks for
proportionally more memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from attnviz.config import ModelConfig

BASE_MB = 1024  # Python, torch and matplotlib themselves
HUB_MODEL_MB = 8192  # a hub model without mem_gb, not in the local HF cache: size unknown
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")
# Loaded weights per byte on disk: float32 may widen half-precision files (x2), and loading
# holds a second copy briefly; half precision holds about what the files hold.
_LOAD_FACTOR = {"float32": 2.5, "auto": 2.5, "float16": 1.5, "bfloat16": 1.5}


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


def extraction_mem_mb(model: ModelConfig, source: str, attempt: int = 1) -> int:
    """Memory for the job that loads `model` from `source` and extracts its attention:
    `mem_gb` if the config gives it, else scaled from the weights on disk (a hub model's in
    the local HF cache, the largest snapshot; HUB_MODEL_MB if it is not there); times
    `attempt`."""
    if model.mem_gb is not None:
        return int(model.mem_gb * 1024 * attempt)
    if model.hub_id is not None:
        snapshots = hub_cache_folder(model.hub_id)
        sizes = [weights_bytes(s) for s in snapshots.iterdir()] if snapshots.is_dir() else []
        if not any(sizes):
            return HUB_MODEL_MB * attempt
        size = max(sizes)
    else:
        size = weights_bytes(source)
    return int((BASE_MB + _LOAD_FACTOR[model.dtype] * size / 2**20) * attempt)


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
