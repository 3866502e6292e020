"""Records are written atomically and loaded safely."""

from __future__ import annotations

import pickle

import pytest
import torch

from attnviz.atomic import atomic_path
from attnviz.errors import AttnvizError
from attnviz.record import SCHEMA_VERSION, load_record, save_record


def small_record():
    attention = torch.softmax(
        torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)), -1
    )
    return {
        "tokens": ["a", "b", "c", "d"],
        "attention": {"self": attention.half()},
        "attention_scores": [layer.unsqueeze(0) for layer in attention.half()],
        "tokens_list": ["a", "b", "c", "d"],
        "meta": {"schema_version": SCHEMA_VERSION, "model": "m", "architecture": "encoder"},
    }


def test_round_trip_with_weights_only(tmp_path):
    path = tmp_path / "r.pt"
    record = small_record()
    save_record(record, path)
    plain = torch.load(path, weights_only=True)  # what any user can do with our files
    assert torch.equal(plain["attention"]["self"], record["attention"]["self"])
    assert load_record(path)["tokens"] == record["tokens"]
    assert [p.name for p in tmp_path.iterdir()] == ["r.pt"]  # no temp file left


def test_identical_records_give_identical_bytes(tmp_path):
    save_record(small_record(), tmp_path / "a.pt")
    save_record(small_record(), tmp_path / "b.pt")
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()


class _Payload:
    """Unpickling this runs code: it would create a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_code_in_the_cache_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    with open(path, "wb") as fh:
        torch.save({"tokens": [], "attention": {}, "meta": _Payload(str(marker))}, fh)
    with pytest.raises(AttnvizError, match="cannot be loaded safely") as err:
        load_record(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_plain_pickle_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(AttnvizError, match="cannot be loaded safely"):
        load_record(path)


def test_truncated_record_is_reported_with_its_path(tmp_path):
    path = tmp_path / "r.pt"
    save_record(small_record(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(AttnvizError, match="extract it again: add --forcerun") as err:
        load_record(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_file_without_our_keys_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(AttnvizError, match="lacks tokens, attention, meta"):
        load_record(path)


def test_attention_viewer_score_files_are_read(tmp_path):
    from attnviz.views import view_data

    layers = [torch.softmax(torch.randn(1, 2, 3, 3), -1).half() for _ in range(4)]
    path = tmp_path / "llama2-7b-chat_attn_scores.pt"
    torch.save({"attention_scores": layers, "tokens_list": ["<s>", "Hi", "!"]}, path)
    record = load_record(path)
    data = view_data(record, "full_sequence")
    assert data.attention.shape == (4, 2, 3, 3) and data.row_tokens == ["<s>", "Hi", "!"]
    assert record["meta"]["model"] == "llama2-7b-chat_attn_scores"
    torch.save({"attention_scores": layers, "tokens_list": ["a", "b"]}, path)
    with pytest.raises(AttnvizError, match=r"must be \(1, heads, 2, 2\)"):
        load_record(path)


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.pt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_every_bit_flip_is_refused_in_one_line_or_changes_nothing(tmp_path):
    path = tmp_path / "r.pt"
    save_record(small_record(), path)
    whole, original = path.read_bytes(), load_record(path)
    refused, positions = 0, range(0, len(whole), 3)
    for position in positions:
        flipped = bytearray(whole)
        flipped[position] ^= 1 << (position % 8)
        path.write_bytes(flipped)
        try:
            record = load_record(path)
        except AttnvizError as err:
            assert str(path) in str(err) and "\n" not in str(err)
            refused += 1
            continue
        assert record["tokens"] == original["tokens"]
        assert torch.equal(record["attention"]["self"], original["attention"]["self"])
    assert refused > len(positions) // 3  # flips in the pickle and in the tensors' bytes


@pytest.mark.parametrize("size", [0, 10, 200, -10])
def test_truncated_or_empty_record_names_the_file_and_the_fix(tmp_path, size):
    path = tmp_path / "r.pt"
    save_record(small_record(), path)
    path.write_bytes(path.read_bytes()[:size])
    with pytest.raises(AttnvizError, match="cannot be loaded safely") as err:
        load_record(path)
    assert f"extract it again: add --forcerun '{path}' to the snakemake command" in str(err.value)


def _resaved(path, change):
    """The record at `path` saved again as plain torch.save after `change(record)`, its meta
    (and so its checksums) kept: a file damaged after it was written."""
    record = torch.load(path, weights_only=True)
    change(record)
    torch.save(record, path)


def test_changed_values_do_not_match_the_checksum(tmp_path):
    path = tmp_path / "r.pt"
    save_record(small_record(), path)
    _resaved(path, lambda r: r["attention"]["self"][0, 0, 0].copy_(torch.tensor(0.25).half()))
    with pytest.raises(AttnvizError, match="its attention.self does not match its checksum"):
        load_record(path)
    _resaved(path, lambda r: r["tokens"].__setitem__(0, "x"))
    with pytest.raises(AttnvizError, match="damaged: its tokens does not match"):
        load_record(path)


def test_impossible_attention_values_are_refused(tmp_path):
    from attnviz.record import record_checksums

    path = tmp_path / "r.pt"
    for bad in (12864.0, float("nan"), -0.5):
        record = small_record()
        record["attention"]["self"][1, 2, 3, 0] = bad
        record["meta"]["checksums"] = record_checksums(record)  # consistent, but impossible
        torch.save(record, path)
        with pytest.raises(AttnvizError, match="attention.self has values outside"):
            load_record(path)


def test_a_record_of_another_model_or_prompt_is_refused(tmp_path):
    from attnviz.record import request_sha256

    prompt, settings = {"id": "cat", "text": "The cat."}, {"storage_dtype": "float16"}
    record = small_record()
    record["meta"].update(model="tinylm_seed1", prompt_id="cat", source="results/models/x")
    record["meta"]["request_sha256"] = request_sha256(record["meta"], prompt, settings)
    path = tmp_path / "r.pt"
    save_record(record, path)
    expect = {"model": "tinylm_seed1", "prompt": prompt, "settings": settings}
    assert load_record(path, expect)["meta"]["model"] == "tinylm_seed1"
    with pytest.raises(AttnvizError, match="extracted for model 'tinylm_seed1', prompt 'cat', "):
        load_record(path, {**expect, "model": "tinylm_step0"})
    with pytest.raises(AttnvizError, match="another prompt text or other extract settings"):
        load_record(path, {**expect, "prompt": {"id": "cat", "text": "A dog."}})
    with pytest.raises(AttnvizError, match="another prompt text or other extract settings"):
        load_record(path, {**expect, "settings": {"storage_dtype": "float32"}})


def test_temp_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys

    target = tmp_path / "attention.pt"
    killed = (
        "import os, signal, sys\n"
        "from attnviz.atomic import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'half')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run([sys.executable, "-c", killed, str(target)], check=False)
    assert run.returncode == -9
    assert len(list(tmp_path.glob(".attention.pt.*.tmp"))) == 1  # what a kill leaves
    save_record(small_record(), target)
    assert [p.name for p in tmp_path.iterdir()] == ["attention.pt"]
