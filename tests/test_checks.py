"""Every value is checked before any model loads: one line on stderr, exit 2, no run dir written.

These run the real CLI in-process with the replay backend where a backend is needed, so a check
that only happened after loading a model would show up as a different error or a leftover dir.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from matheval.cli import main

BASE = ["--model", "x", "--tasks", "gsm8k", "--backend", "replay", "--limit", "2"]


def _one_line_exit_2(capsys, argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and needle in err, err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--max-tokens", "0"], "--max-tokens must be >= 1"),
        (["--max-tokens", "-5"], "--max-tokens must be >= 1"),
        (["--temperature", "-1"], "--temperature must be >= 0"),
        (["--top-p", "2"], "--top-p must be in (0, 1]"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--n", "0"], "--n must be >= 1"),
        (["--output-dir", "/proc/x"], "--output-dir /proc/x"),
        (["--backend", "vlm"], "did you mean 'vllm'"),
        (["--max-model-len", "4"], "--max-model-len must be >= 16"),
    ],
)
def test_bad_values_are_one_line_before_anything(extra, needle, capsys, tmp_path, data_dir):
    out = tmp_path / "results"
    argv = [*BASE, "--data-dir", str(data_dir), *extra]
    if "--output-dir" not in extra:
        argv += ["--output-dir", str(out)]
    _one_line_exit_2(capsys, argv, needle)
    assert not out.exists()  # nothing half-written


def test_bad_dtype_and_engine_args_before_the_model(capsys, data_dir, tmp_path):
    argv = ["--model", "smollm2-135m-instruct", "--tasks", "gsm8k", "--data-dir", str(data_dir),
            "--output-dir", str(tmp_path / "r")]
    _one_line_exit_2(capsys, [*argv, "--dtype", "foo"], "--dtype foo: must be one of")
    _one_line_exit_2(capsys, [*argv, "--engine-args", "max_num_seqz=4"], "did you mean 'max_num_seqs'")
    _one_line_exit_2(capsys, [*argv, "--engine-args", "max_num_seqs=lots"], "vLLM expects int | None")
    _one_line_exit_2(capsys, [*argv, "--engine-args", "dtype=half"], "use --dtype instead")
    _one_line_exit_2(capsys, [*argv, "--engine-args", '{"enforce_eager": '], "invalid JSON")
    assert not (tmp_path / "r").exists()


def test_model_problems_are_one_line(capsys, tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    argv = ["--tasks", "gsm8k", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r")]
    _one_line_exit_2(capsys, ["--model", "no-org/no-such-model", *argv], "not in the local Hugging Face cache")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    _one_line_exit_2(capsys, ["--model", str(broken), *argv], "config.json: not valid JSON")
    (broken / "config.json").write_text('{"hidden_size": 8}')
    _one_line_exit_2(capsys, ["--model", str(broken), *argv], "no model_type or architectures")
    assert not (tmp_path / "r").exists()


def test_unknown_grader_key_in_a_task_is_one_line(capsys, tmp_path, data_dir, monkeypatch):
    import shutil

    import matheval.tasks as tasks_mod
    from matheval.paths import tasks_dir

    shutil.copytree(tasks_dir(), tmp_path / "tasks")
    path = tmp_path / "tasks" / "gsm8k.yaml"
    path.write_text(path.read_text().replace("grader: {answer_type: number}", "grader: {answer_typ: number}"))
    monkeypatch.setenv("MATHEVAL_TASKS_DIR", str(tmp_path / "tasks"))
    tasks_mod.load_task.cache_clear()
    try:
        _one_line_exit_2(capsys, [*BASE, "--data-dir", str(data_dir), "--output-dir", str(tmp_path / "r")],
                         "task 'gsm8k': grader: unknown grader option(s) 'answer_typ'")
    finally:
        tasks_mod.load_task.cache_clear()
    assert not (tmp_path / "r").exists()


def test_resume_refuses_flags_that_change_the_run(capsys, tmp_path, data_dir, monkeypatch):
    import matheval.run as run_mod
    from matheval.backends.replay import ReplayBackend

    backend = ReplayBackend(lambda p, prm: "The answer is 18.")
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    out = tmp_path / "results"
    assert main([*BASE, "--data-dir", str(data_dir), "--output-dir", str(out), "--run-id", "r1"]) == 0
    capsys.readouterr()
    run_dir = str(out / "r1")
    _one_line_exit_2(capsys, ["--resume", run_dir, "--max-tokens", "5"], "gsm8k.greedy")
    _one_line_exit_2(capsys, ["--resume", run_dir, "--limit", "3"], "gsm8k.limit: 2 -> 3")
    # Settings that do not change the run, or repeat it, are fine.
    assert main(["--resume", run_dir, "--limit", "2", "--data-dir", str(data_dir)]) == 0
    assert len((out / "r1" / "samples.jsonl").read_text().splitlines()) == 2
    assert (out / "r1" / "first_prompts.txt").read_text().count("=====") == 2  # written once, not per resume


def test_resume_of_a_format_1_run_says_why(capsys, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"config": {"model": "m", "tasks": ["gsm8k"]}, "tasks": {},
                                                 "matheval_version": "0.1.0"}))
    (old / "samples.jsonl").write_text("")
    _one_line_exit_2(capsys, ["--resume", str(old)], "config format 1")


def test_help_lists_subcommands_and_defaults():
    out = subprocess.run([sys.executable, "-m", "matheval", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for sub in ("rescore", "compare", "check", "data pull"):
        assert f"matheval {sub}" in out.stdout
    assert "default 1024" in out.stdout and "default 0.7 when --n > 1" in out.stdout
    assert "defaults < task YAML < --profile < flags" in out.stdout


def test_prompt_too_long_is_a_status_and_the_run_goes_on(tmp_path, data_dir, monkeypatch):
    import matheval.run as run_mod
    from matheval.backends.replay import ReplayBackend
    from matheval.record import read_results

    class Tok:  # one token per whitespace-separated word
        chat_template = None

        def __call__(self, text, add_special_tokens=True):
            return {"input_ids": text.split()}

    backend = ReplayBackend(lambda p, prm: "The answer is 18.", tokenizer=Tok())
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)
    from matheval.config import RunRequest

    # The few-shot prompts are 479-544 words; a 500-token context fits some problems and not others.
    req = RunRequest(model="x", tasks=("gsm8k",), backend="replay", limit=6, data_dir=str(data_dir),
                     output_dir=str(tmp_path), run_id="long", max_model_len=500)
    cfg, _ = run_mod.prepare(req)
    lengths = [len(p.split()) for p in run_mod.load(cfg, Tok())[0].prompts]
    assert min(lengths) < 500 <= max(lengths), lengths  # the fixture really mixes both cases
    path = run_mod.evaluate(cfg, backend)
    results = read_results(str(path / "samples.jsonl"))
    assert len(results) == 6
    too_long = [r for r in results if r.completions[0].finish_reason == "prompt_too_long"]
    assert too_long and len(too_long) < 6
    assert all(r.verdicts[0].status == "prompt_too_long" and r.scores["top1"] == 0.0 for r in too_long)
    summary = json.loads((path / "summary.json").read_text())
    assert summary["tasks"]["gsm8k"]["prompt_too_long"] == len(too_long)
    assert sum(len(prompts) for prompts, _ in backend.calls) == 6 - len(too_long)  # never sent
