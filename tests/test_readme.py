"""The README's Python examples run as written, in order, and make the files they name."""

from __future__ import annotations

import re

from pypdf import PdfReader

from conftest import MODELS_DIR, REPO


def test_readme_python_examples_run(tmp_path, monkeypatch, demo_model_dir):
    demo_model_dir("minilm")
    demo_model_dir("smollm2")
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert len(blocks) == 4, "README's Python section has four examples"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "models").symlink_to(MODELS_DIR, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert len(PdfReader(tmp_path / "fox-heads.pdf").pages) == 6  # MiniLM: 6 layers
    assert len(PdfReader(tmp_path / "focus.pdf").pages) == 1  # the 6 chosen heads on one page
    table = (tmp_path / "heads.csv").read_text().splitlines()
    assert len(table) == 1 + 6 * 12 + 30 * 9  # a row per head of MiniLM and of SmolLM2
    assert len(namespace["rows"]) == len(table) - 1
    made = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {
        "fox.png",
        "fox.html",
        "fox_files/self_0_0.js",
        "rollout.pdf",
        "words.png",
        "c.pdf",
        "vis/minilm/all_layers_avg.jpg",
        "vis/minilm/layer_5.jpg",
        "self_attention_heatmap.pdf",
        "attention_comparison_circles.pdf",
        "check_stability_heatmap_with_gradient_color.pdf",
        "attention_evolution_sparklines.pdf",
    } <= made
