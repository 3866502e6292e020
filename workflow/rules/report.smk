# The report: every figure of the sweep in one PDF with nested bookmarks.


rule build_report:
    input:
        figures=[item["path"] for item in REPORT_ITEMS],
        records=[item["path"] for item in RECORD_ITEMS],
    output:
        report="results/report.pdf",
    log:
        "results/logs/build_report.log",
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
