"""Bad input in a real Snakemake run: refused before any job (no output lost), or, for a bad
file in the cache, one `attnviz:` line from the job that reads it (no traceback)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch

from conftest import workflow_command

SWEEP = (
    "model=[tinylm_step0,tinylm_seed1] prompts=[tiny] mode=[full_sequence] "
    "plot.layouts=[layer_average] comparison=[]"
)
RECORD = "results/tinylm_step0/tiny/cat/attention.pt"
FIGURE = "results/tinylm_step0/tiny/cat/full_sequence/layer_average-plain.pdf"


def snakemake(workdir, *config):
    cmd = workflow_command(workdir, "--cores", "2", "--config", *config)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def outputs(workdir) -> dict:
    """Every record and figure of the sweep, with its bytes."""
    return {p: p.read_bytes() for p in (workdir / "results").glob("tinylm_*/**/*.p*")}


def attnviz_lines(run) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("attnviz:")]


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, demo_model_dir):
    for name in ("tinylm_step0", "tinylm_seed1"):
        demo_model_dir(name)
    workdir = tmp_path_factory.mktemp("bad_input")
    run = snakemake(workdir, f"overrides={SWEEP}")
    assert run.returncode == 0, run.stderr[-3000:]
    return workdir


@pytest.fixture
def cache(sweep):
    """The sweep's folder; its record of tinylm_step0 is put back after the test."""
    whole = (sweep / RECORD).read_bytes()
    yield sweep
    (sweep / RECORD).write_bytes(whole)


@pytest.mark.parametrize(
    "config, message",
    [
        ([f"overrides={SWEEP} plot.gamma=0"], "plot.gamma is 0.0; give a number above 0"),
        ([f"overrides={SWEEP} plot.regions=[[1,2]]"], "plot.regions has [1, 2]; give each box"),
        ([f"overrides={SWEEP} extract.layers=[5]"], "extract.layers has 5, out of range"),
        (["overrides=5"], "overrides=5 is not Hydra overrides"),
        (["experiment=5"], "experiment=5 is not the name of a saved sweep"),
    ],
)
def test_a_bad_value_stops_the_run_and_keeps_every_output(sweep, config, message):
    before = outputs(sweep)
    assert len(before) == 10  # per model: a record, a figure, the head summary, 2 thumbnails
    run = snakemake(sweep, *config)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = attnviz_lines(run)
    assert len(lines) == 1 and message in lines[0], run.stderr[-2000:]
    assert outputs(sweep) == before


def test_another_models_record_copied_into_place_is_refused(cache):
    shutil.copy(cache / RECORD.replace("tinylm_step0", "tinylm_seed1"), cache / RECORD)
    run = snakemake(cache, f"overrides={SWEEP}")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = attnviz_lines(run)  # one line from each job that reads the record
    assert lines and all(
        f"record {RECORD} was extracted for model 'tinylm_seed1'" in line for line in lines
    ), run.stderr[-2000:]
    assert f"add --forcerun '{RECORD}' to the snakemake command" in lines[0]
    run = snakemake(cache, f"overrides={SWEEP}", "--forcerun", RECORD)  # as the line says
    assert run.returncode == 0, run.stderr[-2000:]
    assert torch.load(cache / RECORD, weights_only=True)["meta"]["model"] == "tinylm_step0"
    assert (cache / FIGURE).is_file()


@pytest.mark.parametrize("size", [0, 10])
def test_a_truncated_record_is_one_line_naming_it(cache, size):
    (cache / RECORD).write_bytes((cache / RECORD).read_bytes()[:size])
    run = snakemake(cache, f"overrides={SWEEP}")
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = attnviz_lines(run)
    assert lines and all(f"record {RECORD} cannot be loaded safely" in x for x in lines)
