"""Extraction benchmark: attnviz's layer-by-layer capture against the peers' way.

On SmolLM2-135M (the demo model), at each prompt length N, in one run, it measures the time
and the peak memory above the loaded model of
  (a) a plain forward pass without attentions,
  (b) the peers' way: eager attention, `output_attentions=True`, then every layer moved to
      the CPU as fp16 (what Attention-Viewer and IzzyViz do),
  (c) attnviz keeping every layer and head (fp16 record),
  (d) attnviz keeping the head means only,
each case in a fresh process (CPU: the kernel's peak-RSS mark, reset after loading; GPU:
torch's peak allocation). It ends with
  RESULT n=<largest N> full_mem_ratio=<c/b> full_time_ratio=<c/b> mean_mem_ratio=<d/b>

    python benchmarks/extract.py                 # N = 512 and 2048 on the CPU
    python benchmarks/extract.py --device cuda --n 2048 8192
    python benchmarks/extract.py --model-dir DIR   # another SmolLM2-shaped folder

A case that runs out of memory is reported as OOM (the peers' way does, on long prompts).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "a": "plain forward",
    "b": "peers (output_attentions)",
    "c": "attnviz, all heads",
    "d": "attnviz, head means",
}
WORDS = " the cat sat on a mat and looked at every bird in the tree while it rained".split()


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def run_case(case: str, n: int, device: str, repeats: int, model_dir: str | None) -> dict:
    """One case in this process: returns seconds (best of `repeats`) and peak MiB."""
    import torch

    from attnviz.config import ExtractConfig, ModelConfig, PromptConfig
    from attnviz.demo_models import prepare_demo_model
    from attnviz.extract import extract_record
    from attnviz.models import load_model

    source = model_dir or str(
        prepare_demo_model("smollm2", REPO / "results" / "models" / "smollm2")
    )
    cfg = ModelConfig(architecture="decoder", path=source, device=device)
    model, tokenizer = load_model(cfg, source, "smollm2")
    single = [w for w in WORDS if len(tokenizer(" " + w)["input_ids"]) == 1]  # one token each
    words = [single[i % len(single)] for i in range(n)]
    text = "The" + "".join(" " + w for w in words[1:])
    prompt = PromptConfig(id="bench", text=text)
    ids = tokenizer(text, return_tensors="pt")["input_ids"].to(model.device)  # (1, n)
    settings = ExtractConfig(head_mean=case == "d")

    def work():
        with torch.no_grad():
            if case == "a":
                model(input_ids=ids)
            elif case == "b":
                out = model(input_ids=ids, output_attentions=True)
                kept = [layer.to("cpu", torch.float16) for layer in out.attentions]
                del out, kept
            else:
                extract_record(model, tokenizer, prompt, "decoder", settings, {})

    with torch.no_grad():  # touch every weight once: mmap'd pages are part of the loaded model
        model(input_ids=ids[:, :8])
    cuda = device == "cuda"
    best, peak = float("inf"), 0.0
    result = {"case": case, "n": int(ids.shape[1])}
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark
            base = _rss_kib("VmRSS") * 1024
        start = time.perf_counter()
        try:
            work()
        except torch.OutOfMemoryError:
            return {**result, "oom": True}
        if cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        top = torch.cuda.max_memory_allocated() if cuda else _rss_kib("VmHWM") * 1024
        peak = max(peak, (top - base) / 2**20)
    return {**result, "seconds": best, "peak_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--model-dir", help="a SmolLM2-shaped HF folder (default: the demo)")
    parser.add_argument("--case", help=argparse.SUPPRESS)  # internal: run one case
    args = parser.parse_args()
    if args.case:
        result = run_case(args.case, args.n[0], args.device, args.repeats, args.model_dir)
        print("CASE " + json.dumps(result))
        return

    results = {}
    print(f"SmolLM2-135M, device={args.device}, best of {args.repeats} runs per case")
    print(f"{'n':>6}  {'case':<28} {'seconds':>8} {'peak MiB':>9}")
    for n in args.n:
        for case in CASES:
            cmd = [
                sys.executable,
                __file__,
                "--case",
                case,
                "--n",
                str(n),
                "--device",
                args.device,
                "--repeats",
                str(args.repeats),
            ]
            if args.model_dir:
                cmd += ["--model-dir", args.model_dir]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            result = json.loads(out.split("CASE ", 1)[1])
            results[n, case] = result
            if result.get("oom"):
                print(f"{result['n']:>6}  {case}) {CASES[case]:<25} {'OOM':>8}", flush=True)
                continue
            print(
                f"{result['n']:>6}  {case}) {CASES[case]:<25} {result['seconds']:>8.2f} "
                f"{result['peak_mib']:>9.0f}",
                flush=True,
            )
    ran = [n for n in args.n if not any(results[n, k].get("oom") for k in "bcd")]
    if not ran:
        print("RESULT no length at which all cases ran")
        return
    n = max(ran)
    b, c, d = (results[n, k] for k in "bcd")
    print(
        f"RESULT n={b['n']} full_mem_ratio={c['peak_mib'] / b['peak_mib']:.3f} "
        f"full_time_ratio={c['seconds'] / b['seconds']:.3f} "
        f"mean_mem_ratio={d['peak_mib'] / b['peak_mib']:.3f}"
    )


if __name__ == "__main__":
    main()
