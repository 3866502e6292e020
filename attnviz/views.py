"""Views: pure functions from a record to the matrices and labels a figure shows.

A view names one attention section of a record and which tokens label its rows (the tokens
attending) and its columns (the tokens attended to). Nothing here draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from attnviz.errors import AttnvizError

ARCHITECTURES = ("encoder", "decoder", "encoder_decoder")


@dataclass(frozen=True)
class ViewSpec:
    architecture: str
    section: str  # key in record["attention"]
    rows: str  # "tokens" (the input) or "target_tokens" (the decoder side)
    cols: str
    causal: bool  # upper triangle is masked by the model
    title: str


VIEWS = {
    "self_attention": ViewSpec("encoder", "self", "tokens", "tokens", False, "Self-attention"),
    "full_sequence": ViewSpec("decoder", "self", "tokens", "tokens", True, "Full sequence"),
    "encoder_self_attention": ViewSpec(
        "encoder_decoder", "encoder", "tokens", "tokens", False, "Encoder self-attention"
    ),
    "decoder_self_attention": ViewSpec(
        "encoder_decoder",
        "decoder",
        "target_tokens",
        "target_tokens",
        True,
        "Decoder self-attention",
    ),
    "cross_attention": ViewSpec(
        "encoder_decoder", "cross", "target_tokens", "tokens", False, "Cross-attention"
    ),
}


@dataclass
class ViewData:
    """What a layout draws: attention of every layer and head, with its labels."""

    attention: np.ndarray  # (layers, heads, q, k) float32
    row_tokens: list[str]
    col_tokens: list[str]
    causal: bool
    title: str


def view_data(record: dict, view: str, ignore_first_token: bool = False) -> ViewData:
    """The matrices of `view` in `record`; `ignore_first_token` drops row and column 0."""
    if view not in VIEWS:
        raise AttnvizError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    arch = record["meta"]["architecture"]
    if spec.architecture != arch:
        raise AttnvizError(
            f"view '{view}' is for {spec.architecture} models but this record is from a "
            f"{arch} model; choose a {arch} view"
        )
    attention = record["attention"][spec.section].float().numpy()  # (layers, heads, q, k)
    rows, cols = list(record[spec.rows]), list(record[spec.cols])
    if ignore_first_token:
        attention, rows, cols = attention[:, :, 1:, 1:], rows[1:], cols[1:]
    return ViewData(attention, rows, cols, spec.causal, spec.title)
