"""GGUF models: a GGUF file converted once into an HF folder, cached by the file's hash.

Dequantising takes a while (about 50 s for Gemma 3 270M on a 2-core CPU), so the folder is kept
under `$ATTNVIZ_CACHE` (default `~/.cache/attnviz`) in `gguf/<sha256 of the file>/` and loaded
through the ordinary `from_pretrained` path from then on. The same file gives the same folder
for every sweep and checkout; a changed file gets a new one. A lock keeps two jobs from
converting the same file at once, and the folder appears whole or not at all.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

from attnviz.errors import AttnvizError


def cache_dir() -> Path:
    """Where converted GGUF models are kept."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attnviz"
    return Path(os.environ.get("ATTNVIZ_CACHE", default)).expanduser()


@cache
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file (computed once per process while the file is unchanged)."""
    stat = os.stat(path)
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def gguf_folder(folder: str | os.PathLike, gguf_file: str) -> Path:
    """The HF folder converted from `folder/gguf_file`, converting it on first use."""
    path = Path(folder).expanduser() / gguf_file
    if not path.is_file():
        raise AttnvizError(f"GGUF file {path} does not exist; fix path/gguf_file in conf/model/")
    out = cache_dir() / "gguf" / file_sha256(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another job converting it: wait, then reuse
        if not (out / "config.json").is_file():
            tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
            tmp.chmod(0o755)  # a folder like any other, not mkdtemp's private one
            try:
                convert_gguf(path, tmp)
                os.replace(tmp, out)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    return out


def convert_gguf(path: Path, out: Path) -> None:
    """Dequantise a GGUF causal LM into float32 weights and save it with its tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"attnviz: converting {path} into {out} (once)", flush=True)
    gguf = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    config = gguf.config
    del config.quantization_config  # save_pretrained refuses a GGUF-loaded model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf.state_dict(), strict=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
