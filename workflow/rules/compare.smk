# Comparisons across models (conf/comparison/): one job per comparison and prompt set draws a
# figure per prompt and kind, from the records of the comparison's models (`update` outputs,
# as the figures). On a cluster it runs with the report and the index (group finish).


for name, prompt_set in tasks.comparison_sets(SWEEP):
    comparison_tasks = tasks.comparison_tasks(SWEEP, name, prompt_set)

    rule:
        name:
            rule_name("plot_comparisons", name, prompt_set)
        input:
            records=tasks.comparison_records(SWEEP, name, prompt_set),
        output:
            figures=update(outputs(comparison_tasks, "figure")),
            thumbnails=update(outputs(comparison_tasks, "thumbnail")),
        log:
            paths.log("plot_comparisons", name, prompt_set),
        group:
            "finish"
        conda:
            CONDA_ENV
        resources:
            mem_mb=comparison_mem_mb,
        params:
            comparisons=comparison_tasks,
            name=name,
            settings=tasks.comparison_settings(SWEEP, name),
            style=PLOT_STYLE,
        script:
            "../../scripts/plot_comparisons.py"
