"""Records from the same request are reused; anything else is extracted again."""

from __future__ import annotations

import pytest
import torch

import attnviz.extract as extract_module
from attnviz.config import ExtractConfig, ModelConfig, PromptConfig
from attnviz.errors import AttnvizError
from attnviz.extract import extract_prompt_set
from attnviz.record import load_record

PROMPTS = [PromptConfig(id="a", text="Summer is warm."), PromptConfig(id="b", text="Hi there.")]


@pytest.fixture
def run(model_dir, tmp_path):
    source = str(model_dir("minilm"))
    outputs = [str(tmp_path / f"{p.id}.pt") for p in PROMPTS]

    def run_(settings=None):
        settings = settings or ExtractConfig()
        cfg = ModelConfig(architecture="encoder", path=source, device="cpu")
        extract_prompt_set("minilm", cfg, source, PROMPTS, settings, outputs)
        return outputs

    return run_


def test_metadata_tells_where_a_record_came_from(run):
    meta = load_record(run()[0])["meta"]
    assert meta["model"] == "minilm" and meta["architecture"] == "encoder"
    assert len(meta["weights_sha256"]) == 64 and len(meta["prompt_sha256"]) == 64
    assert meta["prompt"]["text"] == "Summer is warm."
    assert meta["settings"]["storage_dtype"] == "float16"
    assert meta["device"] == "cpu" and meta["model_dtype"] == "float32"
    assert meta["tokenizer"].startswith("BertTokenizer")
    assert set(meta["versions"]) == {"attnviz", "torch", "transformers"}


def test_same_request_is_reused_without_loading_the_model(run, monkeypatch):
    outputs = run()
    before = [open(p, "rb").read() for p in outputs]
    monkeypatch.setattr(extract_module, "load_model", pytest.fail)
    run()
    assert [open(p, "rb").read() for p in outputs] == before


def test_other_settings_are_extracted_again(run):
    outputs = run()
    run(ExtractConfig(storage_dtype="float32"))
    assert load_record(outputs[0])["attention"]["self"].dtype == torch.float32


@pytest.mark.parametrize("size", [0, 10, 300, -10])
def test_truncated_record_is_extracted_again(run, capsys, size):
    outputs = run()
    whole = open(outputs[1], "rb").read()
    open(outputs[1], "wb").write(whole[:size])
    run()
    assert "not reusing" in capsys.readouterr().out
    assert load_record(outputs[1])["tokens"][1] == "hi"


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_planted_pickle_is_refused_and_replaced(run, tmp_path):
    outputs = run()
    marker = tmp_path / "pwned"
    with open(outputs[0], "wb") as fh:
        torch.save({"meta": _Payload(str(marker))}, fh)
    run()
    assert not marker.exists()
    assert load_record(outputs[0])["tokens"][0] == "[CLS]"


def test_bad_selection_writes_no_file(run, tmp_path):
    with pytest.raises(AttnvizError, match="layer index 9"):
        run(ExtractConfig(layers=[9]))
    assert list(tmp_path.glob("*.pt")) == []


def test_a_record_of_another_model_name_on_the_same_folder_is_extracted_again(run, model_dir):
    outputs = run()
    source = str(model_dir("minilm"))
    cfg = ModelConfig(architecture="encoder", path=source, device="cpu")
    extract_prompt_set("minilm_copy", cfg, source, PROMPTS, ExtractConfig(), outputs)
    assert load_record(outputs[0])["meta"]["model"] == "minilm_copy"
