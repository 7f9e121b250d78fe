"""`--tracker mlflow|wandb`, for real and offline: a run (scripted completions through the real
pipeline) logs its settings, every metric with its CI and the honest rates, and its files; what
the tracker stored is read back from its own store.

MLflow logs to a local file store (MLFLOW_TRACKING_URI=file:…; MLflow 3 wants MLFLOW_ALLOW_FILE_STORE
for it), W&B in offline mode (WANDB_MODE=offline), whose run file is read back for the logged keys.
Both packages are test requirements (the `test` extra pins them), not matheval's.
"""

from __future__ import annotations

import json
import re

import pytest

import matheval.run as run_mod
from matheval import config, trackers
from matheval.backends.replay import ReplayBackend
from matheval.config import RunRequest


def _scripted(prompt: str, params) -> str | list[str]:
    if params.n > 1:
        return ["The answer is 18." if i % 2 else "The answer is 7." for i in range(params.n)]
    return "So the total is 18. The answer is 18." if len(prompt) % 2 else "The answer is 3."


@pytest.fixture
def replay(monkeypatch):
    backend = ReplayBackend(_scripted)
    monkeypatch.setattr(run_mod, "make_backend", lambda *a, **k: backend)


def _run(tmp_path, data_dir, tracker: str, **kw):
    req = RunRequest(model="scripted", tasks=("gsm8k",), limit=6, n=4, backend="replay", data_dir=str(data_dir),
                     output_dir=str(tmp_path / "results"), run_id="tracked", tracker=tracker, **kw)
    path = run_mod.run(req)
    return path, json.loads((path / "summary.json").read_text())


def test_names_match_the_request_check():
    assert set(trackers.TRACKERS) == set(config.TRACKERS)


def test_metric_names_are_valid_tracker_keys(tmp_path, data_dir, replay):
    _, summary = _run(tmp_path, data_dir, tracker=None)
    names = trackers.metrics(summary)
    assert "gsm8k/top1" in names and "gsm8k/maj_at_4_ci_low" in names and "gsm8k/no_answer_rate" in names
    assert all(re.fullmatch(r"[\w./\- :]+", n) for n in names)  # MLflow's key alphabet


def test_mlflow_offline_file_store(tmp_path, data_dir, replay, monkeypatch):
    store = tmp_path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    path, summary = _run(tmp_path, data_dir, tracker="mlflow")
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store.as_uri())
    exp = client.get_experiment_by_name(trackers.DEFAULT_PROJECT)
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "tracked"
    m = summary["tasks"]["gsm8k"]["metrics"]
    assert run.data.metrics["gsm8k/top1"] == pytest.approx(m["top1"]["value"])
    assert run.data.metrics["gsm8k/maj_at_4"] == pytest.approx(m["maj@4"]["value"])
    assert run.data.metrics["gsm8k/pass_at_4_ci_high"] == pytest.approx(m["pass@4"]["ci_high"])
    assert run.data.metrics["gsm8k/truncation_rate"] == pytest.approx(summary["tasks"]["gsm8k"]["truncation_rate"])
    assert run.data.params["model"] == "scripted" and run.data.params["gsm8k/prompt_style"] == "fewshot"
    assert run.data.tags["matheval.run_dir"] == str(path)
    logged = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"summary.json", "config.json", "report.html"} <= logged


def test_wandb_offline(tmp_path, data_dir, replay, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    (tmp_path / "wb").mkdir()
    _, summary = _run(tmp_path, data_dir, tracker="wandb")
    import wandb

    wandb.teardown()  # the W&B service writes the run file behind the run; wait for it (as exit does)
    (run_dir,) = (tmp_path / "wb" / "wandb").glob("offline-run-*")
    (log,) = run_dir.glob("run-*.wandb")
    data = log.read_bytes()
    # The run file is W&B's protobuf log: keys and JSON-encoded values appear in it verbatim.
    for key in ("gsm8k/top1", "gsm8k/maj_at_4", "gsm8k/no_answer_rate", "leaderboard"):
        assert key.encode() in data, key
    assert json.dumps(summary["tasks"]["gsm8k"]["metrics"]["maj@4"]["value"]).encode() in data
    saved = {p.name for p in (run_dir / "files").iterdir()}
    assert {"summary.json", "config.json", "report.html"} <= saved


def test_wandb_online_without_a_login_is_refused_before_the_run(tmp_path, data_dir, monkeypatch, capsys):
    from matheval.cli import main

    for var in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "results"
    rc = main(["--model", "x", "--tasks", "gsm8k", "--backend", "replay", "--tracker", "wandb",
               "--data-dir", str(data_dir), "--output-dir", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: --tracker wandb: no W&B login") and len(err.splitlines()) == 1
    assert not out.exists()
