"""Snakemake adapter: draw every figure of one model on one prompt set in this process."""

import logging

from attnviz.config import PlotConfig
from attnviz.joblog import job_log
from attnviz.plot.batch import FigureTask, render_figures

with job_log(snakemake.log[0]):
    logging.getLogger("attnviz").setLevel(logging.INFO)
    render_figures(
        [FigureTask(**task) for task in snakemake.params.figures],
        PlotConfig(**snakemake.params.style),
        snakemake.input.head_stats,
    )
