# The report (every figure in one PDF, with bookmarks) and the HTML index (thumbnails).


rule build_report:
    input:
        figures=[item["path"] for item in REPORT_ITEMS],
        records=[item["path"] for item in RECORD_ITEMS],
    output:
        report="results/report.pdf",
    log:
        "results/logs/build_report.log",
    group:
        "finish"
    conda:
        CONDA_ENV
    params:
        figures=REPORT_ITEMS,
        records=RECORD_ITEMS,
        title=SWEEP.config.title,
        config=CONFIG_YAML,
        commit=COMMIT,
    script:
        "../../scripts/build_report.py"


rule build_index:
    input:
        thumbnails=[item["thumbnail"] for item in REPORT_ITEMS],
        report="results/report.pdf",
        viewers=VIEWER_DIRS,
    output:
        index="results/index.html",
    log:
        "results/logs/build_index.log",
    group:
        "finish"
    conda:
        CONDA_ENV
    params:
        figures=REPORT_ITEMS,
        viewers=VIEWER_PAGES,
        title=SWEEP.config.title,
    script:
        "../../scripts/build_index.py"
