"""Result paths: each written once in attnviz.paths, as a pattern the rules match and as the
concrete path of one file, the two always in step; and what each job is given (attnviz.tasks)
built from them. No Snakemake here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from attnviz import paths, tasks
from attnviz.config import compose_sweep

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SMOKE = ["experiment=smoke", "plot.layouts=[layer_average,heads,single]"]
NAMED = {  # each path function and the names of one file of its kind
    paths.demo_model: ("minilm",),
    paths.model_set: ("minilm", "demo"),
    paths.record: ("minilm", "demo", "fox"),
    paths.figure: ("minilm", "demo", "fox", "self_attention", "heads", "top_cells"),
    paths.head_stats: ("minilm", "demo"),
    paths.head_summary: ("minilm", "demo"),
    paths.viewer_dir: ("minilm", "demo"),
    paths.viewer_page: ("minilm", "demo", "fox"),
    paths.comparison: ("seeds", "demo", "fox", "stability"),
}


@pytest.fixture(scope="module")
def sweep():
    return compose_sweep(SMOKE)


def test_the_records_and_figures_are_where_the_readme_says():
    assert paths.record("minilm", "demo", "fox") == "results/minilm/demo/fox/attention.pt"
    assert (
        paths.figure("t5_tiny", "demo", "fox", "cross_attention", "heads", "plain")
        == "results/t5_tiny/demo/fox/cross_attention/heads-plain.pdf"
    )
    assert paths.head_stats("minilm", "demo") == "results/minilm/demo/head_stats.csv"
    assert paths.comparison("seeds", "demo", "fox", "stability") == (
        "results/comparisons/seeds/demo/fox/stability.pdf"
    )
    assert paths.thumbnail(paths.head_summary("m", "s")) == "results/m/s/head_summary.png"
    assert (paths.REPORT, paths.INDEX, paths.SWEEP_STATS) == (
        "results/report.pdf",
        "results/index.html",
        "results/head_stats.csv",
    )
    assert (
        paths.log("plot_figures", "minilm", "demo") == "results/logs/plot_figures/minilm/demo.log"
    )
    assert paths.log("build_report") == "results/logs/build_report.log"


@pytest.mark.parametrize("function", list(NAMED), ids=lambda f: f.__name__)
def test_each_pattern_is_the_concrete_path_with_wildcards(function):
    """A rule's pattern (no names given) matches exactly the paths the jobs are given, and the
    README's tree shows it (`<name>` for `{name}`)."""
    names = NAMED[function]
    pattern = function()
    wildcards = re.findall(r"{(\w+)}", pattern)
    assert len(wildcards) == len(names) == len(inspect.signature(function).parameters)
    assert pattern.format(**dict(zip(wildcards, names, strict=True))) == function(*names)
    partly = dict(zip(wildcards, names, strict=True)) | {wildcards[-1]: f"{{{wildcards[-1]}}}"}
    assert function(*names[:-1]) == pattern.format(**partly)  # a rule of one set: {model}/set
    regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
    assert re.fullmatch(regex, function(*names)).groups() == names
    assert re.sub(r"{(\w+)}", r"<\1>", pattern) in README


def test_an_extraction_job_writes_a_record_per_prompt_of_its_set(sweep):
    prompts = sweep.prompt_ids("tiny")
    assert tasks.set_records(sweep, "tiny") == [paths.record("{model}", "tiny", p) for p in prompts]
    assert tasks.set_records(sweep, "tiny", "minilm") == [
        f"results/minilm/tiny/{p}/attention.pt" for p in prompts
    ]


def test_a_figure_job_draws_every_figure_of_the_sweep_from_its_record(sweep):
    figure_tasks = tasks.set_tasks(sweep, "minilm", "tiny")
    expected = [
        (prompt.id, *figure)
        for prompt in sweep.prompt_sets["tiny"].prompts
        for figure in sweep.figures("minilm", prompt)
    ]
    drawn = [
        (Path(t["record"]).parent.name, t["view"], t["layout"], t["variant"]) for t in figure_tasks
    ]
    assert drawn == expected
    for task in figure_tasks:
        prompt = Path(task["record"]).parent.name
        assert task["record"] == paths.record("minilm", "tiny", prompt)
        figure = paths.figure(
            "minilm", "tiny", prompt, task["view"], task["layout"], task["variant"]
        )
        assert (task["figure"], task["thumbnail"]) == (figure, figure[: -len("pdf")] + "png")
        assert task["expected"] == tasks.expectation(sweep, "minilm", "tiny", prompt)
    assert {"self_attention", "rollout"} == {t["view"] for t in figure_tasks}


def test_a_record_is_expected_to_hold_its_model_prompt_and_extract_settings(sweep):
    expected = tasks.expectation(sweep, "t5_tiny", "tiny", "cat")
    assert expected["model"] == "t5_tiny"
    assert expected["prompt"]["id"] == "cat" and expected["prompt"]["text"]
    assert expected["settings"]["storage_dtype"] == "float16"
    assert tasks.set_expectations(sweep, "t5_tiny", "tiny") == [expected]


def test_a_comparison_job_reads_each_models_record_of_the_prompt(sweep):
    assert tasks.comparison_sets(sweep) == [("same_tokenizer", "tiny")]
    compared = tasks.comparison_tasks(sweep, "same_tokenizer", "tiny")
    assert [task["kind"] for task in compared] == ["difference", "circles"]
    for task in compared:
        assert task["records"] == [paths.record(m, "tiny", "cat") for m in ("minilm", "t5_tiny")]
        assert task["figure"] == paths.comparison("same_tokenizer", "tiny", "cat", task["kind"])
        assert task["views"] == ["self_attention", "encoder_self_attention"]
        assert task["expected"][1] == tasks.expectation(sweep, "t5_tiny", "tiny", "cat")
    assert tasks.comparison_records(sweep, "same_tokenizer", "tiny") == compared[0]["records"]
    assert tasks.comparison_settings(sweep, "same_tokenizer") == {
        "layer": -1,
        "head": None,
        "word_level": False,
    }
