# attnviz: attention heatmaps for a sweep of models x prompt sets x modes.
# The sweep is composed once from conf/ (Hydra); see README for --config experiment=/overrides=.
from snakemake.utils import min_version

min_version("9.0")


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/plot.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/viewer.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        report=paths.REPORT,
        index=paths.INDEX,
        head_stats=paths.SWEEP_STATS,
