"""Snakemake adapter: the table of head statistics of one model on one prompt set."""

from attnviz.head_stats import write_set_stats
from attnviz.joblog import job_log

with job_log(snakemake.log[0]):
    write_set_stats(
        list(snakemake.input.records),
        snakemake.wildcards.prompt_set,
        snakemake.output.table,
        snakemake.params.expected,
    )
