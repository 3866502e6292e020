"""Snakemake adapter: build one demo model folder."""

from attnviz.demo_models import prepare_demo_model
from attnviz.joblog import job_log

with job_log(snakemake.log[0]):
    prepare_demo_model(snakemake.wildcards.demo, snakemake.output.model)
