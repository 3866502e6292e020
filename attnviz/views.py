"""Views: pure functions from a record to the matrices and labels a figure shows.

A view names one attention section of a record and which tokens label its rows (the tokens
attending) and its columns (the tokens attended to). Nothing here draws.
"""

from __future__ import annotations

from attnviz.catalogue import VIEWS
from attnviz.errors import AttnvizError
from attnviz.long_views import long_view_data
from attnviz.matrices import ViewData, normalized_rows, part_slice, stored_labels
from attnviz.rollout import record_rollout
from attnviz.words import word_view


def view_data(
    record: dict,
    view: str,
    ignore_first_token: bool = False,
    renormalize: bool = False,
    word_level: bool = False,
) -> ViewData:
    """The matrices of `view` in `record`; `ignore_first_token` drops row and column 0
    (`renormalize`: and scales each row to sum to 1 again); `word_level` groups the rows and
    columns into words (`attnviz.words.word_view`)."""
    if view not in VIEWS:
        raise AttnvizError(f"unknown view '{view}'; choose one of {', '.join(VIEWS)}")
    spec = VIEWS[view]
    arch = record["meta"]["architecture"]
    if spec.architecture != arch:
        raise AttnvizError(
            f"view '{view}' is for {spec.architecture} models but this record is from a "
            f"{arch} model; choose a {arch} view"
        )
    rows_at = part_slice(record, spec.row_part, view)
    cols_at = part_slice(record, spec.col_part, view)
    if "reduced" in record:  # a long prompt: pooled maps
        return long_view_data(record, view, ignore_first_token, word_level)
    if spec.rollout:  # (layers, 1, n, n): the rollout after each layer stands in for the heads
        attention = record_rollout(record, spec.section)[:, None]
    else:
        attention = record["attention"][spec.section][:, :, rows_at, cols_at]  # (l, h, q, k)
    attention = attention.float().numpy()
    rows, cols = list(record[spec.rows])[rows_at], list(record[spec.cols])[cols_at]
    special = {
        key: [bool(x) for x in record[f"{key.removesuffix('tokens')}special_tokens_mask"]]
        for key in {spec.rows, spec.cols}
        if f"{key.removesuffix('tokens')}special_tokens_mask" in record
    }
    row_special = special[spec.rows][rows_at] if spec.rows in special else None
    col_special = special[spec.cols][cols_at] if spec.cols in special else None
    question_end = record.get("segments", {}).get("question_end")
    if view == "question_context" and question_end is None:
        raise AttnvizError(
            f"view 'question_context' needs a question/context pair, but prompt "
            f"'{record['meta'].get('prompt_id')}' is a single text; give it question and context"
        )
    if ignore_first_token:
        attention, rows, cols = attention[:, :, 1:, 1:], rows[1:], cols[1:]
        row_special = row_special[1:] if row_special else None
        col_special = col_special[1:] if col_special else None
        question_end = question_end - 1 if question_end else None
        if renormalize:
            attention = normalized_rows(attention)
    layers, heads = stored_labels(record, spec.section, *attention.shape[:2])
    if spec.rollout:
        heads = ["rollout"]
    data = ViewData(
        attention,
        rows,
        cols,
        spec.causal,
        spec.title,
        list(layers),
        heads,
        row_special,
        col_special,
        question_end,
    )
    if word_level:
        return word_view(data, record, view, ignore_first_token)
    return data
