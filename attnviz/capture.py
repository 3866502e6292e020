"""Layer-by-layer attention capture.

Two ways, both giving the numbers of the model's eager attention:

- Row chunks (every built-in model of transformers 5): attnviz registers an attention
  implementation, "attnviz" (attnviz.chunked_attention), that runs the model family's own
  `eager_attention_forward` on chunks of query rows (slicing the mask and any position bias
  alike). Each chunk's weights are reduced
  (layers, heads, tokens kept, or the head mean) and copied into a preallocated tensor of the
  storage dtype at once, so not even one layer's (heads, q, k) fp32 weights exist at a time.
- Long prompts (a `LongSpec` per batch element): each chunk is folded into head statistics,
  pooled maps and top cells (attnviz.reduce) on its own device instead of being stored, and a
  causal chunk's keys stop after its last row (the rest are masked: zero weight, no work).
  A plain softmax family's attention is computed by attnviz.softmax_rows, faster.
- Hooks: transformers declares per model class which modules produce attention weights
  (`_can_record_outputs`, found by attnviz.sites); its own `output_attentions=True` keeps
  every layer's tensor alive until the forward ends. attnviz hooks those modules first in
  line, takes the weights of a layer as it finishes and hands `None` on, so nobody keeps
  them. This serves models whose family has no eager function to chunk; a model that declares
  no modules at all is read from its outputs.

The model is switched to the implementation for the capture and back afterwards (sdpa and
flash attention compute no weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch

from attnviz.chunked_attention import ACTIVE, family_eager
from attnviz.errors import AttnvizError
from attnviz.families import block_length, block_rows, check_weights
from attnviz.reduce import LongSpec, SectionReducer
from attnviz.sites import Site, attention_sites


@dataclass
class Selection:
    """What to keep of each section: layers, heads (or their mean), and token positions."""

    layers: Sequence[int] | None = None  # None: every layer; negative counts from the end
    heads: Sequence[int] | None = None  # None: every head
    head_mean: bool = False  # keep only the mean over the selected heads
    dtype: torch.dtype = torch.float16


class AttentionCapture:
    """Capture the attention of every site during the forward pass run inside `with`.

    `positions` holds, per batch element, {section: (row indices, column indices)} to keep:
    the element's own tokens (not its padding), less any dropped special tokens; `keys` the
    padded key length of each section. After the block, `attention[b]` maps each section to a
    (layers, heads, q, k) tensor on the CPU (heads is 1 with `head_mean`); `layers` and `heads`
    give the indices kept.

    Layers are counted by call, not by module: a module the model runs for several layers
    (ALBERT shares one across all) gives one layer per call. `counts` is the number of layers
    per section (default: one per attention module); when the model ran more calls than that,
    `rerun` is set after the block, and a capture with `counts=calls` gets every layer.
    An element with a `long` spec is reduced instead (attnviz.reduce): its `attention[b]`
    maps each section to what `SectionReducer.result` gives.
    """

    def __init__(
        self,
        model,
        architecture: str,
        selection: Selection,
        positions: list[dict],
        keys: dict[str, int] | None = None,
        counts: dict[str, int] | None = None,
        long: list[LongSpec | None] | None = None,
    ):
        self.model = model
        self.selection = selection
        self.positions = positions
        self.keys = keys or {}
        self.long = long or [None] * len(positions)  # per element: reduce it (attnviz.reduce)
        self.long_prompts = any(spec is not None for spec in self.long)
        self.sites = attention_sites(model, architecture)
        self.attention: list[dict[str, torch.Tensor]] = [{} for _ in positions]
        self.layers: dict[str, list[int]] = {}  # section -> layer indices kept
        self.heads: dict[str, list[int]] = {}  # section -> head indices kept
        self.counts = counts
        self.calls: dict[str, int] = {}  # section -> attention calls so far
        self.rerun = False
        self._filled: set[tuple[str, int]] = set()
        self._counts: dict[str, int] = {}  # section -> the model's layers
        self._head_counts: dict[str, int] = {}  # section -> the model's heads
        self._section: dict[int, str] = {}  # id(module) -> section of its site
        self._block = block_length(model.config)
        self._handles = []
        self._implementation = None
        self._token = None
        self.masks: dict = {}  # id(mask) -> (mask, exactly causal?), for attnviz.softmax_rows
        self.buffers: dict = {}  # name -> tensor, attnviz.softmax_rows's from layer to layer

    def __enter__(self):
        counts: dict[str, int] = {}
        for site in self.sites:
            counts[site.section] = counts.get(site.section, 0) + 1
            for module in site.module.modules():  # the site and the attention inside it
                self._section[id(module)] = site.section
        self.counts = self.counts or counts
        self._choose_layers(self.counts)
        for site in self.sites:
            self._handles.append(site.module.register_forward_hook(self._hook(site), prepend=True))
            self._handles.append(
                site.module.register_forward_pre_hook(self._count(site.section), prepend=True)
            )
        self._implementation = self.model.config._attn_implementation
        chunkable = self.sites and all(
            any(family_eager(m) is not None for m in site.module.modules()) for site in self.sites
        )
        self.model.set_attn_implementation("attnviz" if chunkable else "eager")
        self._token = ACTIVE.set(self)
        return self

    def _choose_layers(self, counts: dict[str, int]) -> None:
        self._counts = dict(counts)
        self.layers = {
            section: _resolve(self.selection.layers, n, "layer", section)
            for section, n in counts.items()
        }

    def take_outputs(self, outputs) -> None:
        """For a model that declares no attention modules: take what its forward returned
        (every layer at once, so memory is not bounded as with the declared modules)."""
        if self.sites:
            return
        fields = {
            "self": "attentions",
            "encoder": "encoder_attentions",
            "decoder": "decoder_attentions",
            "cross": "cross_attentions",
        }
        found = {
            section: getattr(outputs, name)
            for section, name in fields.items()
            if getattr(outputs, name, None)
        }
        if "encoder" in found:
            found.pop("self", None)
        self.counts = {section: len(layers) for section, layers in found.items()}
        self._choose_layers(self.counts)
        for section, layers in found.items():
            for weights in layers:
                self.calls[section] = self.calls.get(section, 0) + 1
                self._take(section, weights, 0)

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        ACTIVE.reset(self._token)
        self.masks.clear()  # the forward pass's masks and working memory are not kept past it
        self.buffers.clear()
        self.model.set_attn_implementation(self._implementation)
        if exc[0] is None:
            self.rerun = any(self.calls.get(s, 0) > n for s, n in self.counts.items())
            missing = [
                f"{section} layer {layer}"
                for section, layers in self.layers.items()
                for layer in layers
                if (section, layer) not in self._filled
            ]
            if (missing and not self.rerun) or not self.layers:
                raise AttnvizError(
                    f"no attention weights came from {', '.join(missing[:3]) or 'the model'}; "
                    "it does not compute them (load it with attn_implementation='eager')"
                )
            for b, spec in enumerate(self.long):  # long elements: their reduced sections
                if spec is not None:
                    self.attention[b] = self.reduced(b, self.selection.dtype)
        return False

    def _count(self, section: str):
        def count_call(module, args):
            self.calls[section] = self.calls.get(section, 0) + 1

        return count_call

    def _hook(self, site: Site):
        def take_output(module, args, output):
            weights = output[site.index]  # (batch, heads, q, k) unless the chunks took them
            if weights is not None:
                self.take(module, weights, 0)
                replaced = list(output)
                replaced[site.index] = None  # nobody else keeps this layer's weights
                return tuple(replaced)
            return None

        return take_output

    def whole(self, module) -> bool:
        """Is the capture one long prompt reduced whole (every row, key and head)?"""
        if len(self.positions) != 1 or self.long[0] is None or self.selection.heads is not None:
            return False
        rows, cols = self.positions[0][self._section[id(module)]]
        return not self.selection.head_mean and len(rows) == len(cols) == int(rows[-1]) + 1

    def folder(self, module, heads: int):
        """For a `whole` long prompt: the `fold` of its reducer (attnviz.reduce) bound to the
        layer that is running, which reads each head's weights while they are in cache; None
        when that layer is not kept."""
        section = self._section[id(module)]
        slot = self._slot(section)
        if slot is None:
            return None
        self.heads[section], self._head_counts[section] = list(range(heads)), heads
        n = len(self.positions[0][section][0])
        return partial(self._reducer(0, section, heads, (n, n)).fold, slot)

    def _slot(self, section: str) -> int | None:
        """Where the layer of `section` whose call is running (or, from outputs, ended) is
        stored; None when it is not kept."""
        layer = self.calls[section] - 1
        return self.layers[section].index(layer) if layer in self.layers[section] else None

    def take(self, module, weights: torch.Tensor, start: int, given=None) -> None:
        """Store rows start:start+rows of the current layer's weights (batch, heads, rows, k)
        (`given`: their attnviz.statistics.RowSums, for a `whole` long prompt)."""
        self._take(self._section[id(module)], weights, start, given)

    def _take(self, section: str, weights: torch.Tensor, start: int, given=None) -> None:
        if weights.dim() == 5 and self._block is not None and section in ("self", "encoder"):
            for first, rows in block_rows(weights, self._block, self.keys[section]):
                self._take(section, rows, first)  # (batch, heads, block, k)
            return
        if section in self.keys:  # long prompts: a causal chunk's keys stop after its rows
            least = min(self.keys[section], start + weights.shape[2])
            check_weights(
                self.model.config, weights, least if self.long_prompts else self.keys[section]
            )
        slot = self._slot(section)
        if slot is None:
            return
        heads = _resolve(self.selection.heads, weights.shape[1], "head", section)
        self.heads[section] = heads
        self._head_counts[section] = weights.shape[1]
        if heads != list(range(weights.shape[1])):
            weights = weights[:, heads]
        for b, element in enumerate(weights):
            rows, cols = self.positions[b][section]
            inside = (rows >= start) & (rows < start + element.shape[1])
            kept = _select(element, rows[inside] - start, 1)  # (heads, rows kept, w)
            kept = _select(kept, cols[cols < element.shape[2]], 2)  # w < k: keys cut (causal)
            if self.selection.head_mean:
                kept = kept.float().mean(0, keepdim=True)  # (1, rows, w)
            slots = torch.nonzero(inside).flatten()
            if not len(slots):  # kept rows are ascending, so a chunk's slots are contiguous
                continue
            if self.long[b] is not None:
                reducer = self._reducer(b, section, kept.shape[0], (len(rows), len(cols)))
                reducer.add(slot, kept, int(slots[0]), self.selection.dtype, given)
                continue
            store = self.attention[b]
            if section not in store:
                shape = (len(self.layers[section]), kept.shape[0], len(rows), len(cols))
                store[section] = torch.zeros(shape, dtype=self.selection.dtype)
            target = store[section][slot][:, slots[0] : slots[-1] + 1]
            target[..., : kept.shape[2]].copy_(kept)  # to storage dtype; keys cut stay zero
        self._filled.add((section, self.layers[section][slot]))

    def _reducer(self, b: int, section: str, heads: int, shape) -> SectionReducer:
        spec = self.long[b]
        if section not in spec.sections:
            layers = self.layers[section]
            full = _full(spec.full_layers, self._counts[section], layers, "layer", section)
            kept_heads = list(range(heads)) if self.selection.head_mean else self.heads[section]
            positions = list(range(heads))
            if spec.full_heads is not None and not self.selection.head_mean:
                model_heads = self._head_counts[section]
                chosen = _full(spec.full_heads, model_heads, kept_heads, "head", section)
                positions = [kept_heads.index(h) for h in chosen]
            slots = [layers.index(layer) for layer in full]
            spec.sections[section] = SectionReducer(
                spec, section, layers, heads, shape, (slots, positions)
            )
        return spec.sections[section]

    def reduced(self, b: int, dtype: torch.dtype) -> dict:
        """The reduced sections of long element `b` (attnviz.reduce), on the CPU."""
        spec = self.long[b]
        return {
            section: reducer.result(dtype, self.heads.get(section) or [0])
            for section, reducer in spec.sections.items()
        }


def _select(tensor: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """`tensor` at ascending `index` along `dim`: a view when the indices are a range."""
    if len(index) and int(index[-1]) - int(index[0]) + 1 == len(index):
        return tensor.narrow(dim, int(index[0]), len(index))
    return tensor.index_select(dim, index.to(tensor.device))


def _full(
    chosen: Sequence[int] | None, n: int, kept: list[int], what: str, section: str
) -> list[int]:
    """The layers or heads (`what`) that `extract.full_<what>s` keeps in full, out of the `n`
    the model has; each must also be one that `extract.<what>s` keeps."""
    full = _resolve(chosen, n, what, section, f"full_{what}s")
    missing = [index for index in full if index not in kept]
    if missing:
        raise AttnvizError(
            f"extract.full_{what}s asks for {section} {what} {missing[0]}, which "
            f"extract.{what}s does not keep; add it to extract.{what}s"
        )
    return full


def _resolve(
    chosen: Sequence[int] | None, n: int, what: str, section: str, key: str | None = None
) -> list[int]:
    """Indices chosen from range(n), negative ones from the end; out of range is an error
    naming the setting `key` (extract.layers / extract.heads by default)."""
    if chosen is None:
        return list(range(n))
    for index in chosen:
        if not -n <= index < n:
            raise AttnvizError(
                f"{what} index {index} is out of range: the {section} attention has {n} "
                f"{what}s (0..{n - 1}); fix extract.{key or what + 's'}"
            )
    return sorted({index % n for index in chosen})


def captured_forward(
    model, architecture, selection, positions, keys, inputs, long=None
) -> AttentionCapture:
    """Run the base model on `inputs` under an AttentionCapture (no LM head: no (n, vocabulary)
    logits) and return the capture. A model that runs one attention module for several layers
    (ALBERT) is run once more with one layer per call, so that every layer is kept."""
    counts = None  # layers per section: one per attention module until the calls are known
    while True:
        fresh = [replace(s, sections={}) if s else None for s in long or [None] * len(positions)]
        capture = AttentionCapture(model, architecture, selection, positions, keys, counts, fresh)
        with torch.no_grad(), capture:
            capture.take_outputs(model.base_model(**inputs, output_attentions=True))
        if not capture.rerun:
            return capture
        counts = capture.calls
