"""Snakemake adapter: one prompt's attention compared across the models of a comparison."""

from attnviz.config import PlotConfig
from attnviz.joblog import job_log
from attnviz.plot.render import render_comparison

with job_log(snakemake.log[0]):
    render_comparison(
        list(snakemake.input.records),
        snakemake.params.views,
        snakemake.wildcards.kind,
        snakemake.wildcards.comparison,
        snakemake.params.settings,
        PlotConfig(**snakemake.params.style),
        snakemake.output.figure,
        snakemake.output.thumbnail,
        snakemake.params.expected,
    )
