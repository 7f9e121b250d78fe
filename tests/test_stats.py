"""Bootstrap CIs, McNemar/Newcombe, paired comparisons and the regression check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from matheval.check import REGRESSION, run_check
from matheval.compare import compare_tables, format_compare, load_scores, summarize, write_scores
from matheval.errors import UsageError
from matheval.scores import Scored
from matheval.stats import (
    bootstrap_ci,
    mcnemar,
    mcnemar_one_sided,
    paired_bootstrap_diff,
    paired_test,
    sign_flip_p,
)


def test_bootstrap_ci_contains_the_mean_and_is_deterministic():
    rng = np.random.default_rng(1)
    values = rng.random(300)
    ci = bootstrap_ci(values, seed=5)
    assert ci.lo < values.mean() < ci.hi
    assert ci == bootstrap_ci(values, seed=5)
    mean, lo, hi = bootstrap_ci(values, seed=6)  # unpacks like a tuple
    assert mean == ci.estimate and (lo, hi) != (ci.lo, ci.hi)


def test_bootstrap_ci_width_matches_the_binomial_standard_error():
    # 400 problems at 50%: standard error 0.025, so the 95% interval is about +-0.049.
    ci = bootstrap_ci([1.0] * 200 + [0.0] * 200, n_boot=4000)
    assert ci.estimate == 0.5
    assert 0.04 < (ci.hi - ci.lo) / 2 < 0.058


def test_bootstrap_ci_of_constant_values_has_zero_width():
    assert bootstrap_ci([0.75] * 20) == (0.75, 0.75, 0.75)


def test_paired_bootstrap_identical_and_shifted_runs():
    a = np.random.default_rng(2).random(50)
    same = paired_bootstrap_diff(a, a)
    assert (same.diff, same.lo, same.hi, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    shifted = paired_bootstrap_diff(a, a + 0.1)
    assert shifted.diff == pytest.approx(0.1)
    assert shifted.lo == pytest.approx(0.1) and shifted.hi == pytest.approx(0.1)
    assert shifted.p_value < 0.001


def test_mcnemar_hand_computed_table():
    # 36 both right, 12 only A right, 2 only B right, 0 neither: n = 50.
    a = [True] * 48 + [False] * 2
    b = [True] * 36 + [False] * 12 + [True] * 2
    d = mcnemar(a, b)
    assert d.diff == pytest.approx(-10 / 50)
    # Exact two-sided binomial test on 14 discordant pairs: 2 * (1 + 14 + 91) / 2^14.
    assert d.p_value == pytest.approx(2 * 106 / 2**14)
    # Newcombe method 10 by hand: Wilson 95% limits 48/50 -> (0.86540, 0.98896), 38/50 ->
    # (0.62587, 0.85703); phi = (36*0 - 12*2) / sqrt(48*2*38*12) = -0.114708; then
    # lower = -0.2 - sqrt(0.13413^2 + 2*0.114708*0.13413*0.02896 + 0.02896^2) = -0.34043,
    # upper = -0.2 + sqrt(0.09703^2 + 2*0.114708*0.09703*0.09460 + 0.09460^2) = -0.05693.
    assert d.lo == pytest.approx(-0.34043, abs=1e-4)
    assert d.hi == pytest.approx(-0.05693, abs=1e-4)
    # One-sided "B is worse": P(X >= 12), X ~ Bin(14, 1/2) = 106 / 2^14.
    assert mcnemar_one_sided(a, b) == pytest.approx(106 / 2**14)


def test_mcnemar_without_discordant_pairs():
    d = mcnemar([True, False, True], [True, False, True])
    assert d.diff == 0.0 and d.p_value == 1.0 and d.lo <= 0.0 <= d.hi
    assert mcnemar_one_sided([True] * 5, [True] * 5) == 1.0


# ------------------------------------------------------------------ runs


def _frame(task_values: dict[str, dict[str, list[float]]]) -> pd.DataFrame:
    rows = []
    for task, metrics in task_values.items():
        for metric, values in metrics.items():
            rows += [(task, str(i), metric, float(v)) for i, v in enumerate(values)]
    return pd.DataFrame(rows, columns=["task", "id", "metric", "value"])


def _run(top1: np.ndarray, maj: np.ndarray) -> pd.DataFrame:
    return _frame({"gsm8k": {"top1": list(top1), "maj@8": list(maj)}})


def check_regressions(base: pd.DataFrame, run: pd.DataFrame):
    """The gate on bare score tables (fingerprints are tested in test_check.py)."""
    result = run_check(Scored("base", base), Scored("run", run), allow_mismatch=True)
    return result.regressions


def test_check_passes_identical_runs_and_flags_a_real_drop():
    rng = np.random.default_rng(0)
    top1 = (rng.random(200) < 0.6).astype(float)
    maj = np.clip(top1 * 0.8 + rng.random(200) * 0.2, 0, 1)
    base = _run(top1, maj)
    assert check_regressions(base, base) == []

    one_lost = top1.copy()
    one_lost[np.flatnonzero(top1)[0]] = 0.0
    assert check_regressions(base, _run(one_lost, maj)) == []

    broken = top1.copy()
    broken[np.flatnonzero(top1)[:40]] = 0.0  # 40 of ~120 solved problems lost
    found = check_regressions(base, _run(broken, maj - 0.2))
    assert {(r.task, r.metric) for r in found} == {("gsm8k", "top1"), ("gsm8k", "maj@8")}
    top = next(r for r in found if r.metric == "top1")
    assert top.diff == pytest.approx(-40 / 200) and top.method == "mcnemar" and top.hi < 0
    assert top.verdict == REGRESSION and top.p_value == pytest.approx(0.5**40)


def test_check_ignores_sampling_noise():
    # Two independent sampled runs of one model: per-problem maj@k wobbles, the mean does not move.
    rng = np.random.default_rng(4)
    p = rng.random(300)
    for seed in range(10):
        r = np.random.default_rng(100 + seed)
        a = r.binomial(8, p) / 8
        b = r.binomial(8, p) / 8
        top_a = (r.random(300) < p).astype(float)
        top_b = (r.random(300) < p).astype(float)
        assert check_regressions(_run(top_a, a), _run(top_b, b)) == []


def test_false_alarm_rate_on_small_suites_is_at_most_alpha():
    # 40 problems, low accuracy, two independent draws of the same model: where a bootstrap
    # tail at a Bonferroni level is anti-conservative, the sign-flip test keeps its level.
    rng = np.random.default_rng(7)
    p = np.clip(rng.beta(0.4, 2.0, 40), 0, 1)
    alarms = 0
    for _ in range(400):
        a, b = rng.binomial(4, p) / 4, rng.binomial(4, p) / 4
        alarms += sign_flip_p(b - a, n_perm=2000, seed=int(rng.integers(1 << 30))) < 0.05
    assert alarms / 400 <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 400)


def test_sign_flip_is_exact_for_few_differences_and_equals_mcnemar_on_bits():
    a = np.array([1] * 10 + [0] * 5, float)
    b = np.array([0] * 7 + [1] * 3 + [0] * 3 + [1] * 2, float)
    # 7 lost, 2 gained: the sign test P(X >= 7), X ~ Bin(9, 1/2) = (36 + 9 + 1) / 512.
    assert sign_flip_p(b - a) == pytest.approx(46 / 512)
    assert sign_flip_p(b - a) == pytest.approx(mcnemar_one_sided(a.astype(bool), b.astype(bool)))
    assert sign_flip_p(np.zeros(30)) == 1.0 and sign_flip_p(np.full(3, 1e-15)) == 1.0
    d = np.r_[np.full(30, -0.25), np.full(10, 0.25)]  # 40 non-zero: random flips, fixed seed
    assert sign_flip_p(d) == sign_flip_p(d) < 0.01
    t = paired_test(np.zeros(40), -d)
    assert t.method == "sign-flip" and t.p_better == sign_flip_p(d) and t.p_two_sided == 2 * t.p_better


def test_compare_tables_reports_each_cell():
    rng = np.random.default_rng(5)
    a_top = (rng.random(100) < 0.5).astype(float)
    b_top = np.maximum(a_top, (rng.random(100) < 0.5).astype(float))  # B fixes ~25 problems
    a = _frame({"math": {"top1": list(a_top), "maj@4": list(a_top * 0.9)}})
    b = _frame({"math": {"top1": list(b_top), "maj@4": list(b_top * 0.9)}})
    table = compare_tables(a, b)
    assert list(table["metric"]) == ["top1", "maj@4"]
    top = table.iloc[0]
    assert top["method"] == "mcnemar" and top["significant"] and top["lo"] > 0
    assert table.iloc[1]["method"] == "sign-flip" and table.iloc[1]["significant"]
    assert len(format_compare(table).splitlines()) == 3


def test_unpaired_problems_fail_the_check():
    base = _frame({"gsm8k": {"top1": [1, 1, 0, 1]}})
    run = base[base["id"] != "3"].copy()
    run.loc[len(run)] = ("gsm8k", "99", "top1", 0.0)
    result = run_check(Scored("b", base), Scored("r", run), allow_mismatch=True)
    assert result.regressions == [] and result.exit_code == 1
    assert [g.describe() for g in result.gaps] == ["gsm8k: 1 of 4 baseline problems missing from the run (3)"]
    assert result.new_problems == {"gsm8k": 1}
    with pytest.raises(UsageError):
        run_check(Scored("b", base), Scored("r", _frame({"math": {"top1": [1.0]}})), allow_mismatch=True)


def test_load_write_scores_round_trip(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    lines = [
        {"task": "gsm8k", "id": "1", "gold": "18", "completions": [], "scores": {"top1": 1.0, "maj@2": 0.5}},
        {"task": "gsm8k", "id": 2, "gold": "3", "completions": [], "scores": {"top1": 0.0, "maj@2": 0.0}},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"task": "gsm8k", "id": "3", "sco'
    (run_dir / "samples.jsonl").write_text(text)  # torn last line: skipped
    scores = load_scores(run_dir)
    assert len(scores) == 4 and set(scores["id"]) == {"1", "2"}
    write_scores(scores, tmp_path / "baseline.jsonl")
    first = json.loads((tmp_path / "baseline.jsonl").read_text().splitlines()[0])
    assert first == {"task": "gsm8k", "id": "1", "scores": {"top1": 1.0, "maj@2": 0.5}}
    again = load_scores(tmp_path / "baseline.jsonl")
    assert check_regressions(scores, again) == []
    summary = summarize(again)
    assert summary[["metric", "n", "mean"]].to_dict("records") == [
        {"metric": "top1", "n": 2, "mean": 0.5}, {"metric": "maj@2", "n": 2, "mean": 0.25}
    ]


def test_load_scores_rejects_duplicates_and_missing_files(tmp_path):
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"task": "t", "id": "1", "scores": {"top1": 1}}\n' * 2)
    with pytest.raises(UsageError):
        load_scores(dup)
    with pytest.raises(UsageError):
        load_scores(tmp_path / "nope")


def test_k_curve_plot_is_written(tmp_path):
    from matheval.kcurves import k_curves, plot_k_curves

    scores = _frame({"math": {"top1": [1, 0, 1], "maj@1": [1, 0, 0.5], "maj@2": [1, 0, 1],
                              "pass@1": [1, 0, 0.5], "pass@2": [1, 0, 1]}})
    summary = summarize(scores)
    curves = k_curves(summary)["math"]
    assert [k for k, *_ in curves["maj"]] == [1, 2] and curves["top1"][0][1] == pytest.approx(2 / 3)
    out = plot_k_curves(summary, tmp_path / "k.png")
    assert out is not None and out.read_bytes()[:4] == b"\x89PNG"
    assert plot_k_curves(summarize(_frame({"math": {"top1": [1, 0]}})), tmp_path / "none.png") is None
