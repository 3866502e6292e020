# Extraction: one job per (model, prompt set) loads the model once and writes one record per
# prompt. The prompts of a set are known when the sweep is composed, so each set gets a rule.


for prompt_set in SWEEP.prompt_sets:

    rule:
        name:
            rule_name("extract_attention", prompt_set)
        input:
            model=model_folder,
        output:
            records=tasks.set_records(SWEEP, prompt_set),
        log:
            paths.log("extract_attention", "{model}", prompt_set),
        conda:
            CONDA_ENV
        threads: 2
        resources:
            mem_mb=extraction_mem_mb(prompt_set),
            gpu=extraction_gpus,
        params:
            model=model_params,
            source=model_source_param,
            prompts=prompt_params(prompt_set),
            extract=EXTRACT_SETTINGS,
        script:
            "../../scripts/extract_attention.py"
