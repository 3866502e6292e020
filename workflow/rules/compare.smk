# Comparisons across models (conf/comparison/): one figure per prompt and kind, from the
# records of the comparison's models.


rule plot_comparison:
    input:
        records=comparison_records,
    output:
        figure="results/comparisons/{comparison}/{prompt_set}/{prompt}/{kind}.pdf",
        thumbnail="results/comparisons/{comparison}/{prompt_set}/{prompt}/{kind}.png",
    log:
        "results/logs/plot_comparison/{comparison}/{prompt_set}/{prompt}/{kind}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=plot_mem_mb,
    params:
        views=comparison_views,
        settings=comparison_settings,
        style=PLOT_STYLE,
        expected=expected_comparison_records,
    script:
        "../../scripts/plot_comparison.py"
