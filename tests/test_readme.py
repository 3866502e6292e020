"""The README's Python example runs as written and makes the files it names."""

from __future__ import annotations

import re

from pypdf import PdfReader

from conftest import MODELS_DIR, REPO


def test_readme_python_example_runs(tmp_path, monkeypatch, demo_model_dir):
    demo_model_dir("minilm")
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    assert blocks, "README has no Python example"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "models").symlink_to(MODELS_DIR, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], "README.md", "exec"), {})
    assert len(PdfReader(tmp_path / "fox-heads.pdf").pages) == 6  # MiniLM: 6 layers
