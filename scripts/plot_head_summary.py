"""Snakemake adapter: the head summary figure of one model on one prompt set, from its table."""

from attnviz.joblog import job_log
from attnviz.plot.render import render_head_summary

with job_log(snakemake.log[0]):
    render_head_summary(snakemake.input.table, snakemake.output.figure, snakemake.output.thumbnail)
