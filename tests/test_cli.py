"""CLI contract: bad input is one line on stderr and exit 2, before any model loads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from matheval.cli import main


def run_cli(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matheval", *args], capture_output=True, text=True, timeout=120)


def test_unknown_task_suggests_and_exits_2_before_model(capsys):
    # A model that does not exist anywhere: if the CLI tried to load it, the error would differ.
    rc = main(["--model", "no-such-org/no-such-model", "--tasks", "gms8k"])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err == "error: unknown task 'gms8k' (did you mean 'gsm8k'?); see `matheval --list-tasks`"


def test_bad_flag_is_one_line_with_suggestion(capsys):
    rc = main(["--model", "x", "--tasks", "gsm8k", "--max-tokns", "5"])
    err = capsys.readouterr().err
    assert rc == 2
    assert len(err.strip().splitlines()) == 1
    assert "did you mean '--max-tokens'" in err


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--tasks", "gsm8k"], "--model is required"),
        (["--model", "x"], "--tasks is required"),
        (["--model", "x", "--tasks", "gsm8k", "--n", "0"], "--n must be"),
        (["--model", "x", "--tasks", "gsm8k", "--backend", "vlm"], "did you mean 'vllm'"),
        (["--model", "x", "--tasks", "gsm8k", "--limit", "0"], "--limit must be"),
        (["--resume", "/nonexistent/run"], "no config.json"),
    ],
)
def test_usage_errors(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_missing_data_names_file_and_source(tmp_path, capsys, monkeypatch):
    # Offline (as on these machines) the hub fallback is not an option, so the error is final.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rc = main(["--model", "x/y", "--tasks", "gsm8k", "--backend", "replay", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert "missing data file" in err and "gsm8k/test.jsonl" in err
    assert "openai/grade-school-math@3101c7d5072" in err
    assert len(err.splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_mismatched_data_is_rejected(tmp_path, capsys):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_text('{"question": "1+1?", "answer": "#### 2"}\n')
    rc = main(["--model", "x/y", "--tasks", "gsm8k", "--backend", "replay", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "expected 3730d312f6e3" in err


def test_list_tasks_shows_sizes(data_dir):
    out = run_cli("--list-tasks", "--data-dir", str(data_dir))
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split() for line in out.stdout.splitlines() if line.strip()}
    assert rows["gsm8k"][1] == "1319"
    assert rows["math"][1] == "5000"
    assert rows["math500"][1] == "500"


def test_python_dash_m_and_console_script_agree():
    out = run_cli("--model", "x", "--tasks", "nope")
    assert out.returncode == 2 and out.stderr.startswith("error: unknown task 'nope'")
