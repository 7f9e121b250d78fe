"""Aggregation and reports: summary.json / summary.md, the leaderboard CSV, the k-curve plot.

`results/<run_id>/summary.json` holds every task's metrics with 95% CIs, the honest rates (no
answer, unparsable, timeout, truncation, prompt too long) and the verdict rule/status counts; the
leaderboard is `results/leaderboard.csv`, tidy: one row per model × task × prompt style × metric.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

from matheval import __version__, stats, tools
from matheval.record import Result
from matheval.resolve import RunConfig
from matheval.rundir import RunDir, atomic_write

LEADERBOARD_COLUMNS = [
    "model", "task", "task_version", "prompt_style", "profile", "metric", "value", "ci_low", "ci_high",
    "n_problems", "n_samples", "no_answer_rate", "unparsable_rate", "timeout_rate", "truncation_rate",
    "date", "matheval_version", "run_id",
]


# ---------------------------------------------------------------- aggregate

def _rate(results: list[Result], status: str) -> float:
    verdicts = [v for r in results for v in r.verdicts]
    return sum(v.status == status for v in verdicts) / len(verdicts) if verdicts else 0.0


def task_summary(results: list[Result]) -> dict[str, Any]:
    """Metrics of one task × style: mean over scored problems of each per-problem score, with a CI.
    Problems whose gold the grader cannot read are counted and listed, not scored."""
    scored = [r for r in results if not r.unscorable]
    comps = [c for r in results for c in r.completions]
    metrics: dict[str, dict[str, float]] = {}
    names = sorted({m for r in scored for m in r.scores}, key=_metric_order)
    for name in names:
        values = [r.scores[name] for r in scored if name in r.scores]
        mean, lo, hi = stats.bootstrap_ci(values)
        metrics[name] = {"value": mean, "ci_low": lo, "ci_high": hi, "n": len(values)}
    generated = [c for c in comps if c.finish_reason != "prompt_too_long"]
    return {
        "n_problems": len(results),
        "n_scored": len(scored),
        "n_samples": len(comps),
        "metrics": metrics,
        "no_answer_rate": _rate(results, "no_answer"),
        "unparsable_rate": _rate(results, "unparsable"),
        "timeout_rate": _rate(results, "timeout"),
        "truncation_rate": sum(c.truncated for c in comps) / len(comps) if comps else 0.0,
        "prompt_too_long": sum(c.finish_reason == "prompt_too_long" for c in comps),
        "mean_output_tokens": sum(c.n_tokens for c in generated) / len(generated) if generated else 0.0,
        "unscorable": {r.id: r.unscorable for r in results if r.unscorable},
        "rules": _count(v.rule for r in results for v in r.verdicts),
        "statuses": _count(v.status for r in results for v in r.verdicts),
        "served_by": _count(c.served_by for c in comps if c.served_by),
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


def aggregate(results: list[Result], cfg: RunConfig, *, timing: dict[str, float] | None = None,
              served: dict[str, Any] | None = None) -> dict[str, Any]:
    by_task: dict[str, list[Result]] = {}
    for r in results:
        by_task.setdefault(r.task, []).append(r)
    tasks = {}
    for tc in cfg.tasks:
        tasks[tc.name] = {
            "version": tc.version,
            "prompt_style": tc.style,
            "greedy_top1": tc.greedy is not None,
            "execution": tools.settings(tc.mode, tc.tool_rounds or 0),
            **task_summary(by_task.get(tc.name, [])),
        }
    out = {
        "run_id": cfg.run_id,
        "model": cfg.model,
        "profile": cfg.profile_name,
        "date": dt.date.today().isoformat(),
        "matheval_version": __version__,
        "grader_version": cfg.grader_version,
        "backend": {"name": cfg.backend.name, "dtype": cfg.backend.dtype,
                    "batch_invariant": cfg.backend.batch_invariant, "data_parallel": cfg.backend.data_parallel},
        "warnings": list(cfg.warnings),
        "tasks": tasks,
    }
    if timing:
        out["timing"] = timing
    if served:
        out["served"] = served
    return out


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
    atomic_write(run.path / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    table = markdown_table(summary)
    notes = [f"- {w}" for w in summary.get("warnings", [])]
    for task, t in summary["tasks"].items():
        if t.get("unscorable"):
            notes.append(f"- {task}: {len(t['unscorable'])} problems reported apart, not scored (their golds "
                         f"are not readable by the grader; listed in summary.json)")
        if t.get("prompt_too_long"):
            notes.append(f"- {task}: {t['prompt_too_long']} completions not generated: prompt too long")
    atomic_write(run.path / "summary.md", table + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else ""))
    append_leaderboard(leaderboard_rows(summary), run.path.parent / "leaderboard.csv")
    _plot(summary, run.path / "kcurves.png")
    from matheval.html_report import write_run_report  # lazy: the page builder reads this module

    write_run_report(summary, run.path)
    print(table)
    for line in notes:
        print(line)
    print(f"\nresults: {run.path}")
