# The report (every figure in one PDF, with bookmarks) and the HTML index (thumbnails); what
# they hold comes from attnviz.report_items.

RECORD_ITEMS = report_items.record_items(SWEEP)


rule build_report:
    input:
        figures=[item["path"] for item in REPORT_ITEMS],
        records=[item["path"] for item in RECORD_ITEMS],
    output:
        report=paths.REPORT,
    log:
        paths.log("build_report"),
    group:
        "finish"
    conda:
        CONDA_ENV
    params:
        figures=REPORT_ITEMS,
        records=RECORD_ITEMS,
        title=SWEEP.config.title,
        config=report_items.config_yaml(SWEEP),
        commit=report_items.git_commit(workflow.basedir),
    script:
        "../../scripts/build_report.py"


rule build_index:
    input:
        thumbnails=[item["thumbnail"] for item in REPORT_ITEMS],
        report=paths.REPORT,
        viewers=expand(
            paths.viewer_dir(),
            model=list(SWEEP.models),
            prompt_set=list(SWEEP.prompt_sets),
        ),
    output:
        index=paths.INDEX,
    log:
        paths.log("build_index"),
    group:
        "finish"
    conda:
        CONDA_ENV
    params:
        figures=REPORT_ITEMS,
        viewers=report_items.viewer_pages(SWEEP),
        title=SWEEP.config.title,
    script:
        "../../scripts/build_index.py"
