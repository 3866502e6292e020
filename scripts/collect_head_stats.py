"""Snakemake adapter: the sweep-wide table of head statistics."""

from attnviz.head_stats import concat_stats_csv
from attnviz.joblog import job_log

with job_log(snakemake.log[0]):
    concat_stats_csv(list(snakemake.input.tables), snakemake.output.table)
