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
    with pytest.raises(AttnvizError, match="delete it and extract again") as err:
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
