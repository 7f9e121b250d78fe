"""Fidelity: matheval's default extraction and grader against published numbers and released labels.

Each figure below is re-derived from the authors' released generations in ../shared/data/outputs
(see each folder's README) through `matheval rescore`'s importers and the pipeline's own
extract → grade → score. Where matheval disagrees with a file's label, the test names the item and
says why; where matheval's figure differs from the published one by design, the test pins the
figure matheval gives (docs/tasks.md explains each difference).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from matheval import grading
from matheval.cli import main
from matheval.importers import IMPORTERS
from matheval.rescore import rescore_import

OUT = {
    "abel-70b": "abel-gairmath-abel-70b-gsm8k/70b.jsonl",
    "abel-13b": "abel-gairmath-abel-13b-gsm8k/13b.jsonl",
    "abel-7b": "abel-gairmath-abel-7b-gsm8k/7b.jsonl",
    "tora-70b": "tora-tora-70b-v1.0-gsm8k/test_tora_-1_seed0_t0.0_s0_e1319.jsonl",
    "tora-code-34b": "tora-tora-code-34b-v1.0-gsm8k/test_tora_-1_seed0_t0.0_s0_e1319.jsonl",
    "gpt3": "openai-gpt3-6b-175b-gsm8k/example_model_solutions.jsonl",
    "pot-fewshot": "pot-code-davinci-002-fewshot-gsm8k/gsm8K_s0_e-1_11_17_10_20.jsonl",
    "pot-zeroshot": "pot-code-davinci-002-zeroshot-gsm8k/gsm8K_zs_s0_e-1_11_19_09_55.jsonl",
    "plansolve": "planandsolve-text-davinci-003-psplus-gsm8k/gsm8k-zero_shot-305-text-davinci-003.jsonl",
    "zeroshotcot": "zeroshotcot-text-davinci-002-gsm8k/gsm8k_zero_shot_cot.parsed.jsonl",
    "minerva": "minerva-sample-explorer-math-mmlu/minerva_sample_explorer.jsonl",
    "qwen-maj": "qwen25math-example-math100x8/math_cot_100.jsonl",
}
FORMAT = {"abel-70b": "abel", "abel-13b": "abel", "abel-7b": "abel", "tora-70b": "tora", "tora-code-34b": "tora",
          "pot-fewshot": "pot", "pot-zeroshot": "pot"}


@pytest.fixture(scope="module")
def outputs(data_dir) -> Path:
    return data_dir / "outputs"


@pytest.fixture(scope="module")
def rescored(outputs, tmp_path_factory):
    """(name, percent_compat) -> list of Rescored, each computed once for the module."""
    out_dir = tmp_path_factory.mktemp("rescored")

    @cache
    def get(name: str, compat: bool = False):
        fmt = FORMAT.get(name, name)
        importer, task = IMPORTERS[fmt]
        path = outputs / OUT[name]
        overrides = {"percent_compat": True} if compat else {}
        return [rescore_import(imp, fmt, path, grader_overrides=overrides, output_dir=str(out_dir))
                for imp in importer(path, task)]

    return get


def _correct(r) -> int:
    return int(sum(x.scores["top1"] for x in r.results))


def _labels(r):
    return r.summary["rescore"]["labels"]


# ---------------------------------------------------------------- published numbers


@pytest.mark.parametrize(
    ("name", "published", "correct"),
    [
        ("abel-70b", 83.62, 1103),
        # Item 15's hedged "#### 125,96" is two answers for one (incorrect); Abel's own label of item
        # 880 ("#### 10." vs 10) is wrong, and matheval counts it: 877 = 66.49.
        ("abel-13b", 66.41, 877),
        ("abel-7b", 59.74, 788),
        ("tora-70b", 84.3, 1112),
    ],
)
def test_published_gsm8k_accuracy_within_a_tenth(rescored, name, published, correct):
    (r,) = rescored(name)
    assert len(r.results) == 1319
    assert _correct(r) == correct  # the exact count matheval gives today
    assert abs(100 * correct / 1319 - published) <= 0.1


def test_abel_labels(rescored):
    for name in ("abel-70b", "abel-7b"):
        assert _labels(rescored(name)[0])["agree"] == 1319
    lab = _labels(rescored("abel-13b")[0])
    assert lab["agree"] == 1318
    # Item 880: the response ends "#### 10." and Abel's check rejects its pred "10." against "10":
    # the label is wrong, matheval is right. (Item 15, "#### 125,96", both call wrong: Abel reads
    # it as 12596, matheval as two answers given for one.)
    assert {(d["id"], d["pred"]) for d in lab["disagreements"]} == {("880", "10")}


def test_tora_code_34b_needs_the_percent_rule(rescored):
    (strict,) = rescored("tora-code-34b")
    (compat,) = rescored("tora-code-34b", True)
    assert _correct(strict) == 1062  # 80.52: matheval's default, 0.18 below the published 80.7
    assert _correct(compat) == 1064 and abs(100 * 1064 / 1319 - 80.7) <= 0.1
    # The two items the x100 rule accepts: answers given as a fraction of a percentage gold.
    gained = {r.id for r, s in zip(compat.results, strict.results, strict=True) if r.scores["top1"] > s.scores["top1"]}
    assert gained == {"191", "806"}
    by_id = {r.id: r for r in compat.results}
    assert (by_id["191"].extractions[0].answer, by_id["191"].gold) == ("0.05", "5")
    assert (by_id["806"].extractions[0].answer, by_id["806"].gold) == ("0.7", "70")
    # ToRA-70B is unaffected by the rule.
    assert _correct(rescored("tora-70b", True)[0]) == 1112


# ---------------------------------------------------------------- per-sample labels


def test_gpt3_labels_reproduced_item_by_item(rescored):
    runs = {r.label: r for r in rescored("gpt3")}
    counts = {label: _correct(r) for label, r in runs.items()}
    assert counts == {"gpt3-6b_finetuning": 286, "gpt3-6b_verification": 515,
                      "gpt3-175b_finetuning": 458, "gpt3-175b_verification": 742}
    for r in runs.values():
        assert _labels(r)["agree"] == _labels(r)["total"] == 1319  # 4 x 1319 = 5276 / 5276


def test_minerva_human_labels(rescored):
    runs = {r.label: r for r in rescored("minerva")}
    assert _labels(runs["minerva-64b"])["agree"] == 14
    lab = _labels(runs["minerva-540b"])
    assert (lab["agree"], lab["total"]) == (204, 205)
    # The one disagreement: csc(-120°). The sample's derivation is right and its final answer
    # -2/sqrt(3) equals the target's -2 sqrt(3)/3; the human marked it "Incorrect", presumably for
    # not rationalising the denominator (MATH's answer convention). matheval grades by value.
    (d,) = lab["disagreements"]
    assert (d["id"], d["pred"], d["label"]) == ("191", "-\\frac{2}{\\sqrt{3}}", False)
    assert d["gold"] == "-\\frac{2 \\sqrt{3}}{3}"


def test_qwen_math100x8_labels(rescored):
    (r,) = rescored("qwen-maj")
    lab = _labels(r)
    assert (lab["agree"], lab["total"]) == (791, 800)
    # idx 3: gold "\text{4:30 p.m.}", all 8 answers "4:30 \text{ p.m.}": Qwen's normaliser turns
    # the gold into "4:30p.." and the answers into "4:30", a false negative. idx 72 sample 7:
    # "\boxed{10000}" against gold "10{,}000", which Qwen's comparison misses.
    assert {(d["id"], d["completion"]) for d in lab["disagreements"]} == {("3", k) for k in range(8)} | {("72", 7)}
    assert all(d["matheval"] for d in lab["disagreements"])
    assert r.summary["tasks"]["math"]["metrics"]["pass@1"]["value"] == pytest.approx(737 / 800)


# ---------------------------------------------------------------- figures that differ by design


def _coverage(r):
    return r.summary["rescore"]["coverage"]


def test_zero_shot_cot_figure(rescored, outputs):
    (r,) = rescored("zeroshotcot")
    assert _correct(r) == 568  # 43.06 over 1319; published 40.71 (537)
    # The published 537 is the file's own answer (first number after the answer trigger, second
    # model call) compared to GT by *string* equality, which this file's fields reproduce exactly.
    rows = [json.loads(line) for line in open(outputs / OUT["zeroshotcot"], encoding="utf-8")]
    assert sum(row["pred_mode"] == row["GT"] for row in rows) == 537


def test_plan_and_solve_figure(rescored):
    (r,) = rescored("plansolve")
    cov = _coverage(r)
    assert (cov["records"], cov["correct"]) == (1317, 663)  # 50.34 over 1317, 50.27 over 1319
    assert round(100 * cov["top1_over_benchmark"], 2) == 50.27
    assert _labels(r)["agree"] == 1186  # the labels come from a second model call matheval never sees


@pytest.mark.parametrize(("name", "records", "correct"), [("pot-fewshot", 1318, 941), ("pot-zeroshot", 1317, 747)])
def test_program_of_thoughts_figures(rescored, name, records, correct):
    (r,) = rescored(name)
    cov = _coverage(r)
    assert (cov["records"], cov["correct"], cov["benchmark_size"]) == (records, correct, 1319)


def test_program_output_float_noise_is_accepted():
    # A float's printout is noise; a deliberately written decimal is still held to integer exactness.
    assert grading.equivalent("5", "5.000000000000002", answer_type="number").correct
    assert not grading.equivalent("5", "5.0001", answer_type="number").correct
    assert not grading.equivalent("10000", "9999.857", answer_type="number").correct


# ---------------------------------------------------------------- the command line


def test_rescore_cli_writes_a_run_and_regrades_it(outputs, tmp_path, capsys):
    src = outputs / OUT["tora-code-34b"]
    assert main(["rescore", str(src), "--output-dir", str(tmp_path), "--run-id", "tora34b"]) == 0
    out = capsys.readouterr().out
    assert "| gsm8k | import:tora | top1 | 80.5 |" in out
    run = tmp_path / "tora34b"
    assert sum(1 for _ in open(run / "samples.jsonl")) == 1319
    summary = json.loads((run / "summary.json").read_text())
    assert summary["rescore"]["format"] == "tora" and summary["model"] == "tora-tora-code-34b-v1.0-gsm8k"
    assert (tmp_path / "leaderboard.csv").is_file()
    # A matheval run dir re-grades with the style it recorded, here under ToRA's percent rule.
    assert main(["rescore", str(run), "--percent-compat", "--output-dir", str(tmp_path), "--run-id", "again"]) == 0
    assert "| gsm8k | import:tora | top1 | 80.7 |" in capsys.readouterr().out


def test_rescore_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["rescore", str(tmp_path / "nope.jsonl")]) == 2
    assert main(["rescore", str(tmp_path), "--format", "gpt4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
