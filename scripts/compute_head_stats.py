"""Snakemake adapter: head statistics of one model on one prompt set (table and summary)."""

from attnviz.joblog import job_log
from attnviz.plot.render import render_head_summary

with job_log(snakemake.log[0]):
    render_head_summary(
        list(snakemake.input.records),
        snakemake.wildcards.prompt_set,
        snakemake.output.table,
        snakemake.output.figure,
        snakemake.output.thumbnail,
        snakemake.params.expected,
    )
