# Head statistics: per model and prompt set, a table of every (prompt, layer, head) and a
# summary figure of their means; then one table for the whole sweep. From records only.


rule compute_head_stats:
    input:
        records=set_records_of,
    output:
        table=HEAD_STATS,
        figure="results/{model}/{prompt_set}/head_summary.pdf",
        thumbnail="results/{model}/{prompt_set}/head_summary.png",
    log:
        "results/logs/compute_head_stats/{model}/{prompt_set}.log",
    group:
        "draw_set"
    conda:
        CONDA_ENV
    resources:
        mem_mb=stats_mem_mb,
    params:
        expected=expected_set_records,
    script:
        "../../scripts/compute_head_stats.py"


rule collect_head_stats:
    input:
        tables=HEAD_STATS_TABLES,
    output:
        table="results/head_stats.csv",
    log:
        "results/logs/collect_head_stats.log",
    group:
        "finish"
    conda:
        CONDA_ENV
    script:
        "../../scripts/collect_head_stats.py"
