"""Long-prompt benchmark: full records against records reduced at capture time.

On SmolLM2-135M (the demo model), with a real text (the GNU GPL of conf/prompts/long.yaml,
then this repository's README) cut to N tokens, in one run, for each N:

  floor     the plain forward pass without weights (sdpa), seconds
  full      today's record (every layer x head x N x N, fp16), where it fits (else "does not
            fit"): extraction seconds and peak RSS above the loaded model, record MB, and the
            seconds and peak RSS of a layer-average figure and of a heads page drawn from it
  reduced   the same with the record reduced while it is captured (extract.full_max_tokens
            below N: pooled maps of extract.map_size, streamed statistics, top cells)

each case in a fresh process (the kernel's peak-RSS mark reset after loading). Exactness, at
the smallest N: the streamed statistics against head_statistics of the full float32 matrix,
and the pooled maps against max-pooling the full maps (max abs difference). It ends with

  RESULT n=<largest N> extract_s=<> floor_s=<> peak_mib=<> record_mb=<> figure_s=<>
         figure_peak_mib=<> stats_maxdiff=<> pool_maxdiff=<>

(figure_*: the slower / larger of the two figures). Targets at N = 8192 on a 2-core CPU:
peak_mib <= 1500, record_mb <= 300, figure_s <= 5, figure_peak_mib <= 1000,
extract_s <= 1.5 x floor_s, both maxdiffs <= 1e-3.

    python benchmarks/long.py                    # N = 1024, 4096, 8192
    python benchmarks/long.py --n 1024 2048
    OMP_NUM_THREADS=1 python benchmarks/long.py  # one thread for the floor and extraction alike
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FITS_MIB = 4096  # a full record larger than this "does not fit" (the machine is shared)


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> int:
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
    return _rss_kib("VmRSS")


def _peak_mib(base_kib: int) -> float:
    return (_rss_kib("VmHWM") - base_kib) / 1024


def _model():
    from attnviz.config import ModelConfig
    from attnviz.demo_models import prepare_demo_model
    from attnviz.models import load_model

    source = str(prepare_demo_model("smollm2", REPO / "results" / "models" / "smollm2"))
    cfg = ModelConfig(architecture="decoder", path=source, device="cpu")
    return load_model(cfg, source, "smollm2")


def _prompt(tokenizer, n: int):
    """A real text of exactly n tokens."""
    import yaml

    from attnviz.config import PromptConfig

    text = yaml.safe_load((REPO / "conf/prompts/long.yaml").read_text())["long"]["prompts"][0]
    text = text["text"] + "\n\n" + (REPO / "README.md").read_text()
    ids = tokenizer(text)["input_ids"]
    while len(ids) < n:
        ids = ids + ids
    return PromptConfig(id=f"n{n}", text=tokenizer.decode(ids[:n]))


def extract_case(case: str, n: int, out: str) -> dict:
    """floor, full or reduced, in this process."""
    import torch

    from attnviz.config import ExtractConfig
    from attnviz.extract import extract_record
    from attnviz.record import save_record

    model, tokenizer = _model()
    prompt = _prompt(tokenizer, n)
    ids = tokenizer(prompt.text, return_tensors="pt")["input_ids"]  # (1, n)
    with torch.no_grad():  # touch every weight once: mmap'd pages are part of the model
        model(input_ids=ids[:, :8])
    settings = ExtractConfig(full_max_tokens=n if case == "full" else min(1024, n - 1))
    base = _reset_peak()
    start, cpu = time.perf_counter(), time.process_time()
    with torch.no_grad():
        if case == "floor":
            model.set_attn_implementation("sdpa")
            model.base_model(input_ids=ids, use_cache=False)
        else:
            record = extract_record(model, tokenizer, prompt, "decoder", settings, {"model": "b"})
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    result = {"n": int(ids.shape[1]), "seconds": seconds, "cpu_s": cpu, "peak_mib": _peak_mib(base)}
    if case != "floor":
        save_record(record, out)
        result["record_mb"] = os.path.getsize(out) / 1e6
    return result


def figure_case(layout: str, record: str, out: str) -> dict:
    """One figure from a record, in this process."""
    from attnviz.config import PlotConfig
    from attnviz.plot import render_figure

    base = _reset_peak()
    start = time.perf_counter()
    style = PlotConfig(heads="bottom_k_by_entropy")  # the heads page: the default sweep's
    render_figure(record, "full_sequence", layout, style, out)
    return {"seconds": time.perf_counter() - start, "peak_mib": _peak_mib(base)}


def exactness(n: int) -> dict:
    """Streamed statistics and pooled maps against the full float32 matrix."""
    import numpy as np
    import torch

    from attnviz.config import ExtractConfig
    from attnviz.extract import extract_record
    from attnviz.head_stats import head_statistics

    model, tokenizer = _model()
    prompt = _prompt(tokenizer, n)
    full = extract_record(
        model, tokenizer, prompt, "decoder", ExtractConfig(storage_dtype="float32"), {}
    )
    reduced = extract_record(
        model, tokenizer, prompt, "decoder", ExtractConfig(full_max_tokens=n - 1), {}
    )["reduced"]["self"]
    attention = full["attention"]["self"]  # (layers, heads, n, n)
    stats = head_statistics(attention, True, full["special_tokens_mask"])
    stats_diff = max(
        float(np.nanmax(np.abs(v - reduced["stats"][k].numpy()))) for k, v in stats.items()
    )
    rows, cols = reduced["row_edges"].tolist(), reduced["col_edges"].tolist()
    pool_diff = 0.0
    for layer, maps in enumerate(reduced["maps"]):  # (heads, mq, mk)
        for i, (r0, r1) in enumerate(zip(rows[:-1], rows[1:], strict=True)):
            band = attention[layer, :, r0:r1].amax(1)  # (heads, n)
            pooled = torch.stack(
                [band[:, c0:c1].amax(-1) for c0, c1 in zip(cols[:-1], cols[1:], strict=True)], -1
            )
            pool_diff = max(pool_diff, float((pooled - maps[:, i].float()).abs().max()))
    return {"stats_maxdiff": stats_diff, "pool_maxdiff": pool_diff}


def _child(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--child", *args]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode:
        return {"error": (run.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(run.stdout.split("CASE ", 1)[1])


def _full_fits(n: int) -> bool:
    return 30 * 9 * n * n * 2 / 2**20 <= FITS_MIB  # SmolLM2: 30 layers x 9 heads, fp16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1024, 4096, 8192])
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        functions = {"extract": extract_case, "figure": figure_case, "exact": exactness}
        if kind == "extract":  # case, n, out
            rest = [rest[0], int(rest[1]), rest[2]]
        elif kind == "exact":
            rest = [int(rest[0])]
        print("CASE " + json.dumps(functions[kind](*rest)))
        return
    print("SmolLM2-135M on the CPU; seconds / peak MiB above the loaded model")
    print(f"{'n':>6} {'way':<8} {'extract':>14} {'record MB':>10} {'layer avg':>14} {'heads':>14}")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.n:
            rows[n, "floor"] = floor = _child("extract", "floor", str(n), "-")
            print(f"{n:>6} {'floor':<8} {floor.get('seconds', 0):>8.1f} s", flush=True)
            for way in ("full", "reduced"):
                if way == "full" and not _full_fits(n):
                    print(f"{n:>6} {way:<8} does not fit ({30 * 9 * n * n * 2 / 2**30:.1f} GiB)")
                    continue
                record = f"{tmp}/{way}-{n}.pt"
                result = _child("extract", way, str(n), record)
                figures = [
                    _child("figure", layout, record, f"{tmp}/{way}-{n}-{layout}.pdf")
                    for layout in ("layer_average", "heads")
                ]
                rows[n, way] = {**result, "figures": figures}
                cells = [
                    f"{x.get('seconds', 0):>6.1f}/{x.get('peak_mib', 0):>6.0f}"
                    for x in (result, *figures)
                ]
                print(
                    f"{n:>6} {way:<8} {cells[0]:>14} {result.get('record_mb', 0):>10.1f} "
                    f"{cells[1]:>14} {cells[2]:>14}",
                    flush=True,
                )
                if way == "reduced":  # CPU seconds: the machine is shared, wall time is noisy
                    ratio = result.get("cpu_s", 0) / max(floor.get("cpu_s", 1), 1e-9)
                    print(
                        f"{n:>6} CPU seconds: floor {floor.get('cpu_s', 0):.1f}, reduced "
                        f"{result.get('cpu_s', 0):.1f} ({ratio:.2f}x)",
                        flush=True,
                    )
                if os.path.exists(record):
                    os.remove(record)
    exact = _child("exact", str(min(args.n)))
    print(f"exactness at n={min(args.n)}: {exact}")
    n = max(args.n)
    reduced, floor = rows[n, "reduced"], rows[n, "floor"]
    figures = reduced["figures"]
    print(
        f"RESULT n={n} extract_s={reduced['seconds']:.1f} floor_s={floor['seconds']:.1f} "
        f"peak_mib={reduced['peak_mib']:.0f} record_mb={reduced['record_mb']:.1f} "
        f"figure_s={max(f['seconds'] for f in figures):.2f} "
        f"figure_peak_mib={max(f['peak_mib'] for f in figures):.0f} "
        f"stats_maxdiff={exact['stats_maxdiff']:.2e} pool_maxdiff={exact['pool_maxdiff']:.2e}"
    )


if __name__ == "__main__":
    main()
