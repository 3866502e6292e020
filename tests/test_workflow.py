"""The pipeline end to end: a real Snakemake run on real demo models, ending in a report."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import torch
from pypdf import PdfReader

from conftest import workflow_command

SWEEP = "plot.layouts=[layer_average,heads,single] plot.variants=[plain,top_cells]"
SMOKE = ["experiment=smoke", f"overrides={SWEEP}"]


def snakemake(workdir, *args, config=()):
    """Run the repository's workflow in `workdir` on 2 cores."""
    cmd = workflow_command(workdir, "--cores", "2", *args)
    if config:
        cmd += ["--config", *config]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, demo_model_dir):
    for name in ("minilm", "t5_tiny"):
        demo_model_dir(name)
    workdir = tmp_path_factory.mktemp("sweep")
    run = snakemake(workdir, config=SMOKE)
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


def test_report_holds_every_figure_with_bookmarks(smoke):
    reader = PdfReader(smoke / "results" / "report.pdf")
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert titles == [
        "Cover",
        "Contents",
        "minilm",
        "t5_tiny",
        "comparison same_tokenizer",
        "Provenance",
    ]
    # After cover and contents: minilm: head statistics (1 section) + 2 variants x (average,
    # 8 chosen heads on 1 page, single + rollout: average, single); t5_tiny: head statistics
    # (encoder, decoder, cross) + 2 variants x (3 views x 3 pages + rollout x 2); 2 comparisons
    provenance = reader.get_destination_page_number(reader.outline[-1])
    assert provenance == 2 + (1 + 2 * (3 + 2)) + (3 + 2 * (3 * 3 + 2)) + 2
    text = " ".join(page.extract_text() for page in reader.pages[provenance:])
    assert "weights_sha256" in text and "results/models/minilm" in text and "tiny:" in text
    minilm = reader.outline[3]  # children of "minilm": [set, [prompt, [figures], ...]]
    assert minilm[0].title == "tiny" and minilm[1][0].title == "all prompts"
    assert [f.title for f in minilm[1][1]] == ["Head statistics"]
    assert minilm[1][2].title == "cat"
    assert [f.title for f in minilm[1][3]] == [
        "Self-attention: layer averages",
        "Self-attention: layer averages, top cells",
        "Self-attention: bottom 8 heads by entropy",
        "Self-attention: bottom 8 heads by entropy, top cells",
        "Self-attention: one layer",
        "Self-attention: one layer, top cells",
        "Attention rollout: layer averages",
        "Attention rollout: layer averages, top cells",
        "Attention rollout: one layer",
        "Attention rollout: one layer, top cells",
    ]
    t5_figures = [f.title for f in reader.outline[5][1][3]]
    assert t5_figures[0] == "Encoder self-attention: layer averages"
    assert t5_figures[-1] == "Encoder rollout: one layer, top cells"
    assert len(t5_figures) == 22
    compared = reader.outline[7][1][1]  # comparison > set > prompt > kinds
    assert [f.title for f in compared] == ["Difference", "Comparison with circles"]


def test_head_statistics_of_the_sweep_are_one_table(smoke):
    table = (smoke / "results" / "head_stats.csv").read_text().splitlines()
    assert table[0].startswith("model,prompt_set,prompt,section,layer,head,entropy,")
    sections = [tuple(row.split(",")[:4]) for row in table[1:]]
    assert sections.count(("minilm", "tiny", "cat", "self")) == 6 * 12
    for section in ("encoder", "decoder", "cross"):
        assert sections.count(("t5_tiny", "tiny", "cat", section)) == 4 * 4
    assert len(PdfReader(smoke / "results/t5_tiny/tiny/head_summary.pdf").pages) == 3


def test_records_are_cached_per_prompt_and_load_safely(smoke):
    for model, section, layers in (("minilm", "self", 6), ("t5_tiny", "cross", 4)):
        path = smoke / "results" / model / "tiny" / "cat" / "attention.pt"
        record = torch.load(path, weights_only=True)
        assert record["attention"][section].shape[0] == layers
        assert record["meta"]["model"] == model and record["meta"]["prompt_id"] == "cat"


def test_every_job_writes_a_log(smoke):
    logs = smoke / "results" / "logs"
    assert (logs / "extract_attention" / "minilm" / "tiny.log").is_file()
    assert (logs / "plot_figures" / "t5_tiny" / "tiny.log").is_file()
    assert (logs / "plot_comparisons" / "same_tokenizer" / "tiny.log").is_file()
    assert (logs / "build_report.log").is_file()


def test_second_run_has_nothing_to_do(smoke):
    run = snakemake(smoke, "--dry-run", config=SMOKE)
    assert run.returncode == 0
    assert "Nothing to be done" in run.stdout + run.stderr


@pytest.mark.parametrize(
    "config, message",
    [
        (["overrides=model=[nope]"], "unknown model 'nope'"),
        (
            ["overrides=+model.mine.path=/no/such/model +model.mine.architecture=decoder"],
            "path '/no/such/model' is not a folder",
        ),
        (
            ["experiment=smoke", "overrides=prompts.tiny.prompts=[]"],
            "prompt set 'tiny' has no prompts",
        ),
        (["overrides=+plot.colour=red"], "unknown key 'plot.colour'"),
        (["colour=red"], "unknown key colour"),
    ],
)
def test_bad_input_stops_before_any_job(tmp_path, config, message):
    run = snakemake(tmp_path, config=config)
    assert run.returncode != 0
    lines = [line for line in run.stderr.splitlines() if line.startswith("attnviz:")]
    assert len(lines) == 1 and message in lines[0], run.stderr[-2000:]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["models"]  # nothing written


def test_generation_experiment_plans_every_decoder_view(tmp_path):
    run = snakemake(tmp_path, "--dry-run", config=["experiment=generation"])
    assert run.returncode == 0, run.stderr[-2000:]
    planned = run.stdout
    for view in (
        "full_sequence",
        "self_attention_source",
        "generated_to_source",
        "self_attention_generated",
    ):
        assert f"results/smollm2/demo_generation/capital/{view}/heads-plain.pdf" in planned
    assert "results/t5_tiny/demo_generation/recipe/cross_attention/heads-plain.pdf" in planned
    assert "results/t5_tiny/demo_generation/recipe/generated_to_source" not in planned


def test_question_context_experiment_plans_five_panel_figures_for_pairs_only(tmp_path):
    run = snakemake(tmp_path, "--dry-run", config=["experiment=question_context"])
    assert run.returncode == 0, run.stderr[-2000:]
    planned = run.stdout
    assert "results/minilm/demo_qc/capital/question_context/single-top_cells.pdf" in planned
    assert "results/minilm/demo_qc/capital/question_context/layer_average" not in planned
    assert "results/minilm/demo_qc/fox/question_context" not in planned  # a text prompt
    assert "results/minilm/demo_qc/fox/self_attention/single-plain.pdf" in planned


def planned_jobs(workdir, overrides: str) -> dict[str, int]:
    """{rule: jobs} that a dry run of the smoke sweep with `overrides` would run; figures,
    which batched jobs draw per (model, prompt set), count as plot_<layout> (or
    plot_comparison) jobs each, as when each figure was a job of its own."""
    run = snakemake(workdir, "--dry-run", config=["experiment=smoke", f"overrides={overrides}"])
    assert run.returncode == 0, run.stderr[-2000:]
    jobs = {}
    for block in run.stdout.split("Job stats:")[1:2]:
        for line in block.strip().splitlines()[2:]:  # after the header and the dashes
            if not line.strip():
                break
            rule, count = line.split()
            if not rule.startswith(("plot_figures_", "plot_comparisons_")):
                jobs[rule] = int(count)
    planned = dict(re.findall(r"\n\s*rule (plot_\w+):\n(?:.*\n)*?\s+output: (.*)", run.stdout))
    for rule, outputs in planned.items():  # a job once, though a group lists it too
        for path in outputs.split(", "):
            path = path.removesuffix(" (update)")
            if path.endswith(".pdf"):
                figure = "plot_comparison" if rule.startswith("plot_comparisons_") else None
                figure = figure or "plot_" + path.rsplit("/", 1)[1].split("-")[0]
                jobs[figure] = jobs.get(figure, 0) + 1
    return jobs


def test_changing_a_plot_setting_reruns_only_plots_and_the_report(smoke):
    jobs = planned_jobs(smoke, f"{SWEEP} plot.cmap=magma")
    assert set(jobs) == {
        "plot_layer_average",
        "plot_heads",
        "plot_single",
        "plot_comparison",
        "build_report",
        "build_index",
        "build_viewer",  # the viewer uses the figures' colour options
        "all",
        "total",
    }  # no extraction, and the head statistics stay
    assert jobs["plot_layer_average"] == 2 * (2 + 4)  # variants x (minilm, t5 views + rollout)


def test_changing_the_prompt_set_reruns_only_its_extraction(smoke):
    jobs = planned_jobs(smoke, f"{SWEEP} prompts.tiny.prompts.0.text=A_cat_sat")
    assert jobs["extract_attention_tiny"] == 2  # one per model, and nothing is prepared again
    assert "prepare_demo_model" not in jobs


def test_adding_a_model_runs_only_that_models_jobs(smoke):
    jobs = planned_jobs(smoke, f"{SWEEP} model=[minilm,t5_tiny,smollm2]")
    assert jobs["extract_attention_tiny"] == 1
    assert jobs["plot_layer_average"] == 2 * 2  # smollm2's full_sequence and its rollout
    assert "prepare_demo_model" not in jobs  # the demo models are already built


def test_a_rerun_from_scratch_gives_identical_bytes(tmp_path, demo_model_dir):
    demo_model_dir("minilm")
    config = [
        "experiment=smoke",
        "overrides=model=[minilm] comparison=[] plot.variants=[plain,regions]",
    ]

    def outputs():
        results = tmp_path / "results"
        files = [
            p
            for p in results.rglob("*")
            if p.suffix in (".pt", ".pdf") and "models" not in p.relative_to(results).parts
        ]
        return {str(p.relative_to(results)): p.read_bytes() for p in files}

    assert snakemake(tmp_path, config=config).returncode == 0
    first = outputs()
    for path in (tmp_path / "results").iterdir():
        if path.name != "models":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(tmp_path / ".snakemake")
    assert snakemake(tmp_path, config=config).returncode == 0
    second = outputs()
    assert "report.pdf" in first and any(k.endswith("attention.pt") for k in first)
    assert sorted(first) == sorted(second)
    assert [k for k in first if first[k] != second[k]] == []


def test_html_index_shows_every_figure_with_working_links(smoke):
    results = smoke / "results"
    page = (results / "index.html").read_text()
    images = re.findall(r"src='([^']+)'", page)
    links = re.findall(r"href='([^']+)'", page)
    # variants x (minilm: 3 layouts + rollout 2, t5: 3 views x 3 + rollout 2), head statistics
    # of both models, 2 comparisons
    assert len(images) == 2 * (3 + 2 + 3 * 3 + 2) + 2 + 2
    assert links[0] == "report.pdf" and len(links) == 1 + len(images) + 2  # + 2 viewers
    assert all((results / path).is_file() for path in images + links)
    assert all(path.endswith(".png") for path in images)
    assert "t5_tiny" in page and "Cross-attention: one layer, top cells" in page
    assert "t5_tiny/tiny/viewer/cat.html" in links and "minilm/tiny/viewer/cat.html" in links
