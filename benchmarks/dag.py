"""DAG benchmark: how long Snakemake takes to plan a large sweep.

A sweep of 20 models x 50 prompts (hub ids that are never loaded: only planning is measured,
one extraction job per model, one layer-average figure per prompt, one report) is planned with
`snakemake --dry-run` in an empty working directory, twice; the best time counts. It ends with
  RESULT dag_seconds=<s> jobs=<n>

    python benchmarks/dag.py [--models 20] [--prompts 50]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sweep_overrides(models: int, prompts: int) -> str:
    """Hydra overrides that define the whole sweep inline (no files in conf/)."""
    model_keys = " ".join(
        f"+model.m{i:02d}.hub_id=bench/tiny-{i} +model.m{i:02d}.architecture=decoder"
        for i in range(models)
    )
    prompt_list = ",".join(f"{{id:p{j:02d},text:prompt_{j}}}" for j in range(prompts))
    return (
        "model=[] prompts=[] mode=[full_sequence] plot.layouts=[layer_average] "
        f"{model_keys} +prompts.bench={{prompts:[{prompt_list}]}}"
    )


def plan(overrides: str, workdir: str) -> tuple[float, int]:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--dry-run",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        workdir,
        "--cores",
        "1",
        "--config",
        f"overrides={overrides}",
    ]
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"snakemake failed:\n{run.stderr[-2000:]}")
    total = re.search(r"^total\s+(\d+)", run.stdout, re.M)
    return seconds, int(total.group(1)) if total else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--prompts", type=int, default=50)
    args = parser.parse_args()
    overrides = sweep_overrides(args.models, args.prompts)
    with tempfile.TemporaryDirectory() as workdir:
        runs = [plan(overrides, workdir) for _ in range(2)]
    seconds, jobs = min(runs)
    print(f"{args.models} models x {args.prompts} prompts: {jobs} jobs planned in {seconds:.2f} s")
    print(f"RESULT dag_seconds={seconds:.2f} jobs={jobs}")


if __name__ == "__main__":
    main()
