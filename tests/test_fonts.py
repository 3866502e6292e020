"""Font subsets are made once per process, and the PDFs keep their bytes."""

from __future__ import annotations

import contextlib

from matplotlib.backends import _backend_pdf_ps as pdf_ps
from matplotlib.figure import Figure

from attnviz.plot import fonts, layouts


def _figure(text: str) -> Figure:
    fig = Figure(figsize=(2, 1))
    fig.text(0.1, 0.5, text)
    return fig


def test_a_pdf_reuses_the_font_subset_of_an_earlier_one_byte_for_byte(tmp_path, monkeypatch):
    made = []
    subset = pdf_ps.get_glyphs_subset

    def counted(fontfile, glyphs):
        made.append(frozenset(glyphs))
        return subset(fontfile, glyphs)

    monkeypatch.setattr(pdf_ps, "get_glyphs_subset", counted)
    monkeypatch.setattr(fonts, "_STORED", {})
    for name in ("first", "second"):
        layouts.save_figures([_figure("attention sink")], tmp_path / f"{name}.pdf")
    layouts.save_figures([_figure("other glyphs: 0123")], tmp_path / "other.pdf")
    assert len(made) == 2  # the first glyph set once, then the new one
    assert pdf_ps.get_glyphs_subset is counted  # restored after each PDF

    monkeypatch.setattr(layouts, "reused_font_subsets", contextlib.nullcontext)
    layouts.save_figures([_figure("attention sink")], tmp_path / "matplotlib.pdf")
    assert len(made) == 3
    first = (tmp_path / "first.pdf").read_bytes()
    assert first == (tmp_path / "second.pdf").read_bytes()
    assert first == (tmp_path / "matplotlib.pdf").read_bytes()
