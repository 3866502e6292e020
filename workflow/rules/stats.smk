# Head statistics: per model and prompt set, a table of every (prompt, layer, head); then one
# table for the whole sweep. From records only (the summary figure of a table: plot.smk).


rule compute_head_stats:
    input:
        records=set_records_of,
    output:
        table=paths.head_stats(),
    log:
        paths.log("compute_head_stats", "{model}", "{prompt_set}"),
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
        tables=expand(
            paths.head_stats(),
            model=list(SWEEP.models),
            prompt_set=list(SWEEP.prompt_sets),
        ),
    output:
        table=paths.SWEEP_STATS,
    log:
        paths.log("collect_head_stats"),
    group:
        "finish"
    conda:
        CONDA_ENV
    script:
        "../../scripts/collect_head_stats.py"
