"""Size and load time of the HTML report on MATH-sized runs, measured in the real headless browser.

Runs are synthesised through the real pipeline (resolve → render → replay backend → extract → grade →
aggregate → report): every completion is another problem's MATH reference solution followed by the
problem's own, so texts are real LaTeX prose of model-like length and all differ; in sampled runs
a share of the samples gets a wrong final box (one of three wrong answers, so votes split).
Then for each run: samples.jsonl and report.html sizes (ratio to samples.jsonl), the run's wall
time (grading and the run-end report included), the time `build_report` takes to rebuild the page,
and in chromium the time until the leaderboard is drawn and until the sample browser lists its
first page (median of 3 opens), against the 2 s budget.

    python bench/report_html.py --data-dir ../shared/data --problems 5000 --n 1 --n 64 --out /tmp/bench-report
    python bench/report_html.py --page results/report.html --screenshots docs/   # load time + PNGs of a page
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import zlib
from pathlib import Path

from matheval.backends.replay import ReplayBackend
from matheval.config import RunRequest
from matheval.resolve import resolve, resolve_backend
from matheval.run import evaluate, load

BUDGET_S = 2.0
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
_BOX = re.compile(r"\\boxed\{")


def wrong_box(text: str, j: int) -> str:
    """The solution with its last \\boxed{…} replaced by one of three wrong answers."""
    starts = [m.end() for m in _BOX.finditer(text)]
    if not starts:
        return text + f"\n\\boxed{{{1000 + j % 3}}}"
    start, depth, end = starts[-1], 1, starts[-1]
    while end < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    return text[:start] + str(1000 + j % 3) + text[end - 1:]


def completion(sols: list[str], i: int, j: int, right: bool) -> str:
    """Another problem's solution as "reasoning", then problem i's own: every completion differs from
    the others of its problem, so compression gains no more than it would on real samples."""
    other = sols[(i + 1 + 37 * j) % len(sols)]
    own = sols[i] if right else wrong_box(sols[i], j)
    return f"Let's think step by step.\n{other}\nBack to the problem.\n{own}"


def synth_run(data_dir: str, out: Path, problems: int, n: int) -> tuple[Path, float]:
    req = RunRequest(model="synthetic-math", tasks=("math",), limit=problems, n=n if n > 1 else None,
                     temperature=0.7 if n > 1 else None, backend="replay", prompt_style="fewshot",
                     data_dir=data_dir, output_dir=str(out), run_id=f"math-x{n}", grading_workers=2)
    cfg = resolve(req, resolve_backend(req))
    (tr,) = load(cfg, None)
    sols = [s.solution or "" for s in tr.samples]
    table = {}
    for i, (s, prompt) in enumerate(zip(tr.samples, tr.prompts, strict=True)):
        # Samples: about 60% right, the rest split over three wrong answers.
        table[prompt] = [completion(sols, i, 0, True)] if n == 1 else [
            completion(sols, i, j, (zlib.crc32(s.id.encode()) + j) % 5 < 3) for j in range(n)]
    backend = ReplayBackend(lambda prompt, params: table[prompt] if params.n > 1 else table[prompt][0])
    t0 = time.perf_counter()
    path = evaluate(cfg, backend)
    return path, time.perf_counter() - t0


def build_time(run: Path) -> float:
    from matheval.html_report import build_report

    t0 = time.perf_counter()
    build_report([run], run / "rebuilt.html")
    return time.perf_counter() - t0


def load_times(page: Path, repeats: int = 3) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    ready, listed = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for _ in range(repeats):
            for view, sel, into in (("", "body[data-ready='1']", ready),
                                    ("#samples", "body[data-samples-ready='1']", listed)):
                ctx = browser.new_context()
                tab = ctx.new_page()
                errors: list[str] = []
                tab.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t0 = time.perf_counter()
                tab.goto(page.resolve().as_uri() + view)
                tab.wait_for_selector(sel, state="attached", timeout=120_000)
                into.append(time.perf_counter() - t0)
                assert not errors, errors
                ctx.close()
        browser.close()
    return statistics.median(ready), statistics.median(listed)


def screenshots(page: Path, outdir: Path) -> None:
    from playwright.sync_api import sync_playwright

    outdir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 800})
        for view in ("leaderboard", "tasks", "samples", "compare"):
            tab.goto(page.resolve().as_uri() + "#" + view)
            tab.wait_for_selector("body[data-ready='1']", state="attached")
            if view == "samples":
                tab.wait_for_selector("body[data-samples-ready='1']", state="attached")
                tab.locator("details.sample summary").first.click()
            if view == "compare" and tab.locator("details.flip").count():
                tab.locator("details.flip summary").first.click()
            tab.wait_for_timeout(400)
            tab.screenshot(path=str(outdir / f"report-{view}.png"))
        browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--problems", type=int, default=5000)
    ap.add_argument("--n", type=int, action="append", help="samples per problem (repeat; 1 = greedy only)")
    ap.add_argument("--out", default="/tmp/bench-report")
    ap.add_argument("--page", help="only measure this report.html (no synthesis)")
    ap.add_argument("--screenshots", help="write PNGs of the views of --page into this dir")
    args = ap.parse_args(argv)
    if args.page:
        page = Path(args.page)
        ready, listed = load_times(page)
        print(f"{page}: {page.stat().st_size / 1e6:.1f} MB, leaderboard {ready:.2f} s, samples {listed:.2f} s")
        if args.screenshots:
            screenshots(page, Path(args.screenshots))
        return 0
    print(f"{'run':<14}{'completions':>12}{'mean chars':>11}{'samples.jsonl':>15}{'report.html':>13}{'ratio':>7}"
          f"{'run s':>8}{'build s':>9}{'leaderboard s':>15}{'samples s':>11}{'vs 2 s':>8}")
    for n in args.n or [1]:
        run, run_s = synth_run(args.data_dir, Path(args.out), args.problems, n)
        page = run / "report.html"
        from matheval.record import read_results

        texts = [c.text for r in read_results(str(run / "samples.jsonl")) for c in r.completions]
        build_s = build_time(run)
        ready, listed = load_times(page)
        jsonl, html = (run / "samples.jsonl").stat().st_size, page.stat().st_size
        print(f"{run.name:<14}{len(texts):>12}{sum(map(len, texts)) / len(texts):>11.0f}{jsonl / 1e6:>12.1f} MB"
              f"{html / 1e6:>10.1f} MB{html / jsonl:>7.3f}{run_s:>8.0f}{build_s:>9.1f}{ready:>15.2f}{listed:>11.2f}"
              f"{max(ready, listed) / BUDGET_S:>8.2f}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
