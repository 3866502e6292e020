# The interactive viewer: one job per (model, prompt set) writes a page per prompt (with its
# per-head data folder) into results/<model>/<prompt_set>/viewer/, from the records alone.

from attnviz.config import VIEWER_STYLE_KEYS

# The figures' colour options.
VIEWER_STYLE = {key: PLOT_STYLE[key] for key in VIEWER_STYLE_KEYS}


rule build_viewer:
    input:
        records=set_records_of,
        # not read: it joins the job to its set's figures in one SLURM job (group draw_set)
        head_stats=paths.head_stats(),
    output:
        viewers=directory(paths.viewer_dir()),
    log:
        paths.log("build_viewer", "{model}", "{prompt_set}"),
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
