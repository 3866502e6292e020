# Figures: one job per prompt x view x layout x highlight variant, from the record alone (no
# model is loaded).


rule plot_layer_average:
    input:
        record="results/{model}/{prompt_set}/{prompt}/attention.pt",
    output:
        figure="results/{model}/{prompt_set}/{prompt}/{view}/layer_average-{variant}.pdf",
        thumbnail="results/{model}/{prompt_set}/{prompt}/{view}/layer_average-{variant}.png",
    log:
        "results/logs/plot_layer_average/{model}/{prompt_set}/{prompt}/{view}-{variant}.log",
    conda:
        CONDA_ENV
    resources:
        mem_mb=plot_mem_mb,
    params:
        layout="layer_average",
        style=PLOT_STYLE,
        expected=expected_record,
    script:
        "../../scripts/plot_figure.py"


use rule plot_layer_average as plot_heads with:
    input:
        record="results/{model}/{prompt_set}/{prompt}/attention.pt",
        head_stats=head_stats_table,
    output:
        figure="results/{model}/{prompt_set}/{prompt}/{view}/heads-{variant}.pdf",
        thumbnail="results/{model}/{prompt_set}/{prompt}/{view}/heads-{variant}.png",
    log:
        "results/logs/plot_heads/{model}/{prompt_set}/{prompt}/{view}-{variant}.log",
    params:
        layout="heads",
        style=PLOT_STYLE,
        expected=expected_record,


use rule plot_layer_average as plot_single with:
    output:
        figure="results/{model}/{prompt_set}/{prompt}/{view}/single-{variant}.pdf",
        thumbnail="results/{model}/{prompt_set}/{prompt}/{view}/single-{variant}.png",
    log:
        "results/logs/plot_single/{model}/{prompt_set}/{prompt}/{view}-{variant}.log",
    params:
        layout="single",
        style=PLOT_STYLE,
        expected=expected_record,
