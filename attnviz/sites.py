"""Where a model's attention weights come from: the modules whose output holds one layer's
weights, found from what transformers declares per model class (`_can_record_outputs`),
each with the section it belongs to (self, encoder, decoder, cross)."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn


@dataclass
class Site:
    """A module whose output holds one layer's attention weights."""

    section: str  # self | encoder | decoder | cross
    module: nn.Module
    index: int  # position of the weights in the module's output tuple


def _recorder_specs(model) -> list[tuple[str, type | None, str | None, int]]:
    """(key, module class, layer name, output index) from a model class's declarations."""
    from transformers.utils.output_capturing import OutputRecorder

    specs = []
    declared = getattr(type(model), "_can_record_outputs", None) or {}
    for key, entries in declared.items():
        if key not in ("attentions", "cross_attentions"):
            continue
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, OutputRecorder):
                specs.append((key, entry.target_class, entry.layer_name, entry.index))
            elif isinstance(entry, type):
                specs.append((key, entry, None, 1))
    return specs


def attention_sites(model, architecture: str) -> list[Site]:
    """The attention modules of `model`, in layer order, with the section each belongs to."""
    from transformers import PreTrainedModel

    encoder_ids = set()
    if architecture == "encoder_decoder":
        encoder_ids = {id(m) for m in model.get_encoder().modules()}
    found: list[tuple[str, nn.Module, int]] = []

    def walk(module: nn.Module, path: str, specs) -> None:
        if isinstance(module, PreTrainedModel):  # a (sub)model declares its own recorders
            specs = _recorder_specs(module) or specs
        for key, cls, layer_name, index in specs:
            named = layer_name is None or f".{layer_name.strip('.')}." in f"{path}."
            if cls is not None and isinstance(module, cls) and named:
                found.append((key, module, index))
        for name, child in module.named_children():
            walk(child, f"{path}.{name}", specs)

    walk(model, "", [])
    sites = []
    for key, module, index in found:
        if key == "cross_attentions":
            section = "cross"
        elif architecture == "encoder_decoder":
            section = "encoder" if id(module) in encoder_ids else "decoder"
        else:
            section = "self"
        sites.append(Site(section, module, index))
    return sites
