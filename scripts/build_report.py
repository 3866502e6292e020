"""Snakemake adapter: collect every figure of the sweep into the report."""

from attnviz.joblog import job_log
from attnviz.report import report_from_workflow

with job_log(snakemake.log[0]):
    report_from_workflow(
        snakemake.params.figures,
        snakemake.params.records,
        snakemake.output.report,
        snakemake.params.title,
        snakemake.params.config,
        snakemake.params.commit,
    )
