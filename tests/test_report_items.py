"""What the report and the index show of a sweep (attnviz.report_items): every figure the jobs
draw with its bookmarks and title, the records of the provenance pages, the viewer pages and
the commit. No Snakemake here: the end-to-end run is in test_workflow.py."""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import yaml

from attnviz import paths, report_items, tasks
from attnviz.config import compose_sweep

REPO = Path(__file__).resolve().parents[1]
SMOKE = [
    "experiment=smoke",
    "plot.layouts=[layer_average,heads,single]",
    "plot.variants=[plain,top_cells]",
]


@pytest.fixture(scope="module")
def sweep():
    return compose_sweep(SMOKE)


def test_a_figure_is_titled_by_its_view_layout_and_variant(sweep):
    plot = sweep.config.plot  # heads: bottom_k_by_entropy, top_k: 8
    title = report_items.figure_title
    assert title("self_attention", "layer_average", "plain", plot) == (
        "Self-attention: layer averages"
    )
    assert (
        title("cross_attention", "single", "regions", plot) == "Cross-attention: one layer, regions"
    )
    assert title("full_sequence", "heads", "top_cells", plot) == (
        "Full sequence: bottom 8 heads by entropy, top cells"
    )
    every_head = replace(plot, heads="all")
    assert title("full_sequence", "heads", "plain", every_head) == "Full sequence: heads per layer"
    assert report_items.comparison_title("circles") == "Comparison with circles"


def test_the_report_bookmarks_every_figure_model_set_prompt_figure(sweep):
    items = report_items.report_items(sweep)
    minilm = [item["bookmarks"] for item in items if item["bookmarks"][0] == "minilm"]
    assert minilm[0] == ["minilm", "tiny", "all prompts", "Head statistics"]
    layouts = {  # rollout has no heads
        "Self-attention": ("layer averages", "bottom 8 heads by entropy", "one layer"),
        "Attention rollout": ("layer averages", "one layer"),
    }
    assert [b[2:] for b in minilm[1:]] == [
        ["cat", f"{view}: {layout}{variant}"]
        for view, shown in layouts.items()
        for layout in shown
        for variant in ("", ", top cells")
    ]
    t5 = [item["bookmarks"][3] for item in items if item["bookmarks"][0] == "t5_tiny"]
    assert len(t5) == 1 + 22 and t5[-1] == "Encoder rollout: one layer, top cells"
    assert [item["bookmarks"] for item in items[-2:]] == [
        ["comparison same_tokenizer", "tiny", "cat", "Difference"],
        ["comparison same_tokenizer", "tiny", "cat", "Comparison with circles"],
    ]
    for item in items:
        assert item["thumbnail"] == paths.thumbnail(item["path"])


def test_the_report_holds_exactly_what_the_jobs_draw(sweep):
    """Each figure the figure, summary and comparison jobs write is in the report once, and
    the report asks for nothing else."""
    drawn = [paths.head_summary(m, s) for m, s in [("minilm", "tiny"), ("t5_tiny", "tiny")]]
    for model in sweep.models:
        drawn += [task["figure"] for task in tasks.set_tasks(sweep, model, "tiny")]
    for name, prompt_set in tasks.comparison_sets(sweep):
        drawn += [task["figure"] for task in tasks.comparison_tasks(sweep, name, prompt_set)]
    reported = [item["path"] for item in report_items.report_items(sweep)]
    assert sorted(reported) == sorted(drawn) and len(set(reported)) == len(reported)


def test_the_provenance_pages_read_every_record_with_what_it_was_made_for(sweep):
    records = report_items.record_items(sweep)
    assert [r["key"] for r in records] == ["minilm/tiny/cat", "t5_tiny/tiny/cat"]
    assert records[1]["path"] == paths.record("t5_tiny", "tiny", "cat")
    assert records[1]["expected"] == tasks.expectation(sweep, "t5_tiny", "tiny", "cat")
    assert yaml.safe_load(report_items.config_yaml(sweep)) == asdict(sweep.config)


def test_the_index_links_each_prompts_viewer_page(sweep):
    assert report_items.viewer_pages(sweep) == {
        "minilm/tiny/cat": "results/minilm/tiny/viewer/cat.html",
        "t5_tiny/tiny/cat": "results/t5_tiny/tiny/viewer/cat.html",
    }


def test_the_commit_is_the_checkouts_or_says_there_is_none(tmp_path):
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", report_items.git_commit(str(REPO))) and head
    assert report_items.git_commit(str(REPO)) == head
    assert report_items.git_commit(str(tmp_path)) == "unknown (not a git checkout)"
