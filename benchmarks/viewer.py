"""Viewer benchmark: size and speed of the interactive page in a real headless Chromium.

SmolLM2-135M (the demo model), every layer and head, at N = 512 tokens:
  open_mb   what the page loads before its first paint (the page: model view, index, code;
            and the first head's data script),
  total_mb  all of the viewer's files together,
  open_s    navigation to first paint (model view and the first head drawn),
  switch_ms a click on another head's thumbnail until its map is drawn (its exact data loaded
            on demand by a <script> tag), the slowest of several heads,
  hover_ms  a mouse move until the tooltip is updated, the slowest of several cells;
against a baseline measured in the same run: the same page with every head's data inline (as
a notebook gets it, and as bertviz ships all weights in its page). Then N = 4096 (three
layers, all heads): a reduced record (more tokens than extract.full_max_tokens), drawn from
its pooled maps and top cells: open_mb, open_s, and the span tooltip of a pooled cell.
Budget: open <= 5 MB, total <= 60 MB, open <= 2 s, switch <= 300 ms, hover <= 50 ms; at
N = 4096 open <= 5 MB and <= 3 s. It ends with
  RESULT open_mb=<> total_mb=<> open_s=<> switch_ms=<> hover_ms=<>

    nice python benchmarks/viewer.py            # needs chromium + chromium-driver, selenium
    nice python benchmarks/viewer.py --cache /tmp/records   # reuse the records next time
    nice python benchmarks/viewer.py --long-only            # just the N = 4096 page
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORDS = " the cat sat on a mat and looked at every bird in the tree while it rained".split()
MB = 1e6


def smollm2_record(n: int, layers: list[int] | None, cache: Path | None) -> dict:
    """A real SmolLM2 record of exactly `n` tokens (`layers`: the stored layers, or all),
    kept in (and read back memory-mapped from) the folder `cache` if given."""
    import attnviz
    from attnviz.record import load_record, save_record

    path = cache / f"smollm2-{n}-{'_'.join(map(str, layers or ['all']))}.pt" if cache else None
    if path is not None and path.exists():
        return load_record(path, mmap=True)
    from attnviz.config import ModelConfig
    from attnviz.demo_models import prepare_demo_model
    from attnviz.models import load_model

    source = str(prepare_demo_model("smollm2", REPO / "results" / "models" / "smollm2"))
    model, tokenizer = load_model(ModelConfig(architecture="decoder", path=source), source)
    single = [w for w in WORDS if len(tokenizer(" " + w)["input_ids"]) == 1]
    text = "The" + "".join(" " + single[i % len(single)] for i in range(n - 1))
    assert len(tokenizer(text)["input_ids"]) == n
    record = attnviz.extract_attention(model, tokenizer, text, model_id="smollm2", layers=layers)
    if path is not None:
        save_record(record, path)
    return record


def folder_mb(page: Path) -> float:
    files = [page, *(page.parent / f"{page.stem}_files").iterdir()]
    return sum(f.stat().st_size for f in files) / MB


def loaded_mb(driver, page: Path) -> float:
    """The page and the data scripts it had loaded at its first paint."""
    from urllib.parse import unquote, urlparse

    scripts = driver.execute_script("return attnviz.loaded")
    return (
        page.stat().st_size + sum(Path(unquote(urlparse(s).path)).stat().st_size for s in scripts)
    ) / MB


def switch_and_hover(driver, heads: int, layers: int) -> tuple[list[float], list[float]]:
    """Click thumbnails of heads not shown yet; hover cells of the last one."""
    from selenium.webdriver.common.action_chains import ActionChains

    from attnviz.viewer.browser import hover

    switches, hovers = [], []
    for layer, head in [(1, 3), (7, 8), (14, 0), (22, 5), (layers - 1, heads)][: min(layers, 5)]:
        point = driver.execute_script(f"return attnviz.thumbCenter({layer}, {head})")
        hover(driver, point["x"], point["y"])
        ActionChains(driver).click().perform()
        end = time.monotonic() + 10
        while (s := driver.execute_script("return attnviz.state()"))["head"] != head or s[
            "layer"
        ] != layer:
            assert time.monotonic() < end, "the head switch did not finish"
            time.sleep(0.01)
        time.sleep(0.05)
        switches.append(driver.execute_script("return attnviz.timing.switch"))
    for row, col in [(500, 3), (400, 390), (256, 0), (100, 50), (511, 511), (300, 200)]:
        point = driver.execute_script(f"return attnviz.cellCenter({row}, {col})")
        hover(driver, point["x"], point["y"])
        hovers.append(driver.execute_script("return attnviz.timing.hover"))
    return switches, hovers


def long_page(args, work: Path) -> tuple[Path, float]:
    """The page of the N = `args.long_n` record: reduced (more tokens than
    extract.full_max_tokens), so drawn from its pooled maps and top cells."""
    import attnviz

    record = smollm2_record(args.long_n, args.long_layers, args.cache)
    assert record["attention"] == {} and "reduced" in record, "the long record is not reduced"
    t = time.perf_counter()
    page = attnviz.save_viewer(record, work / f"n{args.long_n}.html")
    return page, time.perf_counter() - t


def open_long(driver, page: Path, n: int) -> tuple[float, float, list]:
    """open_s, open_mb of the long page; its span tooltip in the middle; console errors."""
    from attnviz.viewer.browser import console_errors, hover, open_page

    open_s = open_page(driver, page)
    open_mb = loaded_mb(driver, page)
    point = driver.execute_script(f"return attnviz.cellCenter({n * 3 // 4}, {n // 4})")
    hover(driver, point["x"], point["y"])
    tip, note = (driver.find_element("id", name).text for name in ("tip", "map-note"))
    print(f"  tooltip at ({n * 3 // 4}, {n // 4}): {tip!r}\n  note: {note!r}")
    driver.save_screenshot(str(page.parent / "long.png"))
    return open_s, open_mb, console_errors(driver)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-n", type=int, default=4096)
    parser.add_argument("--long-layers", type=int, nargs="+", default=[0, 15, 29])
    parser.add_argument("--long-only", action="store_true", help="just the N = --long-n page")
    parser.add_argument("--cache", type=Path, help="keep the records here for the next run")
    args = parser.parse_args()
    from attnviz.viewer.browser import headless_chromium

    work = Path(tempfile.mkdtemp(prefix="attnviz-viewer-bench-"))
    if args.long_only:
        page, build_s = long_page(args, work)
        with headless_chromium() as driver:
            open_s, open_mb, errors = open_long(driver, page, args.long_n)
        print(f"N = {args.long_n}, layers {args.long_layers}, reduced (built in {build_s:.1f} s):")
        print(f"  open: {open_mb:.2f} MB in {open_s:.2f} s; files {folder_mb(page):.1f} MB")
        print(f"  console errors: {len(errors)}; page in {work}")
        budget = open_mb <= 5 and open_s <= 3 and not errors
        print(f"  budget {'holds' if budget else 'FAILS'}")
        return 0 if budget else 1
    return full(args, work)


def full(args, work: Path) -> int:
    """Both parts, N = 512 against its inline baseline, then the long page."""
    import attnviz
    from attnviz.viewer.browser import console_errors, headless_chromium, open_page

    record = smollm2_record(512, None, args.cache)
    layers, heads = record["attention"]["self"].shape[:2]
    t = time.perf_counter()
    page = attnviz.save_viewer(record, work / "n512.html")
    build_s = time.perf_counter() - t
    inline = work / "n512-inline.html"
    inline.write_text(attnviz.show(record).page)
    del record
    page_long, long_build_s = long_page(args, work)
    with headless_chromium() as driver:
        open_s = open_page(driver, page)
        open_mb = loaded_mb(driver, page)
        switches, hovers = switch_and_hover(driver, heads, layers)
        errors = console_errors(driver)
        base_open_s = open_page(driver, inline)
        long_open_s, long_open_mb, long_errors = open_long(driver, page_long, args.long_n)
        errors += long_errors
    total_mb, base_mb = folder_mb(page), inline.stat().st_size / MB
    print(f"SmolLM2-135M, N = 512, {layers} layers x {heads} heads (built in {build_s:.1f} s):")
    print(f"  open: {open_mb:.2f} MB in {open_s:.2f} s; all files {total_mb:.1f} MB")
    print(f"  baseline, every head inline: {base_mb:.1f} MB, open in {base_open_s:.2f} s")
    print(
        f"  ratios to the baseline: open_mb {open_mb / base_mb:.3f}, "
        f"open_s {open_s / base_open_s:.2f}"
    )
    print(f"  head switch ms: {', '.join(f'{s:.0f}' for s in switches)}")
    print(f"  hover ms: {', '.join(f'{h:.1f}' for h in hovers)}")
    print(f"N = {args.long_n}, layers {args.long_layers}, reduced (built in {long_build_s:.1f} s):")
    print(
        f"  open: {long_open_mb:.2f} MB in {long_open_s:.2f} s; files {folder_mb(page_long):.1f} MB"
    )
    print(f"  console errors: {len(errors)}; pages in {work}")
    budget = (
        open_mb <= 5 and total_mb <= 60 and open_s <= 2 and max(switches) <= 300
        and max(hovers) <= 50 and long_open_mb <= 5 and long_open_s <= 3 and not errors
    )  # fmt: skip
    print(f"  budget {'holds' if budget else 'FAILS'}")
    print(
        f"RESULT open_mb={open_mb:.2f} total_mb={total_mb:.1f} open_s={open_s:.2f} "
        f"switch_ms={max(switches):.0f} hover_ms={max(hovers):.1f}"
    )
    return 0 if budget else 1


if __name__ == "__main__":
    raise SystemExit(main())
