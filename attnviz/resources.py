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
HUB_MODEL_MB = 8192  # a hub model without mem_gb: its size is unknown before the download
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


def extraction_mem_mb(model: ModelConfig, source: str, attempt: int = 1) -> int:
    """Memory for the job that loads `model` from `source` and extracts its attention:
    `mem_gb` if the config gives it, else scaled from the weights on disk; times `attempt`."""
    if model.mem_gb is not None:
        need = model.mem_gb * 1024
    elif model.hub_id is not None:
        need = HUB_MODEL_MB
    else:
        need = BASE_MB + _LOAD_FACTOR[model.dtype] * weights_bytes(source) / 2**20
    return int(need * attempt)


def extraction_gpus(model: ModelConfig) -> int:
    """One GPU for a model whose config puts it on `cuda`, none otherwise."""
    return 1 if model.device == "cuda" else 0


def plot_mem_mb(records: list[str | os.PathLike], attempt: int = 1) -> int:
    """Memory for drawing figures of `records` (one, or the models of a comparison): their
    float16 attention becomes float32 arrays (x2), plus views and pooled images of them;
    times `attempt`."""
    size = sum(Path(r).stat().st_size for r in records if Path(r).exists())
    return int((BASE_MB + 6 * size / 2**20) * attempt)
