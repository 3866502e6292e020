"""Layer-by-layer attention capture with forward hooks.

transformers (5.x) declares, per model class, which modules produce attention weights and at
which position of their output (`_can_record_outputs`: "attentions", "cross_attentions"); its
own `output_attentions=True` collects them there, and keeps every layer's fp32 tensor alive
until the forward ends. attnviz hooks the same modules, first in line: each layer's weights are
reduced (layers, heads, tokens kept) and copied into a preallocated tensor of the storage dtype
as soon as the layer finishes, and `None` is handed on in their place, so no layer's weights
outlive that layer. Models are switched to eager attention for the capture (sdpa and flash
attention compute no weights) and switched back afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from attnviz.errors import AttnvizError


@dataclass
class Site:
    """A module whose output holds one layer's attention weights."""

    section: str  # self | encoder | decoder | cross
    module: nn.Module
    index: int  # position of the weights in the module's output tuple


@dataclass
class Selection:
    """What to keep of each section: layers, heads (or their mean), and token positions."""

    layers: Sequence[int] | None = None  # None: every layer; negative counts from the end
    heads: Sequence[int] | None = None  # None: every head
    head_mean: bool = False  # keep only the mean over the selected heads
    dtype: torch.dtype = torch.float16


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


class AttentionCapture:
    """Capture the attention of every site during the forward passes run inside `with`.

    `positions` maps a section to (row indices, column indices) to keep, or None for all.
    After the block, `attention` maps each section to a (layers, heads, q, k) tensor on the CPU
    (heads is 1 with `head_mean`).
    """

    def __init__(self, model, architecture: str, selection: Selection, positions=None):
        self.model = model
        self.selection = selection
        self.positions = positions or {}
        self.sites = attention_sites(model, architecture)
        self.attention: dict[str, torch.Tensor] = {}
        self.layers: dict[str, list[int]] = {}  # section -> layer indices kept
        self.heads: dict[str, list[int]] = {}  # section -> head indices kept
        self._handles = []
        self._seen: dict[str, int] = {}
        self._implementation = None

    def __enter__(self):
        if not self.sites:
            raise AttnvizError(
                f"{type(self.model).__name__} declares no attention modules to capture "
                "(_can_record_outputs); load it with transformers >= 5 built-in code"
            )
        config = self.model.config
        if getattr(config, "_attn_implementation", "eager") != "eager":
            self._implementation = config._attn_implementation
            self.model.set_attn_implementation("eager")  # sdpa/flash compute no weights
        counts: dict[str, int] = {}
        for site in self.sites:
            counts[site.section] = counts.get(site.section, 0) + 1
        self.layers = {
            section: _resolve(self.selection.layers, n, "layer", section)
            for section, n in counts.items()
        }
        for site in self.sites:
            hook = self._hook(site)
            self._handles.append(site.module.register_forward_hook(hook, prepend=True))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if self._implementation is not None:
            self.model.set_attn_implementation(self._implementation)
        return False

    def _hook(self, site: Site):
        section = site.section

        def take(module, args, output):
            weights = output[site.index]  # (batch, heads, q, k), this layer only
            if weights is None:
                raise AttnvizError(
                    f"{type(module).__name__} returned no attention weights; load the model "
                    "with attn_implementation='eager'"
                )
            layer = self._seen.get(section, 0)
            self._seen[section] = layer + 1
            if layer in self.layers[section]:
                self._store(section, self.layers[section].index(layer), weights[0])
            replaced = list(output)
            replaced[site.index] = None  # nobody else keeps this layer's weights
            return tuple(replaced)

        return take

    def _store(self, section: str, slot: int, weights: torch.Tensor) -> None:
        heads = _resolve(self.selection.heads, weights.shape[0], "head", section)
        self.heads[section] = heads
        if heads != list(range(weights.shape[0])):
            weights = weights[heads]  # (heads kept, q, k)
        rows, cols = self.positions.get(section) or (None, None)
        if rows is not None:
            weights = weights[:, rows.to(weights.device)]
        if cols is not None:
            weights = weights[:, :, cols.to(weights.device)]
        if self.selection.head_mean:
            weights = weights.float().mean(0, keepdim=True)  # (1, q, k)
        if section not in self.attention:
            shape = (len(self.layers[section]), *weights.shape)
            self.attention[section] = torch.zeros(shape, dtype=self.selection.dtype)
        self.attention[section][slot].copy_(weights)  # converts to the storage dtype


def _resolve(chosen: Sequence[int] | None, n: int, what: str, section: str) -> list[int]:
    """Indices chosen from range(n), negative ones from the end; out of range is an error."""
    if chosen is None:
        return list(range(n))
    for index in chosen:
        if not -n <= index < n:
            raise AttnvizError(
                f"{what} index {index} is out of range: the {section} attention has {n} "
                f"{what}s (0..{n - 1}); fix extract.{what}s"
            )
    return sorted({index % n for index in chosen})
