"""Snakemake adapter: the HTML index of the sweep's figures."""

from attnviz.index import build_index
from attnviz.joblog import job_log

with job_log(snakemake.log[0]):
    build_index(
        snakemake.params.figures,
        snakemake.output.index,
        snakemake.params.title,
        snakemake.input.report,
        snakemake.params.viewers,
    )
