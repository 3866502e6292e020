"""Static checks of plot and extract values, run when the sweep is composed.

A value a job would fail on (or draw nonsense with) is found before any job runs, so a bad
value never costs an existing figure or record: Snakemake deletes a job's old outputs before
the job runs. Layer and head indices are checked against each local model's `config.json`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from attnviz.errors import AttnvizError

_LAYER_KEYS = ("num_hidden_layers", "n_layer", "num_layers", "num_decoder_layers")
_LAYER_KEYS += ("encoder_layers", "decoder_layers")
_HEAD_KEYS = ("num_attention_heads", "n_head", "num_heads", "encoder_attention_heads")
_HEAD_KEYS += ("decoder_attention_heads",)


def _number(where: str, key: str, value, low: float, high: float, low_open=False, hint=""):
    """`value` is a finite number in [low, high] (or (low, high] with `low_open`)."""
    above = value > low if low_open else value >= low
    if not (math.isfinite(value) and above and value <= high):
        start = f"above {low:g}" if low_open else f"at least {low:g}"
        bound = start if math.isinf(high) else f"{start} and at most {high:g}"
        raise AttnvizError(f"{where}.{key} is {value}; give a number {bound}{hint}")


def check_plot_values(plot, where: str = "config: plot") -> None:
    """Every number, box and colour of a PlotConfig, before anything is drawn."""
    inf = math.inf
    _number(where, "gamma", plot.gamma, 0, inf, low_open=True, hint=" (1 is linear)")
    _number(where, "vmin", plot.vmin, -inf, inf)
    _number(where, "vmax", plot.vmax, -inf, inf)
    if plot.vmin >= plot.vmax:
        raise AttnvizError(f"{where}.vmin ({plot.vmin}) must be below vmax ({plot.vmax})")
    _number(where, "panel_inches", plot.panel_inches, 0, 50, low_open=True)
    _number(where, "font_size", plot.font_size, 0, 72, low_open=True)
    _number(where, "enlarged_size", plot.enlarged_size, 1, 20)
    _number(where, "region_linewidth", plot.region_linewidth, 0, 20)
    _number(where, "region_alpha", plot.region_alpha, 0, 1)
    _number(where, "max_labels", plot.max_labels, 1, inf)
    _number(where, "top_n", plot.top_n, 0, inf)
    _number(where, "score_threshold", plot.score_threshold, 0, inf)
    _number(where, "auto_regions", plot.auto_regions, 0, inf)
    _number(where, "dpi", plot.dpi, 1, 2400)
    for box in plot.regions:
        if len(box) != 4 or not (0 <= box[0] <= box[2] and 0 <= box[1] <= box[3]):
            raise AttnvizError(
                f"{where}.regions has {list(box)}; give each box as [top, left, bottom, right] "
                "cell indices, top <= bottom and left <= right, none negative"
            )
    _check_colours(plot, where)


def _check_colours(plot, where: str) -> None:
    from matplotlib import colormaps
    from matplotlib.colors import is_color_like

    if plot.cmap not in colormaps:
        raise AttnvizError(
            f"{where}.cmap is '{plot.cmap}', which matplotlib does not know; choose a colormap "
            "name such as viridis, magma or Blues"
        )
    if not is_color_like(plot.region_color):
        raise AttnvizError(
            f"{where}.region_color is '{plot.region_color}', not a colour; give a name such as "
            "red or a hex code such as '#ff0000'"
        )


def check_extract_values(extract, where: str = "config: extract") -> None:
    for key in ("layers", "heads"):
        if getattr(extract, key) == []:
            raise AttnvizError(f"{where}.{key} is []; list the indices to keep, or null for all")


def model_shape(folder: str | Path) -> tuple[int, int] | None:
    """(fewest layers, fewest heads) over the attention sections of the model in `folder`, from
    its config.json; None where there is none or it says neither (a hub id, a GGUF file)."""
    path = Path(folder).expanduser() / "config.json"
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    layers = [config[k] for k in _LAYER_KEYS if isinstance(config.get(k), int)]
    heads = [config[k] for k in _HEAD_KEYS if isinstance(config.get(k), int)]
    return (min(layers), min(heads)) if layers and heads else None


def _index(what: str, index: int, count: int, negative: bool, fix: str) -> None:
    low = -count if negative else 0
    if not low <= index < count:
        raise AttnvizError(f"{what} {index}, out of range: {fix}; choose {low}..{count - 1}")


def check_indices(sweep, sources: dict[str, str]) -> None:
    """extract.layers and .heads, and the layer and head that plot (the single layout) and each
    comparison show, fit every model of `sweep` (a SweepConfig) whose folder (`sources`: name ->
    folder or hub id) has a config.json."""
    extract, plot = sweep.extract, sweep.plot
    for name, source in sources.items():
        shape = model_shape(source)
        if shape is None:
            continue
        layers, heads = shape
        for index in extract.layers or []:
            _index(
                "config: extract.layers has", index, layers, True, f"'{name}' has {layers} layers"
            )
        for index in extract.heads or []:
            _index("config: extract.heads has", index, heads, True, f"'{name}' has {heads} heads")
        stored = len({i % layers for i in extract.layers}) if extract.layers else layers
        kept = len({h % heads for h in extract.heads}) if extract.heads else heads
        shown = [("plot", plot.layer, plot.head)] if "single" in plot.layouts else []
        shown += [
            (f"comparison.{c}", comparison.layer, comparison.head)
            for c, comparison in sweep.comparison.items()
            if name in comparison.models
        ]
        for what, layer, head in shown:
            stores = f"'{name}' stores {stored} layers"
            _index(f"config: {what}.layer is", layer, stored, True, stores)
            if head is not None and not extract.head_mean:
                _index(
                    f"config: {what}.head is", head, kept, False, f"'{name}' stores {kept} heads"
                )
