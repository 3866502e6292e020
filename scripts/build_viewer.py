"""Snakemake adapter: the viewer pages of one model's prompt set, one per record."""

from attnviz.joblog import job_log
from attnviz.viewer import build_viewers

with job_log(snakemake.log[0]):
    build_viewers(list(snakemake.input.records), snakemake.output.viewers, snakemake.params.style)
