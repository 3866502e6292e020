# Figures: one job per (model, prompt set) draws every figure of the set (each prompt x view x
# layout x variant) in one process, from the records alone (no model is loaded). Figures are
# `update` outputs: the job keeps those already drawn from the same inputs (a rerun after a
# killed job draws only what is missing). On a cluster the job runs in one SLURM job with the
# set's head statistics (group draw_set); per-set work such as a viewer page belongs there too.


for model, prompt_set in model_sets():
    figure_tasks = tasks.set_tasks(SWEEP, model, prompt_set)

    rule:
        name:
            rule_name("plot_figures", model, prompt_set)
        input:
            records=tasks.set_records(SWEEP, prompt_set, model),
            head_stats=paths.head_stats(model, prompt_set),
        output:
            figures=update(outputs(figure_tasks, "figure")),
            thumbnails=update(outputs(figure_tasks, "thumbnail")),
        log:
            paths.log("plot_figures", model, prompt_set),
        group:
            "draw_set"
        conda:
            CONDA_ENV
        resources:
            mem_mb=stats_mem_mb,
        params:
            figures=figure_tasks,
            style=PLOT_STYLE,
        script:
            "../../scripts/plot_figures.py"


# The head summary of a model on a prompt set: a layers x heads map of each statistic's mean,
# from the set's table of head statistics (in the set's SLURM job, group draw_set).
rule plot_head_summary:
    input:
        table=paths.head_stats(),
    output:
        figure=paths.head_summary(),
        thumbnail=paths.thumbnail(paths.head_summary()),
    log:
        paths.log("plot_head_summary", "{model}", "{prompt_set}"),
    group:
        "draw_set"
    conda:
        CONDA_ENV
    script:
        "../../scripts/plot_head_summary.py"
