"""Running a model on prompts and capturing the attention it computes, as records."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict

import torch
import transformers

import attnviz
from attnviz.config import ExtractConfig, ModelConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.models import load_model
from attnviz.record import SCHEMA_VERSION, save_record

_STORAGE = {"float16": torch.float16, "float32": torch.float32}
_SPACE_MARKERS = ("Ġ", "▁")  # byte-level BPE and SentencePiece word starts


def display_tokens(tokenizer, ids: Sequence[int]) -> list[str]:
    """Readable labels: word-start markers removed, newlines and tabs shown as escapes."""
    labels = []
    special = set(tokenizer.all_special_ids)
    for tok_id, piece in zip(ids, tokenizer.convert_ids_to_tokens(list(ids)), strict=True):
        if tok_id in special or piece.startswith("##"):
            text = piece
        else:
            text = tokenizer.convert_tokens_to_string([piece])
        text = text.strip(" ").lstrip("".join(_SPACE_MARKERS))
        text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        labels.append(text if text else repr(piece)[1:-1] or "␣")
    return labels


def extract_record(
    model,
    tokenizer,
    prompt: PromptConfig,
    architecture: str,
    settings: ExtractConfig,
    meta: dict,
) -> dict:
    """Run `model` on one prompt and return its record (see attnviz.record)."""
    storage = _STORAGE[settings.storage_dtype]
    device = next(model.parameters()).device
    if prompt.text is None and architecture != "encoder":
        raise AttnvizError(
            f"prompt '{prompt.id}' is a question/context pair, which needs an encoder model; "
            "give it a text instead"
        )
    if prompt.target is not None and architecture != "encoder_decoder":
        raise AttnvizError(
            f"prompt '{prompt.id}' has a target text, which only an encoder-decoder model reads; "
            "remove target or use such a model"
        )
    texts = (prompt.text,) if prompt.text is not None else (prompt.question, prompt.context)
    encoded = tokenizer(*texts, return_tensors="pt", return_special_tokens_mask=True)
    ids = encoded["input_ids"].to(device)  # (1, n)
    mask = encoded["attention_mask"].to(device)
    record = {
        "tokens": display_tokens(tokenizer, ids[0].tolist()),
        "token_ids": ids[0].cpu(),
        "special_tokens_mask": encoded["special_tokens_mask"][0].bool(),
        "segments": _segments(encoded, prompt),
    }
    with torch.no_grad():
        if architecture == "encoder_decoder":
            target = _decoder_input(model, tokenizer, prompt, ids, mask, settings)  # (1, t)
            out = model(
                input_ids=ids,
                attention_mask=mask,
                decoder_input_ids=target,
                output_attentions=True,
            )
            attention = {
                "encoder": _stack(out.encoder_attentions, storage),
                "decoder": _stack(out.decoder_attentions, storage),
                "cross": _stack(out.cross_attentions, storage),
            }
            record["target_tokens"] = display_tokens(tokenizer, target[0].tolist())
            record["target_token_ids"] = target[0].cpu()
        else:
            kwargs = (
                {"token_type_ids": encoded["token_type_ids"].to(device)}
                if (architecture == "encoder" and "token_type_ids" in encoded)
                else {}
            )
            out = model(input_ids=ids, attention_mask=mask, output_attentions=True, **kwargs)
            attention = {"self": _stack(out.attentions, storage)}
    main = attention["encoder" if architecture == "encoder_decoder" else "self"]
    record["attention"] = attention
    record["attention_scores"] = [layer.unsqueeze(0) for layer in main]  # (1, heads, q, k) each
    record["tokens_list"] = record["tokens"]
    layers, heads = main.shape[:2]
    record["meta"] = {
        **meta,
        "schema_version": SCHEMA_VERSION,
        "architecture": architecture,
        "model_type": model.config.model_type,
        "tokenizer": type(tokenizer).__name__,
        "prompt_id": prompt.id,
        "prompt": asdict(prompt),
        "prompt_sha256": hashlib.sha256(
            json.dumps(asdict(prompt), sort_keys=True).encode()
        ).hexdigest(),
        "storage_dtype": settings.storage_dtype,
        "model_dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "device": device.type,
        "num_layers": int(layers),
        "num_heads": int(heads),
        "versions": {
            "attnviz": attnviz.__version__,
            "torch": str(torch.__version__),
            "transformers": str(transformers.__version__),
        },
    }
    return record


def _stack(per_layer, storage: torch.dtype) -> torch.Tensor:
    """The model's per-layer (1, heads, q, k) attentions as one (layers, heads, q, k) tensor."""
    if not per_layer or any(a is None for a in per_layer):
        raise AttnvizError(
            "the model returned no attention weights; load it with attn_implementation='eager'"
        )
    return torch.stack([a[0].to(device="cpu", dtype=storage) for a in per_layer])


def _segments(encoded, prompt: PromptConfig) -> dict:
    """Where the question ends in a question/context pair: the first context token."""
    if prompt.question is None:
        return {}
    return {"question_end": encoded.sequence_ids(0).index(1)}


def _decoder_input(model, tokenizer, prompt, ids, mask, settings) -> torch.Tensor:
    """The decoder side: the target text shifted right, or greedily generated tokens."""
    if prompt.target is not None:
        labels = tokenizer(text_target=prompt.target, return_tensors="pt")["input_ids"]
        return model.prepare_decoder_input_ids_from_labels(labels=labels.to(ids.device))
    n = settings.max_new_tokens
    return model.generate(
        input_ids=ids, attention_mask=mask, max_new_tokens=n, min_new_tokens=n, do_sample=False
    )


def extract_prompt_set(
    name: str,
    model_cfg: ModelConfig,
    source: str,
    prompts: list[PromptConfig],
    settings: ExtractConfig,
    outputs: Sequence[str],
) -> None:
    """Load the model once and write one record per prompt to `outputs` (same order)."""
    from tqdm import tqdm

    if len(prompts) != len(outputs):
        raise AttnvizError(f"{len(prompts)} prompts but {len(outputs)} output paths")
    model, tokenizer = load_model(model_cfg, source, name)
    meta = {"model": name, "source": source, "revision": model_cfg.revision}
    progress = tqdm(prompts, desc=f"extract {name}", unit="prompt")
    for prompt, path in zip(progress, outputs, strict=True):
        record = extract_record(model, tokenizer, prompt, model_cfg.architecture, settings, meta)
        save_record(record, path)
