"""Snakemake adapter: collect every figure of the sweep into the report."""

from attnviz.joblog import job_log
from attnviz.report import build_report, report_entries

with job_log(snakemake.log[0]):
    build_report(
        report_entries(snakemake.params.figures), snakemake.output.report, snakemake.params.title
    )
