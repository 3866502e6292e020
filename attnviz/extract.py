"""Running a model on prompts and capturing the attention it computes, as records.

One record per prompt. Generation (decoder models with `max_new_tokens`, encoder-decoder models
without a target) runs first without capture; then one forward pass over the whole sequence
is captured layer by layer (attnviz.capture). With causal attention, row i of that pass is
exactly what the model computed for token i while generating, so every view of a generated
prompt (source, generated -> source, generated) comes from one record.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch

from attnviz import config as configs
from attnviz.capture import Selection, captured_forward
from attnviz.config import ExtractConfig, ModelConfig, PromptConfig, check_prompt_fits
from attnviz.errors import AttnvizError
from attnviz.families import check_family
from attnviz.models import load_model
from attnviz.provenance import model_meta, prompt_sha256, request_sha256, weights_sha256
from attnviz.record import SCHEMA_VERSION, load_record, save_record
from attnviz.reduce import long_spec

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


def decoded_offsets(tokenizer, ids: Sequence[int]) -> tuple[str, list[list[int]]]:
    """The text `ids` decode to, and each token's [start, end) characters in it."""
    offsets, previous = [], ""
    for i in range(len(ids)):
        text = tokenizer.decode(list(ids[: i + 1]))
        offsets.append([len(previous), len(text)])
        previous = text
    return previous, offsets


def max_positions(model) -> int | None:
    """How many positions the model's embeddings have (None: relative positions, no limit)."""
    config = model.config
    for key in ("max_position_embeddings", "n_positions", "max_target_positions"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _encode(tokenizer, model, prompt: PromptConfig, new_tokens: int, truncate: bool):
    """Tokenize the prompt; longer than the model's positions is an error unless `truncate`."""
    texts = (prompt.text,) if prompt.text is not None else (prompt.question, prompt.context)
    options = dict(return_tensors="pt", return_special_tokens_mask=True)
    if getattr(tokenizer, "is_fast", False):
        options["return_offsets_mapping"] = True
    encoded = tokenizer(*texts, **options)
    limit = max_positions(model)
    length = encoded["input_ids"].shape[1]
    if limit is not None and length + new_tokens > limit:
        if not truncate:
            raise AttnvizError(
                f"prompt '{prompt.id}' has {length} tokens (+{new_tokens} to generate), more "
                f"than the model's {limit} positions; shorten it or set extract.truncate: true"
            )
        encoded = tokenizer(*texts, truncation=True, max_length=limit - new_tokens, **options)
    return encoded


@dataclass
class _Prepared:
    """One prompt, tokenized (and continued), ready for the captured forward pass."""

    prompt: PromptConfig
    ids: torch.Tensor  # (n,) input side, with generated tokens for decoders
    special: torch.Tensor  # (n,) bool
    offsets: list | None
    segments: dict
    new_tokens: int
    token_type_ids: torch.Tensor | None = None  # (n,)
    target: torch.Tensor | None = None  # (t,) decoder side of an encoder-decoder model
    target_special: torch.Tensor | None = None
    target_offsets: list | None = None
    texts: dict = field(default_factory=dict)  # generated_text / target_text


def _prepare(model, tokenizer, prompt, architecture, settings) -> _Prepared:
    """Tokenize one prompt; generate its continuation or decoder side where it asks for one."""
    check_prompt_fits(prompt, architecture)
    device = next(model.parameters()).device
    if architecture == "encoder_decoder" and prompt.target is None:
        new_tokens = prompt.max_new_tokens or settings.max_new_tokens
    else:
        new_tokens = prompt.max_new_tokens or 0
    encoded = _encode(tokenizer, model, prompt, new_tokens, settings.truncate)
    ids = encoded["input_ids"].to(device)  # (1, n)
    mask = encoded["attention_mask"].to(device)
    item = _Prepared(
        prompt=prompt,
        ids=ids[0],
        special=encoded["special_tokens_mask"][0].bool(),
        offsets=encoded["offset_mapping"][0].tolist() if "offset_mapping" in encoded else None,
        segments={},
        new_tokens=new_tokens,
        token_type_ids=encoded["token_type_ids"][0] if "token_type_ids" in encoded else None,
    )
    if prompt.question is not None:
        item.segments["question_end"] = encoded.sequence_ids(0).index(1)
    with torch.no_grad():
        if architecture == "encoder_decoder":
            item.target = _decoder_input(model, tokenizer, prompt, ids, mask, new_tokens, settings)[
                0
            ]
            item.target_special = _special_mask(tokenizer, item.target)
            text, item.target_offsets = decoded_offsets(tokenizer, item.target.tolist())
            item.texts["target_text"] = text
        elif new_tokens:
            sequence = _generate(model, ids, mask, new_tokens, settings)[0]  # (n + generated,)
            generated = sequence[len(item.ids) :]
            item.segments["source_end"] = len(item.ids)
            text, gen_offsets = decoded_offsets(tokenizer, generated.tolist())
            item.texts["generated_text"] = text
            # a slow tokenizer gives no prompt offsets: then the record has none at all
            item.offsets = item.offsets + gen_offsets if item.offsets is not None else None
            item.special = torch.cat([item.special, _special_mask(tokenizer, generated)])
            item.ids = sequence
    return item


def _pad(rows: list[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-d tensors into (batch, longest) values and a 0/1 attention mask."""
    longest = max(len(r) for r in rows)
    values = torch.zeros(len(rows), longest, dtype=torch.long, device=device)
    mask = torch.zeros(len(rows), longest, dtype=torch.long, device=device)
    for i, r in enumerate(rows):
        values[i, : len(r)] = r
        mask[i, : len(r)] = 1
    return values, mask


def extract_records(
    model,
    tokenizer,
    prompts: Sequence[PromptConfig],
    architecture: str,
    settings: ExtractConfig,
    meta: dict,
) -> list[dict]:
    """Run `model` on prompts, captured in one right-padded forward pass; one record each."""
    configs.check_extract(settings, "extract")
    check_family(model.config)  # before anything runs
    device = next(model.parameters()).device
    items = [_prepare(model, tokenizer, p, architecture, settings) for p in prompts]
    ids, mask = _pad([item.ids for item in items], device)  # (batch, n)
    inputs = dict(input_ids=ids, attention_mask=mask)
    if architecture == "encoder" and items[0].token_type_ids is not None:
        inputs["token_type_ids"] = _pad([item.token_type_ids for item in items], device)[0]
    if architecture == "encoder_decoder":
        targets, target_mask = _pad([item.target for item in items], device)
        inputs.update(decoder_input_ids=targets, decoder_attention_mask=target_mask)
    if getattr(model.config, "use_cache", None) is not None:
        inputs["use_cache"] = False  # no KV cache to keep
    positions = [_positions(settings, item) for item in items]
    selection = Selection(
        settings.layers, settings.heads, settings.head_mean, _STORAGE[settings.storage_dtype]
    )
    long = [
        long_spec(settings, kept, architecture, item.segments, item.special, item.target_special)
        for item, kept in zip(items, positions, strict=True)
    ]
    keys = {"self": ids.shape[1], "encoder": ids.shape[1], "cross": ids.shape[1]}
    if architecture == "encoder_decoder":
        keys["decoder"] = inputs["decoder_input_ids"].shape[1]
    capture = captured_forward(model, architecture, selection, positions, keys, inputs, long)
    made_by = model_meta(model, tokenizer, architecture, device)
    return [
        _record(item, tokenizer, attention, kept, capture, {**meta, **made_by}, settings)
        for item, attention, kept in zip(items, capture.attention, positions, strict=True)
    ]


def extract_record(model, tokenizer, prompt, architecture, settings, meta) -> dict:
    """Run `model` on one prompt and return its record (see attnviz.record)."""
    return extract_records(model, tokenizer, [prompt], architecture, settings, meta)[0]


def _record(item: _Prepared, tokenizer, attention, kept, capture, meta, settings) -> dict:
    main = "encoder" if item.target is not None else "self"
    keep = kept[main][0]
    record = _side("", tokenizer, item.ids, item.special, item.offsets, keep)
    if item.target is not None:
        keep_target = kept["decoder"][0]
        record.update(
            _side(
                "target_",
                tokenizer,
                item.target,
                item.target_special,
                item.target_offsets,
                keep_target,
            )
        )
    record.update(item.texts)
    record["segments"] = _kept_segments(item.segments, keep)
    record["layers"], record["heads"] = capture.layers, capture.heads
    if any(isinstance(value, dict) for value in attention.values()):  # long: attnviz.reduce
        record["reduced"], attention = attention, {}
    record["attention"] = attention
    record["attention_scores"] = [x.unsqueeze(0) for x in attention.get(main, ())]  # (1, h, q, k)
    record["tokens_list"] = record["tokens"]
    prompt = asdict(item.prompt)
    record["meta"] = {
        **meta,
        "schema_version": SCHEMA_VERSION,
        "prompt_id": item.prompt.id,
        "prompt": prompt,
        "prompt_sha256": prompt_sha256(prompt),
        "settings": {**asdict(settings), "max_new_tokens": item.new_tokens},
    }
    return record


def _side(prefix, tokenizer, ids, special, offsets, keep) -> dict:
    """Tokens of one side (input, or `target_`) at the kept positions."""
    labels = display_tokens(tokenizer, ids.tolist())
    side = {
        f"{prefix}tokens": [labels[i] for i in keep.tolist()],
        f"{prefix}token_ids": ids.cpu()[keep],
        f"{prefix}special_tokens_mask": special[keep],
    }
    if offsets is not None:
        side[f"{prefix}offsets"] = torch.tensor(offsets, dtype=torch.long).reshape(-1, 2)[keep]
    return side


def _special_mask(tokenizer, ids: torch.Tensor) -> torch.Tensor:
    special = set(tokenizer.all_special_ids)
    return torch.tensor([i in special for i in ids.tolist()], dtype=torch.bool)


def _positions(settings: ExtractConfig, item: _Prepared) -> dict:
    """Rows and columns kept per section: the prompt's own tokens, less dropped specials."""

    def kept(special: torch.Tensor) -> torch.Tensor:
        if settings.special_tokens == "drop":
            return torch.nonzero(~special).flatten()
        return torch.arange(len(special))

    source = kept(item.special)
    if item.target is None:
        return {"self": (source, source)}
    target = kept(item.target_special)
    return {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}


def _kept_segments(segments: dict, keep: torch.Tensor) -> dict:
    """Segment boundaries counted in kept tokens."""
    return {name: int((keep < end).sum()) for name, end in segments.items()}


def _generate(model, ids, mask, new_tokens: int, settings: ExtractConfig) -> torch.Tensor:
    """Greedy (or seeded sampling) continuation; returns the whole sequence (1, n + new)."""
    options = dict(max_new_tokens=new_tokens, do_sample=settings.do_sample)
    if settings.do_sample:
        torch.manual_seed(settings.seed)
    pad = getattr(model.generation_config, "pad_token_id", None)
    if pad is None:
        options["pad_token_id"] = model.generation_config.eos_token_id
    return model.generate(input_ids=ids, attention_mask=mask, **options)


def _decoder_input(model, tokenizer, prompt, ids, mask, new_tokens, settings) -> torch.Tensor:
    """The decoder side: the target text shifted right, or generated tokens."""
    if prompt.target is not None:
        labels = tokenizer(text_target=prompt.target, return_tensors="pt")["input_ids"]
        labels = labels.to(ids.device)  # (1, t)
        if hasattr(model, "prepare_decoder_input_ids_from_labels"):
            return model.prepare_decoder_input_ids_from_labels(labels=labels)
        config = model.config  # a base model (T5Model, LEDModel): the same shift right
        start = torch.full_like(labels[:, :1], config.decoder_start_token_id)
        return torch.cat([start, labels[:, :-1]], dim=1)
    return _generate(model, ids, mask, new_tokens, settings)


def cached_record(path: str | os.PathLike, request: str, model: str) -> dict | None:
    """The record at `path` if it is whole, safe and made for `model` from the same request;
    else None."""
    if not os.path.exists(path):
        return None
    try:
        record = load_record(path, mmap=False)  # every tensor checked now
    except AttnvizError as exc:
        print(f"attnviz: not reusing {path}: {exc}")
        return None
    if record["meta"].get("request_sha256") != request or record["meta"].get("model") != model:
        print(f"attnviz: not reusing {path}: it was made from another model, prompt or settings")
        return None
    return record


def extract_prompt_set(
    name: str,
    model_cfg: ModelConfig,
    source: str,
    prompts: list[PromptConfig],
    settings: ExtractConfig,
    outputs: Sequence[str],
) -> None:
    """Load the model once and write one record per prompt to `outputs` (same order);
    a record already there from the same request is kept."""
    from tqdm import tqdm

    if len(prompts) != len(outputs):
        raise AttnvizError(f"{len(prompts)} prompts but {len(outputs)} output paths")
    meta = {
        "model": name,
        "source": source,
        "revision": model_cfg.revision,
        "weights_sha256": (
            weights_sha256(source, model_cfg.gguf_file) if model_cfg.hub_id is None else None
        ),
    }
    requests = [request_sha256(meta, p, settings) for p in prompts]
    todo = [
        (p, path, req)
        for p, path, req in zip(prompts, outputs, requests, strict=True)
        if cached_record(path, req, name) is None
    ]
    if not todo:
        return
    model, tokenizer = load_model(model_cfg, source, name)
    size = max(1, settings.batch_size)
    with tqdm(total=len(todo), desc=f"extract {name}", unit="prompt") as progress:
        for first in range(0, len(todo), size):
            batch = todo[first : first + size]
            records = extract_records(
                model, tokenizer, [p for p, _, _ in batch], model_cfg.architecture, settings, meta
            )
            for record, (_, path, request) in zip(records, batch, strict=True):
                record["meta"]["request_sha256"] = request
                save_record(record, path)
            progress.update(len(batch))
