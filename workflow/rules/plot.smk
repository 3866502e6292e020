# Figures: one job per (model, prompt set) draws every figure of the set (each prompt x view x
# layout x variant) in one process, from the records alone (no model is loaded). Figures are
# `update` outputs: the job keeps those already drawn from the same inputs (a rerun after a
# killed job draws only what is missing). On a cluster the job runs in one SLURM job with the
# set's head statistics (group draw_set); per-set work such as a viewer page belongs there too.


for model, prompt_set in model_sets():

    rule:
        name:
            rule_name("plot_figures", model, prompt_set)
        input:
            records=set_records(model, prompt_set),
            head_stats=HEAD_STATS.format(model=model, prompt_set=prompt_set),
        output:
            figures=update(set_outputs(model, prompt_set, "figure")),
            thumbnails=update(set_outputs(model, prompt_set, "thumbnail")),
        log:
            f"results/logs/plot_figures/{model}/{prompt_set}.log",
        group:
            "draw_set"
        conda:
            CONDA_ENV
        resources:
            mem_mb=stats_mem_mb,
        params:
            figures=set_tasks(model, prompt_set),
            style=PLOT_STYLE,
        script:
            "../../scripts/plot_figures.py"
