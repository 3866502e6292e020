"""The viewer page: one HTML file (its code and index inline) and a folder of per-head data
scripts beside it, written whole or not at all. It works from file:// (no server, no fetch)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from attnviz.atomic import atomic_path
from attnviz.config import VIEWER_STYLE_KEYS
from attnviz.record import load_record
from attnviz.viewer.data import section_data
from attnviz.viewer.options import COLORMAPS, ViewerConfig

SECTION_ORDER = ("self", "encoder", "decoder", "cross")


def _template(name: str) -> str:
    return (resources.files("attnviz.viewer") / "template" / name).read_text(encoding="utf-8")


def _lut(name: str) -> str:
    """A colormap as 256 RGB colours, hex."""
    from matplotlib import colormaps

    rgb = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    return bytes(np.rint(rgb * 255).astype(np.uint8).ravel()).hex()


def _token_lists(record: dict) -> dict:
    out = {}
    for key in ("tokens", "target_tokens"):
        if key in record:
            special = record.get(f"{key.removesuffix('tokens')}special_tokens_mask")
            out[key] = {
                "text": [str(t) for t in record[key]],
                "special": [bool(x) for x in special] if special is not None else [],
            }
    return out


def _script(stem: str, payload: dict) -> str:
    return f"attnviz.put({json.dumps(stem)},{json.dumps(payload, separators=(',', ':'))});\n"


def _safe_json(value) -> str:
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/")


def open_record(record, expected: dict | None = None) -> dict:
    """A record dict as it is, or a path loaded memory-mapped (layers are read when used);
    `expected`: what it must have been made for (`attnviz.record.check_expected`)."""
    return record if isinstance(record, dict) else load_record(record, expected, mmap=True)


def build_page(record: dict, config: ViewerConfig, data_dir: str | None, emit) -> str:
    """The page's HTML; each head's data goes to `emit(stem, payload)`. `data_dir`: the folder
    (relative to the page) its <script> tags load, or None when `emit` inlines the data."""
    meta = record["meta"]
    sections = [
        section_data(record, name, config, emit)
        for name in sorted(record.get("reduced") or record["attention"], key=SECTION_ORDER.index)
    ]
    cmaps = dict.fromkeys([config.cmap, *COLORMAPS])
    index = {
        "title": config.title or f"{meta.get('model', 'model')} / {meta.get('prompt_id', '')}",
        "model": meta.get("model"),
        "prompt_id": meta.get("prompt_id"),
        "architecture": meta["architecture"],
        "tokens": _token_lists(record),
        "segments": dict(record.get("segments", {})),
        "sections": sections,
        "cmaps": {name: _lut(name) for name in cmaps},
        "options": {key: getattr(config, key) for key in VIEWER_STYLE_KEYS},
        "data_dir": data_dir,
    }
    html = _template("viewer.html")
    for key, value in (
        ("TITLE", index["title"].replace("&", "&amp;").replace("<", "&lt;")),
        ("CSS", _template("viewer.css")),
        ("INDEX", _safe_json(index)),
        ("JS", f'"use strict";\n(() => {{\n{_template("data.js")}{_template("viewer.js")}}})();'),
    ):
        html = html.replace(f"{{{{{key}}}}}", value)
    return html


def write_page(record, path: str | os.PathLike, config: ViewerConfig) -> Path:
    """Write the page `path` and its data folder `<stem>_files/` beside it; on any error neither
    is left behind (an older page there stays as it was)."""
    record = open_record(record)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.parent / f"{path.stem}_files"
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it 0700; give it a normal folder's mode
    try:

        def emit(stem: str, payload: dict) -> None:
            (tmp / f"{stem}.js").write_text(_script(stem, payload), encoding="ascii")

        html = build_page(record, config, folder.name, emit)
        with atomic_path(path) as page:
            page.write_text(html, encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def inline_page(record, config: ViewerConfig) -> str:
    """The page with every head's data inside it (for a notebook: one string, no files)."""
    record = open_record(record)
    scripts: list[str] = []
    html = build_page(record, config, None, lambda s, p: scripts.append(_script(s, p)))
    data = "".join(f"<script>{s}</script>\n" for s in scripts)
    return html.replace("</body>", data + "</body>")
