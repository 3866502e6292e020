"""What jobs ask a cluster for: memory from the model's weights and the record, more on each
retry, and a GPU only for models placed on cuda."""

from __future__ import annotations

import pytest

from attnviz.config import ModelConfig
from attnviz.resources import (
    BASE_MB,
    extraction_gpus,
    extraction_mem_mb,
    plot_mem_mb,
    stats_mem_mb,
)


def folder_with_weights(path, megabytes: int):
    path.mkdir()
    (path / "model.safetensors").write_bytes(b"\0" * (megabytes * 2**20))
    (path / "config.json").write_text("{}" * 10_000)  # not weights: not counted
    return path


def test_extraction_memory_scales_with_weights_and_attempt(tmp_path):
    small = folder_with_weights(tmp_path / "small", 10)
    large = folder_with_weights(tmp_path / "large", 40)
    model = ModelConfig(architecture="encoder", path=str(small))
    assert extraction_mem_mb(model, str(small)) == BASE_MB + 25  # float32: 2.5 x the files
    assert extraction_mem_mb(model, str(large)) == BASE_MB + 100
    assert extraction_mem_mb(model, str(large), attempt=2) == 2 * (BASE_MB + 100)
    half = ModelConfig(architecture="encoder", path=str(large), dtype="bfloat16")
    assert extraction_mem_mb(half, str(large)) == BASE_MB + 60


def test_configured_memory_and_hub_models(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    given = ModelConfig(architecture="decoder", hub_id="org/model", mem_gb=24)
    assert extraction_mem_mb(given, "org/model", attempt=3) == 3 * 24 * 1024
    hub = ModelConfig(architecture="decoder", hub_id="org/model")
    assert extraction_mem_mb(hub, "org/model") == 8192  # not downloaded: size unknown
    snapshots = tmp_path / "hub" / "models--org--model" / "snapshots"
    snapshots.mkdir(parents=True)
    folder_with_weights(snapshots / "abc123", 40)  # downloaded: sized like a local folder
    assert extraction_mem_mb(hub, "org/model") == BASE_MB + 100


def test_head_statistics_memory_counts_the_largest_record(tmp_path):
    small, large = tmp_path / "a.pt", tmp_path / "b.pt"
    small.write_bytes(b"\0" * (10 * 2**20))
    large.write_bytes(b"\0" * (100 * 2**20))
    assert stats_mem_mb([small, large, small]) == plot_mem_mb([large])


@pytest.mark.parametrize(("device", "gpus"), [("cuda", 1), ("auto", 0), ("cpu", 0)])
def test_only_cuda_models_ask_for_a_gpu(device, gpus):
    assert (
        extraction_gpus(ModelConfig(architecture="encoder", demo="minilm", device=device)) == gpus
    )


def test_plot_memory_scales_with_the_record(tmp_path):
    record = tmp_path / "attention.pt"
    record.write_bytes(b"\0" * (100 * 2**20))
    assert plot_mem_mb([record]) == BASE_MB + 600
    assert plot_mem_mb([record], attempt=2) == 2 * (BASE_MB + 600)
    assert plot_mem_mb([record, record]) == BASE_MB + 1200  # a comparison of two models
