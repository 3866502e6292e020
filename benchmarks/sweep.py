"""Sweep benchmark: does a sweep cost what its models and figures cost, not process start-up?

In one run, on the demo models (prepared beforehand, not timed), with a prompt set of 20
sentences and the default plot settings:
  - the sweep: `snakemake --cores 2` on minilm and smollm2 from empty results (models kept),
    timed, and the jobs it ran counted (each job is one process);
  - the floor: one Python process that does the same work with the attnviz API in a loop (the
    records, head statistics, figures, viewer pages, report and index, at the workflow's paths);
  - drawing in process: SmolLM2's 30-panel layer-average grid and a 12-panel heads page of one
    of its records (best of 5, PDF and thumbnail written).
It ends with
  RESULT sweep_s=<s> floor_s=<s> ratio=<sweep/floor> jobs=<n> layer_grid_s=<s> heads_page_s=<s>

    python benchmarks/sweep.py
    python benchmarks/sweep.py --draw-only    # the two figures only (about a minute)
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ["minilm", "smollm2"]
SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A cat slept on the warm windowsill all afternoon.",
    "Rain fell softly on the roofs of the old town.",
    "She opened the letter and smiled at the first line.",
    "The train to the coast leaves every hour on weekdays.",
    "Children were building a sandcastle near the pier.",
    "He forgot his umbrella at the small corner cafe.",
    "The library closes early on Sunday evenings.",
    "A gentle wind carried leaves across the empty park.",
    "The orchestra tuned their instruments before the concert.",
    "Our neighbour grows tomatoes and beans in her garden.",
    "The museum shows paintings from the last three centuries.",
    "Snow covered the mountain road during the night.",
    "The baker sells fresh bread before sunrise each day.",
    "Two friends shared a pizza after the football match.",
    "The river flows slowly through the green valley.",
    "A red kite circled high above the quiet fields.",
    "The teacher wrote a long equation on the board.",
    "Lights flickered in the windows of the tall tower.",
    "The old clock in the hall struck twelve at midnight.",
]
OVERRIDES = (
    f"model=[{','.join(MODELS)}] comparison=[] prompts=[] +prompts.sweep20={{prompts:["
    + ",".join(f"{{id:s{i:02d},text:'{text}'}}" for i, text in enumerate(SENTENCES))
    + "]}"
)


def workdir(root: Path) -> Path:
    """An empty working directory whose results/models is the checkout's demo models."""
    (root / "results").mkdir(parents=True)
    (root / "results" / "models").symlink_to(REPO / "results" / "models")
    return root


def run_sweep(root: Path) -> tuple[float, int]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(root), "--cores", "2", "--config", f"overrides={OVERRIDES}"]
    cmd += ["--rerun-triggers", "mtime"]  # the shared demo models are never prepared again
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"snakemake failed:\n{run.stderr[-3000:]}")
    finished = re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", run.stderr + run.stdout)
    return seconds, len([rule for rule in finished if rule != "all"])  # `all` runs nothing


def floor(root: str) -> None:
    """The same records and figures, head statistics, report and index in this one process."""
    import os

    os.chdir(root)
    import shlex

    from attnviz import paths, report_items, tasks
    from attnviz.config import VIEWER_STYLE_KEYS, compose_sweep, model_source
    from attnviz.extract import extract_prompt_set
    from attnviz.head_stats import concat_stats_csv, write_set_stats
    from attnviz.index import build_index
    from attnviz.plot.batch import FigureTask, render_figures
    from attnviz.plot.render import render_head_summary
    from attnviz.report import report_from_workflow
    from attnviz.viewer import build_viewers

    sweep = compose_sweep(shlex.split(OVERRIDES))
    name, prompt_set = next(iter(sweep.prompt_sets.items()))
    style = asdict(sweep.config.plot)
    for model, cfg in sweep.models.items():  # the workflow's jobs, with its paths and tasks
        records = tasks.set_records(sweep, name, model)
        extract_prompt_set(
            model, cfg, model_source(cfg), prompt_set.prompts, sweep.config.extract, records
        )
        table, summary = paths.head_stats(model, name), paths.head_summary(model, name)
        write_set_stats(records, name, table)
        render_head_summary(table, summary, paths.thumbnail(summary))
        figures = [FigureTask(**task) for task in tasks.set_tasks(sweep, model, name)]
        render_figures(figures, sweep.config.plot, table)
        build_viewers(
            records,
            paths.viewer_dir(model, name),
            {key: style[key] for key in VIEWER_STYLE_KEYS},
            tasks.set_expectations(sweep, model, name),
        )
    concat_stats_csv([paths.head_stats(m, name) for m in sweep.models], paths.SWEEP_STATS)
    items, config = report_items.report_items(sweep), report_items.config_yaml(sweep)
    report_from_workflow(
        items, report_items.record_items(sweep), paths.REPORT, "floor", config, "none"
    )
    build_index(items, paths.INDEX, "floor", paths.REPORT, report_items.viewer_pages(sweep))


def draw_times() -> tuple[float, float]:
    """Best of 5: the 30-panel layer-average grid and a 12-panel heads page of one record, in
    seconds (wall); the CPU seconds are printed too (a guide on a shared machine)."""

    from attnviz import extract_attention
    from attnviz.config import ModelConfig, PlotConfig
    from attnviz.models import load_model
    from attnviz.plot.render import render_figure
    from attnviz.record import save_record

    style = PlotConfig()  # the schema holds the pipeline's defaults
    cfg = ModelConfig(architecture="decoder", path=str(REPO / "results/models/smollm2"))
    model, tokenizer = load_model(cfg, cfg.path)
    with tempfile.TemporaryDirectory() as tmp:
        record = extract_attention(model, tokenizer, SENTENCES[0], model_id="smollm2")
        save_record(record, f"{tmp}/r.pt")
        times = []
        for layout, st in (("layer_average", style), ("heads", replace(style, top_k=12))):
            best = cpu = float("inf")
            for _ in range(5):
                start, start_cpu = time.perf_counter(), time.process_time()
                render_figure(
                    f"{tmp}/r.pt",
                    "full_sequence",
                    layout,
                    st,
                    f"{tmp}/f.pdf",
                    "plain",
                    f"{tmp}/t.png",
                )
                best = min(best, time.perf_counter() - start)
                cpu = min(cpu, time.process_time() - start_cpu)
            print(f"{layout}: {best:.2f} s, {cpu:.2f} s CPU", flush=True)
            times.append(best)
    return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", help=argparse.SUPPRESS)  # the floor's own process
    parser.add_argument("--draw-only", action="store_true", help="time the two figures only")
    args = parser.parse_args()
    if args.floor:
        return floor(args.floor)
    if args.draw_only:
        layer_grid_s, heads_page_s = draw_times()
        return print(f"RESULT layer_grid_s={layer_grid_s:.2f} heads_page_s={heads_page_s:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        sweep_s, jobs = run_sweep(workdir(Path(tmp) / "sweep"))
        print(f"sweep: {sweep_s:.1f} s, {jobs} jobs", flush=True)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--floor", str(workdir(Path(tmp) / "floor"))],
            check=True,
            capture_output=True,
        )
        floor_s = time.perf_counter() - start
        print(f"floor: {floor_s:.1f} s", flush=True)
    layer_grid_s, heads_page_s = draw_times()
    print(
        f"RESULT sweep_s={sweep_s:.1f} floor_s={floor_s:.1f} ratio={sweep_s / floor_s:.2f} "
        f"jobs={jobs} layer_grid_s={layer_grid_s:.2f} heads_page_s={heads_page_s:.2f}"
    )


if __name__ == "__main__":
    main()
