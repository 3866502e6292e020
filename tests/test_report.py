"""The report: figures merged behind a cover, with bookmarks model > set > prompt > figure."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from pypdf import PdfReader

from attnviz.errors import AttnvizError
from attnviz.plot import save_figures
from attnviz.report import ReportEntry, build_report, cover_lines


def figure_pdf(path, pages):
    save_figures([Figure(figsize=(2, 2)) for _ in range(pages)], path)
    return str(path)


def outline_tree(reader):
    def walk(items):
        tree, last = [], None
        for item in items:
            if isinstance(item, list):
                tree[-1] = (last, walk(item))
            else:
                last = item.title
                tree.append((last, []))
        return tree

    return walk(reader.outline)


def test_report_merges_figures_with_nested_bookmarks(tmp_path):
    entries = [
        ReportEntry(figure_pdf(tmp_path / "a.pdf", 1), ("m1", "set", "p1", "Self: averages")),
        ReportEntry(figure_pdf(tmp_path / "b.pdf", 3), ("m1", "set", "p1", "Self: heads")),
        ReportEntry(figure_pdf(tmp_path / "c.pdf", 1), ("m2", "set", "p1", "Self: averages")),
    ]
    provenance = {
        "models": {
            "m1": {
                "architecture": "encoder",
                "source": "results/models/minilm",
                "weights_sha256": "ab" * 32,
            }
        },
        "prompts": {"m1/set/p1": "cd" * 32},
        "versions": {"torch": "2.13.0"},
        "config": "plot:\n  cmap: magma\n",
        "attnviz": "0.1.0",
        "commit": "0123abc",
    }
    build_report(entries, tmp_path / "report.pdf", "My sweep", provenance)
    reader = PdfReader(tmp_path / "report.pdf")
    assert len(reader.pages) == 1 + 1 + (1 + 3 + 1) + 1  # cover, contents, figures, provenance
    assert outline_tree(reader) == [
        ("Cover", []),
        ("Contents", []),
        ("m1", [("set", [("p1", [("Self: averages", []), ("Self: heads", [])])])]),
        ("m2", [("set", [("p1", [("Self: averages", [])])])]),
        ("Provenance", []),
    ]
    heads = reader.outline[2 + 1][1][1][1]  # m1 > set > p1 > heads
    assert reader.get_destination_page_number(heads) == 3
    cover = reader.pages[0].extract_text()
    assert "My sweep" in cover and "2 models x 1 prompt sets" in cover and "3 figures" in cover
    contents = " ".join(reader.pages[1].extract_text().split())
    assert "Self: heads 4" in contents and "m2 / set / p1" in contents  # 1-based page numbers
    provenance_text = reader.pages[-1].extract_text()
    for expected in (
        "0123abc",
        "results/models/minilm",
        "ab" * 32,
        "cd" * 32,
        "cmap: magma",
        "2.13.0",
    ):
        assert expected in provenance_text


@pytest.mark.parametrize("damage", ["missing", "garbage"])
def test_bad_figure_names_it_and_leaves_no_report(tmp_path, damage):
    bad = tmp_path / "bad.pdf"
    if damage == "garbage":
        bad.write_bytes(b"not a pdf at all")
    entries = [ReportEntry(str(bad), ("m", "s", "p", "f"))]
    with pytest.raises(AttnvizError, match="bad.pdf"):
        build_report(entries, tmp_path / "report.pdf", "t")
    assert not (tmp_path / "report.pdf").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == (
        ["bad.pdf"] if damage == "garbage" else []
    )


def test_cover_counts_prompts_not_the_all_prompts_pages_nor_comparisons():
    entries = []
    for model in ("m1", "m2"):
        entries.append(ReportEntry("s.pdf", (model, "set", "all prompts", "Head statistics")))
        entries += [ReportEntry("f.pdf", (model, "set", f"p{i}", "Self")) for i in range(20)]
    entries.append(ReportEntry("c.pdf", ("comparison seeds", "set", "p0", "Difference")))
    cover = "\n".join(cover_lines(entries, {}))
    assert "2 models x 1 prompt sets: 40 (model, prompt) pairs" in cover
    assert "set              20 prompts" in cover
