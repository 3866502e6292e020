"""Loading a model and its tokenizer from a config: hub id, local folder or demo model.

Models are loaded with eager attention, so that the attention weights are the ones the model
computes (sdpa returns none, see peers.md), on the device and in the dtype the config asks for.
`trust_remote_code` stays off unless the model's config turns it on.
"""

from __future__ import annotations

from pathlib import Path

import torch

from attnviz.config import ModelConfig
from attnviz.errors import AttnvizError
from attnviz.gguf import gguf_folder

_AUTO_CLASS = {
    "encoder": "AutoModel",
    "decoder": "AutoModelForCausalLM",
    "encoder_decoder": "AutoModelForSeq2SeqLM",
}
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(device: str) -> torch.device:
    """`auto` is the GPU when torch sees one, else the CPU; `cuda` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise AttnvizError(
            "device 'cuda' was asked for but torch sees no GPU; set device: cpu or auto, "
            "or install a CUDA build of torch (see README)"
        )
    return torch.device(device)


def detect_architecture(config, names=()) -> str | None:
    """encoder / decoder / encoder_decoder from a transformers config (and class `names`), None
    if they do not say (a base model such as BertModel or LlamaModel could be either)."""
    if getattr(config, "is_encoder_decoder", False):
        return "encoder_decoder"
    names = [*(getattr(config, "architectures", None) or []), *names]
    if any(n.endswith(("ForCausalLM", "LMHeadModel")) for n in names):
        return "decoder"
    if any(n.endswith("ForMaskedLM") for n in names):
        return "encoder"
    return None


def model_architecture(model, input_ids: torch.Tensor) -> str:
    """The architecture of a model object, from its config and class, else from its own attention
    on `input_ids` (1, n): causal (nothing above the diagonal, n >= 2) is a decoder, anything
    else an encoder. Used where no architecture is given (a model made in code has no
    `config.architectures`)."""
    from attnviz.capture import Selection, captured_forward

    found = detect_architecture(model.config, [type(model).__name__])
    n = input_ids.shape[1]
    if found is not None:
        return found
    if n < 2:
        raise AttnvizError(
            f"cannot tell whether {type(model).__name__} is an encoder or a decoder from one "
            "token; pass architecture='encoder' or 'decoder'"
        )
    every = torch.arange(n)
    inputs = {"input_ids": input_ids.to(next(model.parameters()).device)}
    positions, selection = [{"self": (every, every)}], Selection(dtype=torch.float32)
    capture = captured_forward(model, "encoder", selection, positions, {"self": n}, inputs)
    above = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)
    causal = bool((capture.attention[0]["self"][..., above] == 0).all())  # (layers, heads, q, k)
    return "decoder" if causal else "encoder"


def load_model(cfg: ModelConfig, source: str, name: str = "model"):
    """Load (model, tokenizer) from `source` (a hub id or a folder) as `cfg` says
    (`cfg.architecture` "auto": the one the model's config declares)."""
    import transformers

    local = cfg.hub_id is None
    if cfg.gguf_file is not None:
        source = str(gguf_folder(source, cfg.gguf_file))  # converted once, then from_pretrained
    if local and not Path(source).is_dir():
        raise AttnvizError(
            f"model '{name}': folder {source} does not exist; fix its path in conf/model/ "
            "(or run the workflow, which builds the demo models)"
        )
    device = resolve_device(cfg.device)
    options = dict(
        revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, local_files_only=local
    )
    try:
        config = transformers.AutoConfig.from_pretrained(source, **options)
    except (OSError, ValueError) as exc:
        raise AttnvizError(
            f"model '{name}': cannot load a config from '{source}' "
            f"({str(exc).splitlines()[0][:160]}); check hub_id/path and revision"
        ) from None
    found = detect_architecture(config)
    architecture = found if cfg.architecture == "auto" else cfg.architecture
    if architecture is None:
        raise AttnvizError(
            f"model '{name}': cannot tell the architecture of '{source}'; give it as encoder, "
            "decoder or encoder_decoder"
        )
    if found is not None and found != architecture:
        raise AttnvizError(
            f"model '{name}' is declared {cfg.architecture} but '{source}' is an {found} "
            f"model; set architecture: {found} in its config"
        )
    auto_class = getattr(transformers, _AUTO_CLASS[architecture])
    dtype = "auto" if cfg.dtype == "auto" else _DTYPES[cfg.dtype]
    model = auto_class.from_pretrained(
        source, config=config, attn_implementation="eager", dtype=dtype, **options
    )
    tokenizer = transformers.AutoTokenizer.from_pretrained(source, **options)
    return model.to(device).eval(), tokenizer
