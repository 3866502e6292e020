# The interactive viewer: one job per (model, prompt set) writes a page per prompt (with its
# per-head data folder) into results/<model>/<prompt_set>/viewer/, from the records alone.

from attnviz.config import VIEWER_STYLE_KEYS

# The figures' colour options.
VIEWER_STYLE = {key: PLOT_STYLE[key] for key in VIEWER_STYLE_KEYS}
VIEWER_DIRS = [
    f"results/{model}/{prompt_set}/viewer"
    for model in SWEEP.models
    for prompt_set in SWEEP.prompt_sets
]
VIEWER_PAGES = {
    f"{model}/{prompt_set}/{prompt.id}": f"results/{model}/{prompt_set}/viewer/{prompt.id}.html"
    for model, prompt_set, prompt in SWEEP.pairs()
}


rule build_viewer:
    input:
        records=set_records_of,
        # not read: it joins the job to its set's figures in one SLURM job (group draw_set)
        head_stats=HEAD_STATS,
    output:
        viewers=directory("results/{model}/{prompt_set}/viewer"),
    log:
        "results/logs/build_viewer/{model}/{prompt_set}.log",
    group:
        "draw_set"
    conda:
        CONDA_ENV
    resources:
        mem_mb=stats_mem_mb,
    params:
        style=VIEWER_STYLE,
        expected=expected_set_records,
    script:
        "../../scripts/build_viewer.py"
