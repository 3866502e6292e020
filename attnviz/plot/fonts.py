"""Font subsets made once per process.

Each PDF embeds the subset of DejaVu Sans its text uses (Type 42), and matplotlib makes that
subset with fontTools anew for every file: about 0.1 s, a quarter of a heads page. A figure
job draws many figures whose text uses the same glyphs (one prompt's tokens, the same titles
and colour-bar digits), so `reused_font_subsets()` keeps each subset's bytes, by font and glyph
set, for the life of the process. The bytes written are the ones matplotlib would write.

Where matplotlib's PDF backend no longer has the two functions this wraps, nothing is cached.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO

from matplotlib.backends import _backend_pdf_ps as pdf_ps

_MAX_SUBSETS = 256  # one per distinct glyph set; a few kB each


class _StoredSubset:
    """A subset already written: its font file's bytes and the glyph index map."""

    def __init__(self, data: bytes, glyph_index_map: dict):
        self.font, self.glyph_index_map = data, glyph_index_map

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


_STORED: dict[tuple, tuple[bytes, dict]] = {}  # (font, face, glyphs) -> (bytes, index map)


@contextmanager
def reused_font_subsets() -> Iterator[None]:
    """While a PDF is written: matplotlib's PDF backend takes each font subset from this
    process's store, making it only the first time (the PostScript backend, which needs the
    font object itself, is left alone outside the block)."""
    subset = getattr(pdf_ps, "get_glyphs_subset", None)
    as_file = getattr(pdf_ps, "font_as_file", None)
    if subset is None or as_file is None:
        yield
        return

    def stored_subset(fontfile, glyphs):
        key = (str(fontfile), getattr(fontfile, "face_index", 0), frozenset(glyphs))
        if key not in _STORED:
            if len(_STORED) >= _MAX_SUBSETS:
                _STORED.clear()
            with subset(fontfile, glyphs) as made:
                _STORED[key] = (as_file(made.font).getvalue(), dict(made.glyph_index_map))
        return _StoredSubset(*_STORED[key])

    def stored_as_file(font):
        return BytesIO(font) if isinstance(font, bytes) else as_file(font)

    pdf_ps.get_glyphs_subset, pdf_ps.font_as_file = stored_subset, stored_as_file
    try:
        yield
    finally:
        pdf_ps.get_glyphs_subset, pdf_ps.font_as_file = subset, as_file
