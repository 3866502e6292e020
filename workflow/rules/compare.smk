# Comparisons across models (conf/comparison/): one job per comparison and prompt set draws a
# figure per prompt and kind, from the records of the comparison's models (`update` outputs,
# as the figures). On a cluster it runs with the report and the index (group finish).


for name, prompt_set in comparison_sets():

    rule:
        name:
            rule_name("plot_comparisons", name, prompt_set)
        input:
            records=comparison_records(name, prompt_set),
        output:
            figures=update(comparison_outputs(name, prompt_set, "figure")),
            thumbnails=update(comparison_outputs(name, prompt_set, "thumbnail")),
        log:
            f"results/logs/plot_comparisons/{name}/{prompt_set}.log",
        group:
            "finish"
        conda:
            CONDA_ENV
        resources:
            mem_mb=comparison_mem_mb,
        params:
            comparisons=comparison_tasks(name, prompt_set),
            name=name,
            settings=comparison_settings(name),
            style=PLOT_STYLE,
        script:
            "../../scripts/plot_comparisons.py"
