"""Snakemake adapter: draw one layout of one view of one record, in one highlight variant."""

from attnviz.config import PlotConfig
from attnviz.joblog import job_log
from attnviz.plot import render_figure

with job_log(snakemake.log[0]):
    render_figure(
        snakemake.input.record,
        snakemake.wildcards.view,
        snakemake.params.layout,
        PlotConfig(**snakemake.params.style),
        snakemake.output.figure,
        snakemake.wildcards.variant,
        snakemake.output.thumbnail,
        snakemake.input.get("head_stats") or None,
        snakemake.params.expected,
    )
