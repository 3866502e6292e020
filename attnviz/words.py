"""Word-level views: token attention summed and averaged into the words of the text.

Words come from the record's character offsets (a fast tokenizer's offset mapping; for generated
and decoder tokens, offsets into the decoded text), so one text gives the same words whatever
the tokenizer: WordPiece (MiniLM, offsets without the spaces) and byte-level BPE (GPT-2, Llama,
SmolLM2: a token's span includes its leading space) both split "The tokenizer splits." into
"The", "tokenizer", "splits.". A word is a run of tokens with no whitespace between them:

- a special token ([CLS], <s>, ...) is a word of its own;
- a new word starts where a token's span begins after a gap from the previous token's end
  (WordPiece), where the span begins with whitespace (byte-level BPE), where the previous
  token's span ends with whitespace, where offsets go back (a new text: the generated
  continuation, the context of a question/context pair) and at segment boundaries;
- a whitespace-only token (byte-level "\\n", or the first of two spaces) belongs to the word
  after it, as a leading space does; one with no word after it is a word of its own;
- punctuation stays attached to its word ("words." is one word), as it has no space before it.

Aggregation: a word attends with the mean of its tokens' rows and is attended to with the sum
of its tokens' columns, then every row is scaled to sum to 1 again (rows summing to 0 stay 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from attnviz.catalogue import VIEWS
from attnviz.errors import AttnvizError
from attnviz.matrices import ViewData, normalized_rows, part_slice


@dataclass(frozen=True)
class Words:
    """Consecutive groups of tokens: where each word starts, its label and whether it is a
    special token."""

    starts: np.ndarray  # (words,) index of each word's first token; starts[0] == 0
    labels: list[str]
    special: list[bool]


def _escaped(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")


def group_words(
    offsets: np.ndarray,
    special: Sequence[bool],
    tokens: Sequence[str],
    texts: Sequence[str | None],
    breaks: Sequence[int] = (),
) -> Words:
    """Group tokens into words (see the module's rules). `offsets` (n, 2) are each token's
    [start, end) characters in `texts[i]` (the text it came from, or None where the record
    holds none: then gaps, restarts and special tokens alone separate words and labels are
    the joined display `tokens`); `breaks` are token indices that always start a word."""
    offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)  # (n, 2)
    special = np.asarray(special, dtype=bool)  # (n,)
    n = len(offsets)
    if n == 0:
        return Words(np.zeros(0, dtype=np.int64), [], [])
    spans = [
        text[start:end] if text is not None else ""
        for text, (start, end) in zip(texts, offsets.tolist(), strict=True)
    ]
    lead = np.array([s[:1].isspace() for s in spans])  # (n,) span begins with whitespace
    trail = np.array([s[-1:].isspace() for s in spans])  # (n,) span ends with whitespace
    blank = np.array([bool(s) and s.isspace() for s in spans])  # (n,) whitespace only
    after_blank = blank[:-1]  # a blank token already started the word that follows it
    new = np.ones(n, dtype=bool)  # (n,) token i starts a word
    new[1:] = (
        special[1:]
        | special[:-1]
        | (offsets[1:, 0] > offsets[:-1, 1])  # a gap: the space between WordPiece words
        | (offsets[1:, 0] < offsets[:-1, 0])  # offsets go back: a new text
        | (lead[1:] & ~after_blank)
        | (trail[:-1] & ~after_blank)
    )
    new[[b for b in breaks if 0 < b < n]] = True
    starts = np.flatnonzero(new)  # (words,)
    ends = np.append(starts[1:], n)
    labels = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        text = texts[a]
        label = "" if special[a] or text is None else text[offsets[a, 0] : offsets[a:b, 1].max()]
        joined = tokens[a] + "".join(t.removeprefix("##") for t in tokens[a + 1 : b])
        labels.append(_escaped(label.strip()) or joined)
    return Words(starts, labels, special[starts].tolist())


def _token_texts(record: dict, side: str) -> list[str | None]:
    """The text each token's offsets point into: the prompt text (the question, then the
    context, for a pair), the generated text after `source_end`, the decoder side's text."""
    n = len(record[side])
    if side == "target_tokens":
        return [record.get("target_text")] * n
    prompt = record["meta"].get("prompt") or {}
    segments = record.get("segments", {})
    source_end = segments.get("source_end", n)
    if prompt.get("question") is not None:
        question_end = segments.get("question_end", source_end)
        source = [prompt["question"]] * question_end + [prompt.get("context")] * (
            source_end - question_end
        )
    else:
        source = [prompt.get("text")] * source_end
    return source + [record.get("generated_text")] * (n - source_end)


def record_words(record: dict, side: str = "tokens", index: np.ndarray | None = None) -> Words:
    """The words of the tokens at `index` (default: all) of one side of a record: "tokens"
    (the input, with generated tokens) or "target_tokens" (an encoder-decoder's decoder)."""
    prefix = side.removesuffix("tokens")
    if f"{prefix}offsets" not in record:
        raise AttnvizError(
            f"record of '{record['meta'].get('model')}' has no character offsets for its "
            f"{side}; word-level views need offsets: extract it again with a fast tokenizer"
        )
    tokens = list(record[side])
    index = np.arange(len(tokens)) if index is None else np.asarray(index, dtype=np.int64)
    mask = record.get(f"{prefix}special_tokens_mask")
    special = np.zeros(len(tokens), bool) if mask is None else np.asarray(mask, dtype=bool)
    texts = _token_texts(record, side)
    segments = record.get("segments", {}) if side == "tokens" else {}
    boundaries = set(segments.values())  # source_end, question_end: first tokens of a part
    return group_words(
        np.asarray(record[f"{prefix}offsets"])[index],
        special[index],
        [tokens[i] for i in index.tolist()],
        [texts[i] for i in index.tolist()],
        [p for p, i in enumerate(index.tolist()) if i in boundaries],
    )


def word_attention(
    attention: np.ndarray, row_starts: np.ndarray, col_starts: np.ndarray
) -> np.ndarray:
    """Token attention (..., q, k) as word attention (..., row words, column words), float32:
    the sum over each column word's tokens, the mean over each row word's tokens, rows scaled
    to sum to 1. Words are consecutive tokens from `row_starts` / `col_starts` (first token of
    each). A causal matrix stays causal: a word's tokens all precede the next word's."""
    attention = np.asarray(attention, dtype=np.float32)  # (..., q, k)
    q = attention.shape[-2]
    summed = np.add.reduceat(attention, col_starts, axis=-1)  # (..., q, col words)
    sizes = np.diff(np.append(row_starts, q)).astype(np.float32)  # (row words,)
    mean = np.add.reduceat(summed, row_starts, axis=-2) / sizes[:, None]  # (..., rw, cw)
    return normalized_rows(mean)


def word_view(
    data: ViewData, record: dict, view: str, ignore_first_token: bool = False
) -> ViewData:
    """`data` (`view_data(record, view, ignore_first_token)`) at word level: rows and columns
    grouped into the words of their own side (target tokens for cross-attention rows, one part
    of the tokens for generated views, less the first token with `ignore_first_token`), labels
    the words' text, `question_end` the first word of the context."""
    spec = VIEWS[view]
    sides = []
    for side, part, shown in (
        (spec.rows, spec.row_part, len(data.row_tokens)),
        (spec.cols, spec.col_part, len(data.col_tokens)),
    ):
        index = np.arange(len(record[side]))[part_slice(record, part, view)]  # (tokens in view,)
        index = index[1:] if ignore_first_token else index
        if len(index) != shown:
            raise AttnvizError(
                f"the view data has {shown} {side} but view '{view}' of this record shows "
                f"{len(index)}; pass the record and view it was made from"
            )
        sides.append(record_words(record, side, index))
    rows, cols = sides
    question_end = data.question_end
    if question_end is not None:
        question_end = int(np.searchsorted(rows.starts, question_end))
    return replace(
        data,
        attention=word_attention(data.attention, rows.starts, cols.starts),  # (l, h, rw, cw)
        row_tokens=rows.labels,
        col_tokens=cols.labels,
        row_special=rows.special,
        col_special=cols.special,
        question_end=question_end,
        title=f"{data.title} (words)",
    )
