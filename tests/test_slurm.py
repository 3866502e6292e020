"""The workflow on a real SLURM: a single-node cluster started by scripts/local_slurm.sh (Debian's
slurm-wlm and munge), the sweep submitted through workflow/profiles/slurm exactly as the README's
cluster section says, and a cancelled extraction that the profile's retries recover from.

Needs root (the daemons and the packages); elsewhere these tests skip, but not in CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from attnviz.record import load_record
from conftest import REPO, workflow_command

SCRIPT = REPO / "scripts" / "local_slurm.sh"
STATE = Path(os.environ.get("ATTNVIZ_SLURM_DIR", "/tmp/attnviz-slurm"))
DAEMONS = ("slurmctld", "slurmd")
GROUPS = ("draw_set", "finish")  # workflow/rules/*.smk


def running_daemons() -> list[str]:
    return [d for d in DAEMONS if subprocess.run(["pgrep", "-x", d]).returncode == 0]


@pytest.fixture(scope="module")
def cluster(demo_model_dir):
    if os.geteuid() != 0 or not (shutil.which("slurmctld") or shutil.which("apt-get")):
        if os.environ.get("CI"):
            pytest.fail("CI must run the SLURM tests: run them as root on Debian")
        pytest.skip("a local SLURM needs root and Debian's slurm-wlm (or apt-get)")
    if running_daemons():
        pytest.skip(f"SLURM daemons already run here ({', '.join(running_daemons())})")
    for name in ("minilm", "t5_tiny"):
        demo_model_dir(name)
    try:
        start = subprocess.run(["bash", SCRIPT, "start"], capture_output=True, text=True)
        assert start.returncode == 0, start.stdout + start.stderr
        yield STATE
    finally:
        stop = subprocess.run(["bash", SCRIPT, "stop"], capture_output=True, text=True)
    assert stop.returncode == 0, stop.stderr
    assert running_daemons() == [], "local_slurm.sh stop left daemons running"
    assert not Path("/etc/slurm/slurm.conf").exists()


def sweep_command(workdir: Path, *config: str) -> list[str]:
    """The README's command for this cluster, run in `workdir`."""
    return workflow_command(
        workdir,
        "--workflow-profile",
        str(REPO / "workflow" / "profiles" / "slurm"),
        *("--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1"),
        *("--seconds-between-status-checks", "5", "--config", *config),
    )


def submitted_jobs(output: str) -> dict[int, str]:
    """SLURM job id -> rule (or group of rules: draw_set, finish), from Snakemake's
    'submitted with SLURM jobid' lines (a group's log folder is group_<group>_<its rules>)."""
    found = re.findall(r"SLURM jobid (\d+) \(log: \S*/(rule|group)_(\w+)/", output)
    return {
        int(job): name if kind == "rule" else next(g for g in GROUPS if name.startswith(g + "_"))
        for job, kind, name in found
    }


def check_records(workdir: Path) -> list[Path]:
    paths = sorted(workdir.glob("results/*/*/*/attention.pt"))
    for path in paths:
        attention = load_record(path)["attention"]
        for section in attention.values():  # (layers, heads, q, k)
            sums = section.float().sum(-1)
            assert torch.allclose(sums, torch.ones_like(sums), atol=1e-2)
    leftovers = [p for p in workdir.rglob("*.tmp") if "results" in p.parts]
    assert leftovers == [], f"temporary files left behind: {leftovers}"
    return paths


def test_sweep_runs_as_slurm_jobs(cluster, tmp_path):
    run = subprocess.run(
        sweep_command(tmp_path, "experiment=smoke"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    assert (tmp_path / "results" / "report.pdf").stat().st_size > 0
    assert (tmp_path / "results" / "index.html").exists()
    # Every job was a SLURM job: per model (2) and prompt set (1) its extraction and one job for
    # its head statistics and figures (group draw_set), then one for the comparisons, the
    # sweep's table, the report and the index (group finish): models x sets x 2 + 1.
    jobs = submitted_jobs(output)
    rules = sorted(jobs.values())
    assert rules == ["draw_set"] * 2 + ["extract_attention_tiny"] * 2 + ["finish"]
    assert len(jobs) <= 2 * 1 * 2 + 3
    controller = (cluster / "slurmctld.log").read_text()
    for job in jobs:
        assert re.search(rf"JobId={job}\b", controller), f"slurmctld never saw job {job}"
    # Each job's own log names its SLURM job id, and SLURM's log of it is kept.
    extract_log = (tmp_path / "results/logs/extract_attention/minilm/tiny.log").read_text()
    job = int(re.search(r"SLURM job (\d+)", extract_log).group(1))
    assert jobs[job] == "extract_attention_tiny"
    assert list((tmp_path / "results/logs/slurm").rglob(f"{job}.log"))
    assert len(check_records(tmp_path)) == 2


def test_jobs_reuse_the_composed_config_and_load_no_model_at_submission(cluster, tmp_path):
    """Only the submitting process composes conf/; the jobs read its cache. The submitting
    process imports neither torch nor transformers (it loads no model)."""
    command = sweep_command(
        tmp_path, "experiment=smoke", "overrides=model=[minilm] mode=[self_attention] comparison=[]"
    )
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *command[1:]],  # the jobs run without -X
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    imported = set(re.findall(r"\|\s+([\w.]+)\n", run.stderr))
    assert "hydra" in imported  # the submitting process composed conf/
    assert not {"torch", "transformers"} & imported
    assert len(list((tmp_path / ".snakemake" / "attnviz").glob("sweep-*.json"))) == 1
    job_logs = list((tmp_path / "results/logs/slurm").rglob("*.log"))
    assert len(job_logs) == len(submitted_jobs(output)) >= 3
    for log in job_logs:
        assert "attnviz: composed" not in log.read_text(), f"{log} composed conf/ again"


def test_cancelled_extraction_is_retried_and_leaves_valid_records(cluster, tmp_path):
    count = 60
    prompts = ",".join(f"{{id:p{i},text:'Prompt {i} is a short sentence.'}}" for i in range(count))
    command = sweep_command(
        tmp_path,
        "experiment=smoke",
        "overrides=model=[minilm] mode=[self_attention] comparison=[] prompts=[] "
        f"+prompts.many={{prompts:[{prompts}]}}",
    )
    sweep = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    extract_log = tmp_path / "results/logs/extract_attention/minilm/many.log"
    cancelled, written = None, 0
    deadline = time.monotonic() + 300
    while cancelled is None and time.monotonic() < deadline and sweep.poll() is None:
        written = len(list(tmp_path.glob("results/minilm/many/*/attention.pt")))
        if written:  # mid-extraction: some records are written, the others not yet
            cancelled = re.search(r"SLURM job (\d+)", extract_log.read_text()).group(1)
            subprocess.run(["scancel", cancelled], check=True)
        time.sleep(0.05)
    output, _ = sweep.communicate(timeout=600)
    assert cancelled is not None, "the extraction job never started: " + output[-2000:]
    assert written < count, "the job had finished before it was cancelled"
    assert sweep.returncode == 0, output[-3000:]
    jobs = submitted_jobs(output)
    extractions = sorted(job for job, rule in jobs.items() if rule == "extract_attention_many")
    assert extractions[0] == int(cancelled) and len(extractions) == 2, "one retry"
    # 60 prompts, and still one job per (model, prompt set) for the figures: 1 x 1 x 2 + 1
    assert sorted(set(jobs.values())) == ["draw_set", "extract_attention_many", "finish"]
    assert len(jobs) - 1 <= 1 * 1 * 2 + 3  # the retry aside
    assert "attempt 2" in output or "Trying to restart job" in output
    assert (tmp_path / "results" / "report.pdf").exists()
    assert len(check_records(tmp_path)) == count
