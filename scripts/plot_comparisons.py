"""Snakemake adapter: draw every figure of one comparison on one prompt set in this process."""

import logging

from attnviz.config import PlotConfig
from attnviz.joblog import job_log
from attnviz.plot.batch import ComparisonTask, render_comparisons

with job_log(snakemake.log[0]):
    logging.getLogger("attnviz").setLevel(logging.INFO)
    render_comparisons(
        [ComparisonTask(**task) for task in snakemake.params.comparisons],
        snakemake.params.name,
        snakemake.params.settings,
        PlotConfig(**snakemake.params.style),
    )
