"""Run directory, aggregation and reports: samples.jsonl, summary.json, leaderboard.csv.

`results/<run_id>/` holds config.json (resolved config), samples.jsonl (one line per sample,
appended and flushed as each completes), first_prompts.txt and summary.json; the leaderboard is
`results/leaderboard.csv`, tidy: one row per model × task × prompt style × metric.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matheval import __version__, stats, tools
from matheval.config import RunConfig
from matheval.errors import UsageError
from matheval.record import Result, read_results

LEADERBOARD_COLUMNS = [
    "model", "task", "task_version", "prompt_style", "profile", "metric", "value", "ci_low", "ci_high",
    "n_problems", "n_samples", "no_answer_rate", "unparsable_rate", "timeout_rate", "truncation_rate",
    "date", "matheval_version", "run_id",
]


@dataclass
class RunDir:
    path: Path
    config: RunConfig
    done: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def open(cls, cfg: RunConfig, backend_info, plans) -> RunDir:
        if cfg.resume:
            path = Path(cfg.resume)
        else:
            run_id = cfg.run_id or _new_run_id(cfg.model)
            path = Path(cfg.output_dir) / run_id
            if (path / "samples.jsonl").exists():
                raise UsageError(f"run dir {path} already has samples; use --resume {path} or a new --run-id")
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path, cfg)
        if (path / "samples.jsonl").exists():
            run.done = {r.key for r in read_results(str(path / "samples.jsonl"))}
            _drop_torn_tail(path / "samples.jsonl")
        resolved = {
            "config": cfg.to_dict(),
            "run_id": path.name,
            "backend": {"name": backend_info.name, "model": backend_info.model, **backend_info.settings},
            "tasks": {
                p.task.name: {
                    "version": p.task.version, "prompt_style": p.style_name, "mode": p.style.mode,
                    "template": p.style.template, "form": p.style.form, "stop": list(p.style.stop),
                    "extractor": p.style.extractor, "grader": p.grader,
                    "greedy": p.greedy.__dict__, "sampled": p.sampled.__dict__ if p.sampled else None,
                    "n_problems": len(p.samples), "data": p.task.data.file, "data_sha256": p.task.data.sha256,
                    "execution": tools.settings(p.style.mode, p.tool_rounds),
                }
                for p in plans
            },
            # The protocol profile as it was when the run started: a profile file can change later.
            "profile": _profile_record(cfg.profile),
            "matheval_version": __version__,
        }
        _atomic_write(path / "config.json", json.dumps(resolved, indent=2, ensure_ascii=False, default=str))
        run._fh = open(path / "samples.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        run.plans = plans
        return run

    def write(self, result: Result) -> None:
        # One line per finished sample, flushed immediately: a crash loses nothing written.
        self._fh.write(result.to_json() + "\n")
        self._fh.flush()
        self.done.add(result.key)

    def log_first_prompt(self, label: str, prompt: str) -> None:
        with open(self.path / "first_prompts.txt", "a", encoding="utf-8") as fh:
            fh.write(f"===== {label} =====\n{prompt}\n\n")

    def results(self) -> list[Result]:
        self._fh.flush()
        return read_results(str(self.path / "samples.jsonl"))


def _profile_record(name: str | None) -> dict[str, Any] | None:
    if not name:
        return None
    from matheval.config import load_profile

    return load_profile(name).model_dump(mode="json")


def _drop_torn_tail(path: Path) -> None:
    # A crash mid-line leaves a partial last line; cut it so appended lines stay valid JSON lines.
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def _new_run_id(model: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model).name)[:40]
    return f"{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}-{slug}"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- aggregate

def _rate(results: list[Result], status: str) -> float:
    verdicts = [v for r in results for v in r.verdicts]
    return sum(v["status"] == status for v in verdicts) / len(verdicts) if verdicts else 0.0


def task_summary(results: list[Result]) -> dict[str, Any]:
    """Metrics of one task × style: mean over problems of each per-problem score, with a CI."""
    comps = [c for r in results for c in r.completions]
    metrics: dict[str, dict[str, float]] = {}
    names = sorted({m for r in results for m in r.scores}, key=_metric_order)
    for name in names:
        values = [r.scores[name] for r in results if name in r.scores]
        mean, lo, hi = stats.bootstrap_ci(values)
        metrics[name] = {"value": mean, "ci_low": lo, "ci_high": hi, "n": len(values)}
    return {
        "n_problems": len(results),
        "n_samples": len(comps),
        "metrics": metrics,
        "no_answer_rate": _rate(results, "no_answer"),
        "unparsable_rate": _rate(results, "unparsable"),
        "timeout_rate": _rate(results, "timeout"),
        "truncation_rate": sum(c.finish_reason == "length" for c in comps) / len(comps) if comps else 0.0,
        "rules": _count(v["rule"] for r in results for v in r.verdicts),
        "statuses": _count(v["status"] for r in results for v in r.verdicts),
    }


def _count(items) -> dict[str, int]:
    out: dict[str, int] = {}
    for it in items:
        out[str(it)] = out.get(str(it), 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _metric_order(name: str) -> tuple[int, int, str]:
    m = re.match(r"(\w+)@(\d+)$", name)
    if m:
        return (1 if m.group(1) == "maj" else 2, int(m.group(2)), name)
    return (0, 0, name)


def aggregate(results: list[Result], plans, run: RunDir) -> dict[str, Any]:
    by_task: dict[str, list[Result]] = {}
    for r in results:
        by_task.setdefault(r.task, []).append(r)
    tasks = {}
    for p in plans:
        tasks[p.task.name] = {
            "version": p.task.version,
            "prompt_style": p.style_name,
            "greedy_top1": p.greedy.greedy,
            **task_summary(by_task.get(p.task.name, [])),
        }
    return {
        "run_id": run.path.name,
        "model": run.config.model,
        "profile": run.config.profile,
        "date": dt.date.today().isoformat(),
        "matheval_version": __version__,
        "tasks": tasks,
    }


# ---------------------------------------------------------------- report

def leaderboard_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for task, t in summary["tasks"].items():
        for metric, m in t["metrics"].items():
            rows.append({
                "model": summary["model"], "task": task, "task_version": t["version"],
                "prompt_style": t["prompt_style"], "profile": summary.get("profile") or "",
                "metric": metric, "value": round(m["value"], 6),
                "ci_low": round(m["ci_low"], 6), "ci_high": round(m["ci_high"], 6),
                "n_problems": t["n_problems"], "n_samples": t["n_samples"],
                "no_answer_rate": round(t["no_answer_rate"], 6), "unparsable_rate": round(t["unparsable_rate"], 6),
                "timeout_rate": round(t["timeout_rate"], 6), "truncation_rate": round(t["truncation_rate"], 6),
                "date": summary["date"], "matheval_version": summary["matheval_version"], "run_id": summary["run_id"],
            })
    return rows


def append_leaderboard(rows: list[dict[str, Any]], path: Path) -> None:
    import pandas as pd

    new = pd.DataFrame(rows, columns=LEADERBOARD_COLUMNS)
    if path.exists():
        old = pd.read_csv(path, dtype={"profile": str}, keep_default_na=False)
        # A resumed or re-reported run replaces its own earlier rows instead of duplicating them.
        old = old[~old["run_id"].isin(new["run_id"].unique())]
        new = pd.concat([old, new], ignore_index=True)
    tmp = path.with_suffix(".csv.tmp")
    new.to_csv(tmp, index=False)
    os.replace(tmp, path)


def markdown_table(summary: dict[str, Any]) -> str:
    lines = [
        "| task | style | metric | value | 95% CI | problems | no answer | truncated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, t in summary["tasks"].items():
        for metric, m in t["metrics"].items():
            lines.append(
                f"| {task} | {t['prompt_style']} | {metric} | {100 * m['value']:.1f} | "
                f"{100 * m['ci_low']:.1f}–{100 * m['ci_high']:.1f} | {t['n_problems']} | "
                f"{100 * t['no_answer_rate']:.1f}% | {100 * t['truncation_rate']:.1f}% |"
            )
    return "\n".join(lines)


def _plot(summary: dict[str, Any], path: Path) -> None:
    import pandas as pd

    from matheval.kcurves import plot_k_curves

    rows = [
        (task, metric, m["n"], m["value"], m["ci_low"], m["ci_high"])
        for task, t in summary["tasks"].items()
        for metric, m in t["metrics"].items()
    ]
    plot_k_curves(pd.DataFrame(rows, columns=["task", "metric", "n", "mean", "lo", "hi"]), path,
                  title=str(summary["model"]))


def report(summary: dict[str, Any], run: RunDir) -> None:
    _atomic_write(run.path / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))
    table = markdown_table(summary)
    _atomic_write(run.path / "summary.md", table + "\n")
    append_leaderboard(leaderboard_rows(summary), run.path.parent / "leaderboard.csv")
    _plot(summary, run.path / "kcurves.png")
    print(table)
    print(f"\nresults: {run.path}")
