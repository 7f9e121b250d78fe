"""The pipeline end to end with scripted completions: files, verdicts, leaderboard, resume."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

import matheval.run as run_mod
from matheval.backends.replay import ReplayBackend
from matheval.config import RunRequest
from matheval.record import read_results


def scripted(prompt: str, params) -> str:
    # Right answer for problems whose text length is even, a wrong one otherwise: a known mix.
    question = prompt.rsplit("Q: ", 1)[-1]
    return "Let me think. The answer is 42." if len(question) % 2 else "So the total is 18. The answer is 18."


def _cfg(tmp_path, data_dir, **kw) -> RunRequest:
    base = dict(model="scripted", tasks=("gsm8k",), limit=6, backend="replay", data_dir=str(data_dir),
                output_dir=str(tmp_path / "results"), run_id="t1")
    base.update(kw)
    return RunRequest(**base)


@pytest.fixture
def replay(monkeypatch):
    backend = ReplayBackend(scripted)
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    return backend


def test_run_writes_graded_samples_summary_and_leaderboard(tmp_path, data_dir, replay):
    path = run_mod.run(_cfg(tmp_path, data_dir))
    results = read_results(str(path / "samples.jsonl"))
    assert len(results) == 6
    golds = [r.gold for r in results]
    assert golds[0] == "18"  # Janet's ducks
    for r in results:
        assert r.prompt.startswith("Q: There are 15 trees") and r.prompt.endswith("\nA:")
        assert len(r.verdicts) == 1 and r.verdicts[0].status in {"correct", "incorrect"}
        assert r.verdicts[0].rule
        expected = r.extractions[0].answer == r.gold
        assert r.scores["top1"] == float(expected)
    summary = json.loads((path / "summary.json").read_text())
    t = summary["tasks"]["gsm8k"]
    assert t["n_problems"] == 6
    assert t["metrics"]["top1"]["value"] == pytest.approx(sum(r.scores["top1"] for r in results) / 6)
    assert (path / "config.json").is_file()
    assert (path / "first_prompts.txt").read_text().startswith("===== gsm8k/fewshot")
    board = pd.read_csv(tmp_path / "results" / "leaderboard.csv")
    row = board.iloc[0]
    assert (row.task, row.metric, row.prompt_style, row.n_problems, row.run_id) == ("gsm8k", "top1", "fewshot", 6, "t1")
    for col in ("no_answer_rate", "unparsable_rate", "timeout_rate", "truncation_rate", "matheval_version", "date"):
        assert col in board.columns


def test_resume_generates_only_missing_samples(tmp_path, data_dir, monkeypatch):
    calls: list[int] = []

    class Crash(Exception):
        pass

    def crashing(prompt, params):
        calls.append(1)
        if len(calls) == 4:
            raise Crash
        return "The answer is 18."

    backend = ReplayBackend(crashing)
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    cfg = _cfg(tmp_path, data_dir)
    with pytest.raises(Crash):
        run_mod.run(cfg)
    path = tmp_path / "results" / "t1"
    assert len(read_results(str(path / "samples.jsonl"))) == 3  # written as they completed
    # Simulate a torn last line from a hard kill.
    with open(path / "samples.jsonl", "a") as fh:
        fh.write('{"task": "gsm8k", "id": "9", "gol')
    seen: list[str] = []
    backend2 = ReplayBackend(lambda p, prm: seen.append(p) or "The answer is 18.")
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend2)
    run_mod.resume(str(path), RunRequest())
    results = read_results(str(path / "samples.jsonl"))
    assert sorted(int(r.id) for r in results) == list(range(6))
    assert len(seen) == 3  # only the three missing problems were generated again
    assert all(line.strip().endswith("}") for line in (path / "samples.jsonl").read_text().splitlines())


def test_existing_run_dir_is_not_overwritten(tmp_path, data_dir, replay):
    from matheval.errors import UsageError

    run_mod.run(_cfg(tmp_path, data_dir))
    with pytest.raises(UsageError, match="--resume"):
        run_mod.run(_cfg(tmp_path, data_dir))


def test_sampling_records_greedy_first_and_maj_pass(tmp_path, data_dir, monkeypatch):
    def sampler(prompt, params):
        if params.greedy:
            return "The answer is 18."
        return ["The answer is 18.", "The answer is 18.0", "The answer is 7.", "no idea"]

    backend = ReplayBackend(sampler)
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    path = run_mod.run(_cfg(tmp_path, data_dir, limit=2, n=4))
    r = next(r for r in read_results(str(path / "samples.jsonl")) if r.id == "0")
    assert [c.greedy for c in r.completions] == [True, False, False, False, False]
    assert r.gold == "18" and r.scores["top1"] == 1.0
    # 18 and 18.0 vote together (2 votes) against 7; "no idea" abstains.
    assert r.vote["answer"] in {"18", "18.0"} and r.vote["correct"] is True
    assert r.scores["pass@1"] == pytest.approx(0.5)
    assert set(r.scores) >= {"top1", "maj@1", "maj@2", "maj@4", "pass@1", "pass@2", "pass@4"}
    temps = sorted({c[1].temperature for c in backend.calls})
    assert temps == [0.0, 0.7]  # greedy alongside T=0.7 samples
    png = path / "kcurves.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # maj@k / pass@k against k
    board = pd.read_csv(tmp_path / "results" / "leaderboard.csv")
    assert {"top1", "maj@1", "maj@2", "maj@4", "pass@1", "pass@2", "pass@4"} <= set(board.metric)


def test_first_prompt_matches_deepseek_assembly(data_dir):
    from matheval.data import load_samples
    from matheval.prompts import Renderer
    from matheval.tasks import load_task

    task = load_task("gsm8k")
    shots = json.loads((data_dir / "fewshot/deepseek_math_gsm8k_cot_8shot.json").read_text())
    sample = load_samples(task, data_dir, limit=1)[0]
    prompt = Renderer(task, "fewshot", task.prompts["fewshot"], data_dir, None)(sample)
    expected = "\n\n\n".join(f"Q: {s['question']}\nA: {s['answer']}" for s in shots)
    expected += f"\n\n\nQ: {sample.problem}\nA:"
    assert prompt == expected
    assert re.search(r"Janet", prompt)


def test_a_crash_between_the_greedy_and_the_sampled_pass_loses_no_generation(tmp_path, data_dir, monkeypatch):
    """Greedy completions come back before the samples are drawn; they are journaled as they arrive,
    so a crash during the sampled pass regenerates only the samples on --resume."""

    class Crash(Exception):
        pass

    def first(prompt, params):
        if not params.greedy:
            raise Crash
        return "The answer is 18."

    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: ReplayBackend(first))
    with pytest.raises(Crash):
        run_mod.run(_cfg(tmp_path, data_dir, limit=3, n=2))
    path = tmp_path / "results" / "t1"
    assert not (path / "samples.jsonl").read_text()  # nothing complete, so nothing graded yet
    assert len((path / "pending.jsonl").read_text().splitlines()) == 3  # but the 3 greedy parts are kept

    again = ReplayBackend(lambda p, prm: "The answer is 18." if prm.greedy else ["The answer is 18.", "7"])
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: again)
    run_mod.resume(str(path), RunRequest())
    assert [prm.greedy for _, prm in again.calls] == [False]  # only the samples were drawn
    results = read_results(str(path / "samples.jsonl"))
    assert len(results) == 3 and all(len(r.completions) == 3 and r.completions[0].greedy for r in results)
    assert not (path / "pending.jsonl").exists()  # the journal goes once the run is complete
