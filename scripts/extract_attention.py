"""Snakemake adapter: extract the attention of one model on one prompt set."""

from attnviz.config import ExtractConfig, ModelConfig, PromptConfig
from attnviz.extract import extract_prompt_set
from attnviz.joblog import job_log

with job_log(snakemake.log[0]):
    extract_prompt_set(
        name=snakemake.wildcards.model,
        model_cfg=ModelConfig(**snakemake.params.model),
        source=snakemake.params.source,
        prompts=[PromptConfig(**prompt) for prompt in snakemake.params.prompts],
        settings=ExtractConfig(**snakemake.params.extract),
        outputs=list(snakemake.output.records),
    )
