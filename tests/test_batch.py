"""Figures drawn many per process: a figure job killed mid-way (SIGKILL) leaves no half-written
figure, and the rerun draws only the figures that are missing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

from pypdf import PdfReader

from attnviz.plot.batch import stamped_key
from conftest import REPO, workflow_command

PROMPTS = ",".join(f"{{id:p{i},text:'Prompt number {i} is short.'}}" for i in range(12))
CONFIG = [
    "experiment=smoke",
    "overrides=model=[minilm] mode=[self_attention] comparison=[] prompts=[] "
    f"+prompts.many={{prompts:[{PROMPTS}]}} plot.layouts=[layer_average,heads]",
]


def sweep(workdir):
    """`make report`'s way: the default profile (reruns incomplete jobs, keeps finished files)."""
    profile = str(REPO / "workflow" / "profiles" / "default")
    return [
        *workflow_command(workdir, "--cores", "2", "--workflow-profile", profile),
        *("--config", *CONFIG),
    ]


def figures(workdir) -> dict[str, int]:
    """Every figure PDF -> its inode (a redrawn figure is a new file, renamed into place)."""
    found = (workdir / "results" / "minilm" / "many").glob("*/self_attention/*.pdf")
    return {str(p.relative_to(workdir)): p.stat().st_ino for p in found}


def test_killed_figure_job_leaves_whole_figures_and_rerun_draws_only_the_rest(
    tmp_path, demo_model_dir
):
    demo_model_dir("minilm")
    log = tmp_path / "results/logs/plot_figures/minilm/many.log"
    run = subprocess.Popen(sweep(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    killed, deadline = None, time.monotonic() + 600
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        text = log.read_text() if log.exists() else ""
        if text.count("attnviz: drew ") >= 3:  # mid-way: some figures drawn, most not
            killed = int(re.search(r"pid (\d+)", text).group(1))
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    output = run.communicate(timeout=600)[0].decode()
    assert killed is not None, "the figure job never started: " + output[-2000:]
    assert run.returncode != 0, "the sweep finished before the kill"

    survivors = figures(tmp_path)
    assert 3 <= len(survivors) < 24, survivors  # 12 prompts x (layer average, heads)
    for path in survivors:  # every figure there is whole, and says what it was drawn from
        assert len(PdfReader(tmp_path / path).pages) == 1 and stamped_key(tmp_path / path)

    rerun = subprocess.run(sweep(tmp_path), capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    after = figures(tmp_path)
    assert len(after) == 24
    assert {p: after[p] for p in survivors} == survivors  # the finished ones were not redrawn
    assert f"{24 - len(survivors)} figures drawn, {len(survivors)} up to date kept" in (
        log.read_text()
    )
    assert [p for p in tmp_path.rglob("*.tmp") if "results" in p.parts] == []
    assert (tmp_path / "results" / "report.pdf").is_file()
