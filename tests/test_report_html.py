"""`matheval report` on the rescored released outputs (Minerva's sample explorer, Qwen2.5-Math's
100 x 8), opened in the real headless browser: leaderboard cells are summary.json's, filters narrow
the sample list, the side-by-side view is `matheval compare`'s table and lists the flipped problems.

Two rescores of the Minerva file with different extractors (its own "Final Answer" convention, and
\\boxed only) give two runs of the same 205 MATH records whose verdicts differ: real flips.
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect
from test_report_html_browser import browser, check_clean  # noqa: F401  (module-scoped fixture)

from matheval import compare, scores
from matheval.cli import main
from matheval.record import read_results
from matheval.report import task_summary

OUTPUTS = Path("outputs")
MINERVA = OUTPUTS / "minerva-sample-explorer-math-mmlu" / "minerva_sample_explorer.jsonl"
QWEN = OUTPUTS / "qwen25math-example-math100x8" / "math_cot_100.jsonl"


@pytest.fixture(scope="module")
def released(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("released")
    for src, run_id, extra in ((MINERVA, "final", []), (MINERVA, "boxed", ["--extractor", "boxed"]),
                               (QWEN, "qwen", [])):
        assert main(["rescore", str(data_dir / src), "--output-dir", str(out), "--run-id", run_id, *extra]) == 0
    page = out / "report.html"
    assert main(["report", str(out), "-o", str(page)]) == 0
    return out, page


def _runs(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/config.json"))


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _embedded(page: Path, prefix: str) -> list:
    """The page's gzipped JSON blobs whose id starts with `prefix`, in order, concatenated."""
    pattern = rf'<script type="application/octet-stream" id="{prefix}(\d*)">([^<]*)</script>'
    found = sorted(re.findall(pattern, page.read_text()), key=lambda f: int(f[0] or 0))
    return [x for _, b in found for x in json.loads(gzip.decompress(base64.b64decode(b)))]


def test_every_run_dir_has_its_own_report(released):
    out, _ = released
    runs = _runs(out)
    assert [p.name for p in runs] == ["boxed-minerva-540b", "boxed-minerva-64b", "final-minerva-540b",
                                      "final-minerva-64b", "qwen"]
    for run in runs:
        html = (run / "report.html").read_text()
        assert html.startswith("<!doctype html>") and "http://" not in html.split('id="report-data"')[0]


def test_leaderboard_cells_are_summary_json(released, browser):  # noqa: F811
    out, page = released
    runs = _runs(out)
    with browser.open(page) as opened:
        p = opened.page
        for metric in ("top1", "maj@8", "pass@8"):
            p.select_option("#lb-metric", metric)
            for i, run in enumerate(runs):
                expected = _summary(run)["tasks"]["math"]["metrics"].get(metric)
                cell = p.locator(f'td.lb-value[data-run="{i}"][data-task="math"]')
                if expected is None:
                    assert cell.inner_text().strip() == "—"
                    continue
                assert float(cell.get_attribute("data-value")) == pytest.approx(expected["value"], abs=1e-12)
                assert cell.inner_text().strip().rstrip("≠~") == f"{100 * expected['value']:.1f}"
                ci = p.locator(f'td.lb-value[data-run="{i}"] + td.lb-ci')
                assert float(ci.get_attribute("data-lo")) == pytest.approx(expected["ci_low"])
                assert float(ci.get_attribute("data-hi")) == pytest.approx(expected["ci_high"])
        # Honest columns: the no-answer rate of the \boxed-only rescore is its own summary's.
        boxed = _summary(runs[0])["tasks"]["math"]
        assert boxed["no_answer_rate"] > 0.1
        rate = p.locator('td.lb-value[data-run="0"] ~ td.lb-no_answer_rate')
        assert float(rate.get_attribute("data-value")) == pytest.approx(boxed["no_answer_rate"])
        # The two extractors make the column split on grading.extractor: every cell says so.
        p.select_option("#lb-metric", "top1")
        title = p.locator('td.lb-value[data-run="0"] .fp-diff').get_attribute("title")
        assert "grading.extractor" in title and "boxed" in title
        check_clean(opened)


def test_sample_filters_narrow_the_list(released, browser):  # noqa: F811
    out, page = released
    final = out / "final-minerva-540b"
    results = read_results(str(final / "samples.jsonl"))
    idx = _runs(out).index(final)
    with browser.open(page, "samples", wait="body[data-samples-ready='1']") as opened:
        p = opened.page
        p.select_option("#s-run", str(idx))
        expect(p.locator("#s-count")).to_have_text(f"{len(results)} of {len(results)} problems")
        wrong = sum(r.scores["top1"] == 0 for r in results)
        p.select_option("#s-correct", "wrong")
        expect(p.locator("#s-count")).to_have_text(f"{wrong} of {len(results)} problems")
        assert p.locator("#s-list details.sample").count() == min(wrong, 100)
        p.select_option("#s-correct", "")
        rule = results[0].verdicts[0].rule
        p.select_option("#s-rule", rule)
        n_rule = sum(r.verdicts[0].rule == rule for r in results)
        expect(p.locator("#s-count")).to_have_text(f"{n_rule} of {len(results)} problems")
        p.select_option("#s-rule", "")
        # Search: a phrase from one completion finds that problem (and any other that says it).
        target = results[7]
        needle = target.completions[0].text.strip().splitlines()[0][:40]
        p.fill("#s-search", needle)
        # As the page searches: id, gold, problem, prompt, the completion and its answer.
        hay = ["\n".join([r.id, r.gold, r.problem, r.prompt, r.completions[0].text,
                          r.extractions[0].answer if r.extractions[0] else ""]).lower() for r in results]
        hits = sum(needle.lower() in h for h in hay)
        expect(p.locator("#s-count")).to_have_text(f"{hits} of {len(results)} problems")
        assert 1 <= hits < len(results)
        item = p.locator(f'details.sample[data-id="{target.id}"]')
        item.locator("summary").click()
        # The extracted span is highlighted: exactly the characters Extraction.span points at.
        s, e = target.extractions[0].span
        mark = item.locator("pre.completion mark")
        mark.wait_for()
        assert mark.inner_text() == target.completions[0].text[s:e]
        assert target.extractions[0].answer in item.locator(".body").inner_text()
        assert f"rule {target.verdicts[0].rule}" in item.locator(".body").inner_text()
        check_clean(opened)


def test_side_by_side_is_compare_and_lists_the_flips(released, browser):  # noqa: F811
    out, page = released
    runs = _runs(out)
    a, b = runs.index(out / "boxed-minerva-540b"), runs.index(out / "final-minerva-540b")
    sa, sb = scores.load(runs[a]), scores.load(runs[b])
    table = compare.compare_tables(sa, sb)
    row = table[table.metric == "top1"].iloc[0]
    ra = {r.id: r.scores["top1"] for r in read_results(str(runs[a] / "samples.jsonl"))}
    rb = {r.id: r.scores["top1"] for r in read_results(str(runs[b] / "samples.jsonl"))}
    flipped = {i for i in ra if ra[i] != rb[i]}
    assert len(flipped) > 5
    with browser.open(page, "compare") as opened:
        p = opened.page
        options = p.locator("#c-pair option")
        labels = [options.nth(k).inner_text() for k in range(options.count())]
        pick = next(k for k, t in enumerate(labels) if "boxed-minerva-540b" in t and "final-minerva-540b" in t)
        p.select_option("#c-pair", str(pick))
        cell = p.locator('tr.c-row[data-task="math"][data-metric="top1"]')
        assert float(cell.get_attribute("data-diff")) == pytest.approx(row["diff"])
        assert float(cell.get_attribute("data-lo")) == pytest.approx(row["lo"])
        assert float(cell.get_attribute("data-hi")) == pytest.approx(row["hi"])
        assert float(cell.get_attribute("data-p")) == pytest.approx(row["p_value"])
        text = cell.inner_text()
        assert f"{100 * row['diff']:+.1f}" in text and ("yes" if row["significant"] else "no") in text
        flips = p.locator("details.flip")
        assert {flips.nth(k).get_attribute("data-id") for k in range(flips.count())} == flipped
        first = flips.first
        first.locator("summary").click()
        pid = first.get_attribute("data-id")
        first.locator(".side-b pre.completion").wait_for()
        text_a, text_b = first.locator(".side-a").inner_text(), first.locator(".side-b").inner_text()
        ca = next(r for r in read_results(str(runs[a] / "samples.jsonl")) if r.id == pid)
        assert ca.completions[0].text.splitlines()[0][:30] in text_a and ca.verdicts[0].status in text_a
        assert ca.completions[0].text.splitlines()[0][:30] in text_b
        check_clean(opened)


def test_vote_classes_and_collapsed_samples(released, browser, tmp_path):  # noqa: F811
    out, _ = released
    qwen = out / "qwen"
    small = tmp_path / "qwen.html"
    assert main(["report", str(qwen), "-o", str(small), "--sample-texts", "3"]) == 0
    heads, details = _embedded(small, "samples-0"), _embedded(small, "detail-0-")
    assert len(heads) == len(details) == 100
    # The list holds one completion per problem; opening it decodes all 8, of which 3 carry their text.
    assert all(len(h["k"]) == 1 and h["ns"] == 8 for h in heads)
    assert all(sum(c["x"] is not None for c in d["k"]) == 3 and len(d["k"]) == 8 for d in details)
    results = {r.id: r for r in read_results(str(qwen / "samples.jsonl"))}
    with browser.open(small, "samples", wait="body[data-samples-ready='1']") as opened:
        p = opened.page
        item = p.locator('details.sample[data-id="3"]')
        item.locator("summary").click()
        vote = item.locator("table.vote")
        vote.wait_for()
        r = results["3"]
        assert vote.locator("tr").count() == 1 + len(r.vote["clusters"])
        assert r.vote["clusters"][0]["answer"] in vote.inner_text()
        last = item.locator("details.lazy").last  # the 8th sample: answer and verdict, no text
        assert r.verdicts[7].status in last.locator("summary").inner_text()
        last.locator("summary").click()
        assert "text not embedded" in last.inner_text()
        check_clean(opened)


def test_category_breakdowns_are_task_summary(tmp_path, data_dir, monkeypatch, browser):  # noqa: F811
    """MATH500's subject and level (replayed completions through the real pipeline), per category
    the very `task_summary` that summary.json holds for the whole task."""
    import matheval.run as run_mod
    from matheval.backends.replay import ReplayBackend
    from matheval.config import RunRequest

    backend = ReplayBackend(lambda prompt, params: "so the answer is $\\boxed{4}$" if len(prompt) % 3 else "\\boxed{2}")
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    run = run_mod.run(RunRequest(model="scripted", tasks=("math500",), limit=40, backend="replay",
                                 data_dir=str(data_dir), output_dir=str(tmp_path), run_id="cats"))
    results = read_results(str(run / "samples.jsonl"))
    with browser.open(run / "report.html", "tasks") as opened:
        p = opened.page
        for key in ("subject", "level"):
            values = sorted({r.categories[key] for r in results})
            cells = p.locator(f'table.cat[data-key="{key}"] td.cat-cell')
            assert cells.count() == len(values)
            for k in range(cells.count()):
                value = cells.nth(k).get_attribute("data-category")
                want = task_summary([r for r in results if r.categories[key] == value])["metrics"]["top1"]["value"]
                assert float(cells.nth(k).get_attribute("data-value")) == pytest.approx(want)
        assert p.locator("table.statuses").count() == 1 and p.locator("table.rules").count() == 1
        # The problem as the dataset states it heads each sample, and the search reads it.
        p.goto(p.url.split("#")[0] + "#samples")
        p.wait_for_selector("body[data-samples-ready='1']", state="attached")
        target = sorted(results, key=lambda r: r.id)[5]  # samples.jsonl is in grading order, which varies
        # One line of the problem: a text input drops newlines, so a needle across lines finds nothing.
        needle = max(target.problem.strip().splitlines(), key=len).strip()[-60:]
        p.fill("#s-search", needle)
        # The search applies 150 ms after typing and re-renders the list: wait for it, or the click
        # opens an item the re-render then replaces with a closed one.
        hay = ["\n".join([r.id, r.gold, r.problem, r.prompt, r.completions[0].text,
                          r.extractions[0].answer if r.extractions[0] else ""]).lower() for r in results]
        hits = sum(needle.strip().lower() in h for h in hay)
        assert hits >= 1
        expect(p.locator("#s-count")).to_have_text(f"{hits} of {len(results)} problems")
        item = p.locator(f'details.sample[data-id="{target.id}"]')
        item.locator("summary").click()
        item.locator("pre.question").wait_for()
        assert item.locator("pre.question").inner_text().strip() == target.problem.strip()
        check_clean(opened)


def test_tool_rounds_are_shown(tmp_path, data_dir, monkeypatch, browser):  # noqa: F811
    """Tool-integrated records (scripted model text, real sandbox): each round's code and output."""
    import matheval.run as run_mod
    from matheval.backends.replay import ReplayBackend
    from matheval.config import RunRequest

    fence = "```"

    def script(prompt, params):
        if "print(6 * 7)" in prompt[-400:]:  # the round after the code ran
            return "So the answer is $\\boxed{42}$."
        return f"Let me compute.\n{fence}python\nprint(6 * 7)\n{fence}\n{fence}output"

    backend = ReplayBackend(script)
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    run = run_mod.run(RunRequest(model="scripted", tasks=("gsm8k",), limit=2, backend="replay",
                                 prompt_style="tool_fewshot", data_dir=str(data_dir), output_dir=str(tmp_path),
                                 run_id="tool"))
    r = read_results(str(run / "samples.jsonl"))[0]
    assert r.completions[0].rounds and r.programs[0] is not None
    with browser.open(run / "report.html", "samples", wait="body[data-samples-ready='1']") as opened:
        p = opened.page
        p.locator("details.sample summary").first.click()
        body = p.locator("details.sample .body").first
        body.locator(".round").first.wait_for()
        text = body.inner_text()
        assert "print(6 * 7)" in text and "code round 1" in text
        assert "program answer" in text and r.programs[0].status in text
        check_clean(opened)


@pytest.mark.parametrize("argv, message", [
    (["report", "/nonexistent/results"], "no such directory"),
    (["report", "{tmp}"], "neither a run dir"),
    (["report", "{run}", "--sample-texts", "-1"], "--sample-texts"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, released, capsys):
    out, _ = released
    argv = [a.format(tmp=tmp_path, run=out / "qwen") for a in argv] + ["-o", str(tmp_path / "r.html")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "r.html").exists()


def test_fingerprints_mark_the_odd_cell_and_every_cell_of_a_split_column():
    from matheval.html_report.breakdowns import SPLIT, cell_differences

    base = {"model": "m", "max_tokens": 1024, "sampled": {"n": 4, "temperature": 0.7}, "grader_version": "2.0"}
    fps = {"0": base, "1": {**base, "model": "other"},
           "2": {**base, "max_tokens": 512, "sampled": {"n": 4, "temperature": 0.2}},
           "3": {**base, "grader_version": "1.9"}}
    diffs = cell_differences("math", fps)
    assert set(diffs) == {"2", "3"}  # the model differs by design: rows are models
    assert {(d["key"], d["this"], d["majority"], d["blocking"]) for d in diffs["2"]} == {
        ("max_tokens", 512, 1024, True), ("sampled.temperature", 0.2, 0.7, True)}
    assert [(d["key"], d["blocking"]) for d in diffs["3"]] == [("grader_version", False)]
    split = cell_differences("math", {"0": base, "1": {**base, "max_tokens": 512}})
    assert {i: [(d["key"], d["majority"]) for d in ds] for i, ds in split.items()} == {
        "0": [("max_tokens", SPLIT)], "1": [("max_tokens", SPLIT)]}


def test_k_curve_svg_needs_two_k_and_escapes_its_title():
    from matheval.html_report.svg import k_curve_svg

    assert k_curve_svg({"maj": [(1, 0.5, 0.4, 0.6)], "pass": [], "top1": []}) is None
    curve = {"maj": [(1, 0.5, 0.4, 0.6), (4, 0.6, 0.5, 0.7)], "pass": [(1, 0.5, 0.4, 0.6), (4, 0.8, 0.7, 0.9)],
             "top1": [(0, 0.55, 0.45, 0.65)]}
    svg = k_curve_svg(curve, title="<task>")
    assert svg.count("<circle") == 4 and svg.count("<polygon") == 2 and "&lt;task&gt;" in svg and "<task>" not in svg
