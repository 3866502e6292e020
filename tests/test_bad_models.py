"""Model folders that do not fit: refused up front in one line that names the folder; and
prompts typed on the command line taken as typed."""

from __future__ import annotations

import shutil

import pytest

from attnviz.__main__ import main
from attnviz.config import ModelConfig
from attnviz.errors import AttnvizError
from attnviz.models import load_model
from attnviz.record import load_record


def _copy(model_dir, tmp_path, with_tokenizer: bool):
    source = model_dir("tinylm_step0")
    folder = tmp_path / "model"
    folder.mkdir()
    for path in source.iterdir():
        if with_tokenizer or not path.name.startswith("tokenizer"):
            shutil.copy(path, folder / path.name)
    return folder


def _load(folder):
    return load_model(ModelConfig(architecture="decoder", path=str(folder)), str(folder), "mine")


def test_a_folder_without_tokenizer_files_is_refused_before_the_weights(model_dir, tmp_path):
    folder = _copy(model_dir, tmp_path, with_tokenizer=False)
    (folder / "model.safetensors").write_bytes(b"not weights")  # never read
    with pytest.raises(AttnvizError) as err:
        _load(folder)
    assert str(err.value) == (
        f"model 'mine': folder {folder} holds no tokenizer files; save the model's tokenizer "
        f"there (tokenizer.save_pretrained('{folder}'))"
    )


def test_a_tokenizer_larger_than_the_models_vocabulary_is_refused(model_dir, tmp_path):
    import transformers

    folder = _copy(model_dir, tmp_path, with_tokenizer=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    tokenizer.add_tokens(["<extra_a>", "<extra_b>"])
    tokenizer.save_pretrained(folder)
    (folder / "model.safetensors").write_bytes(b"not weights")  # never read
    with pytest.raises(AttnvizError, match=f"tokenizer in {folder} has 30524 tokens but the mod"):
        _load(folder)


def test_view_takes_non_ascii_and_backslashes_as_typed(model_dir, tmp_path, capsys):
    prompt = r"café 日本 C:\x path\nnext"
    code = main(
        [
            "view",
            "--model_path",
            str(model_dir("tinylm_step0")),
            "--model_id",
            "tiny",
            "--prompt",
            prompt,
            "--save_fig_path",
            str(tmp_path / "vis"),
            "--save_attention_scores_path",
            str(tmp_path / "scores"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    record = load_record(tmp_path / "scores" / "tiny_attn_scores.pt")
    assert record["meta"]["prompt"]["text"] == "café 日本 C:\\x path\nnext"
    assert {"日", "本", "\\", "x"} <= set(record["tokens"])
    assert (tmp_path / "vis" / "tiny" / "all_layers_avg.jpg").is_file()
