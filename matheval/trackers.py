"""Log a finished run to an experiment tracker (`--tracker wandb|mlflow`): the resolved settings as
parameters, every task's metrics with their 95% CIs and honest rates, and the run's files.

Nothing here is required: the package is imported only when asked for, and `config.check_request`
has refused a tracker that is not installed before any model loaded. Where the logs go is the
tracker's own configuration (W&B: WANDB_PROJECT, WANDB_MODE=offline, WANDB_DIR; MLflow:
MLFLOW_TRACKING_URI, MLFLOW_EXPERIMENT_NAME); without one, the project / experiment is "matheval".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from matheval.report import LEADERBOARD_COLUMNS, leaderboard_rows
from matheval.resolve import RunConfig

DEFAULT_PROJECT = "matheval"
ARTIFACTS = ("summary.json", "config.json", "report.html", "summary.md")
RATES = ("no_answer_rate", "unparsable_rate", "timeout_rate", "truncation_rate", "mean_output_tokens")
_MAX_PARAM = 500  # the most conservative value length trackers accept
log = logging.getLogger("matheval")


def metric_name(task: str, metric: str) -> str:
    # MLflow allows letters, digits, _ - . / space and colon in a key: "maj@4" becomes "maj_at_4".
    return f"{task}/{metric.replace('@', '_at_')}"


def metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Flat {"gsm8k/top1": v, "gsm8k/top1_ci_low": lo, …, "gsm8k/no_answer_rate": r, …}."""
    out: dict[str, float] = {}
    for task, t in summary["tasks"].items():
        for metric, m in t["metrics"].items():
            name = metric_name(task, metric)
            out[name] = float(m["value"])
            # Not "<name>/ci_low": MLflow's file store keeps "<name>" as a file, so it cannot be a folder too.
            out[f"{name}_ci_low"] = float(m["ci_low"])
            out[f"{name}_ci_high"] = float(m["ci_high"])
        for rate in RATES:
            out[f"{task}/{rate}"] = float(t[rate])
        out[f"{task}/n_problems"] = float(t["n_problems"])
        out[f"{task}/prompt_too_long"] = float(t.get("prompt_too_long", 0))
    return out


def params(cfg: RunConfig) -> dict[str, str]:
    """What ran, flat: the run, the engine, and each task's fingerprint (the comparability keys)."""
    b = cfg.backend
    out: dict[str, Any] = {
        "run_id": cfg.run_id, "model": cfg.model, "model_sha": b.model_sha, "profile": cfg.profile_name,
        "backend": b.name, "dtype": b.dtype, "engine_version": b.engine_version, "seed": b.seed,
        "max_model_len": b.max_model_len, "matheval_version": cfg.matheval_version,
        "grader_version": cfg.grader_version,
    }
    for tc in cfg.tasks:
        for key, value in cfg.fingerprint(tc).items():
            if key not in out or out[key] != value:
                out[f"{tc.name}/{key}"] = value
    return {k: _short(v) for k, v in out.items()}


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 1] + "…"


def _mlflow(summary: dict[str, Any], cfg: RunConfig, run_dir: Path) -> str:
    import mlflow

    if not (os.environ.get("MLFLOW_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_ID")):
        mlflow.set_experiment(DEFAULT_PROJECT)
    with mlflow.start_run(run_name=cfg.run_id) as active:
        mlflow.log_params(params(cfg))
        mlflow.log_metrics(metrics(summary))
        mlflow.set_tags({"matheval.run_dir": str(run_dir), "matheval.model": cfg.model})
        for name in ARTIFACTS:
            if (run_dir / name).is_file():
                mlflow.log_artifact(str(run_dir / name))
        return f"mlflow run {active.info.run_id} ({mlflow.get_tracking_uri()})"


def _wandb(summary: dict[str, Any], cfg: RunConfig, run_dir: Path) -> str:
    import wandb

    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT, name=cfg.run_id, job_type="eval",
                     config=params(cfg), dir=None if os.environ.get("WANDB_DIR") else str(run_dir))
    try:
        values = metrics(summary)
        run.log(values)
        run.summary.update(values)
        rows = leaderboard_rows(summary)
        run.log({"leaderboard": wandb.Table(columns=LEADERBOARD_COLUMNS,
                                            data=[[row[c] for c in LEADERBOARD_COLUMNS] for row in rows])})
        for name in ARTIFACTS:
            if (run_dir / name).is_file():
                run.save(str(run_dir / name), base_path=str(run_dir), policy="now")
        where = f"wandb run {run.id} ({run.dir})"
    finally:
        run.finish()
    return where


TRACKERS = {"mlflow": _mlflow, "wandb": _wandb}


def log_run(tracker: str | None, summary: dict[str, Any], cfg: RunConfig, run_dir: Path) -> str | None:
    """Log the finished run (files already written) to `tracker`; None when no tracker was asked for."""
    if tracker is None:
        return None
    where = TRACKERS[tracker](summary, cfg, Path(run_dir))
    log.info("logged to %s", where)
    return where
