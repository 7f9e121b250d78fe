"""Per task: the dataset's own categories, the comparability of every leaderboard cell, k-curves.

Category figures are `report.task_summary` over each category's problems, so they are computed
exactly like the task's own line in summary.json (same bootstrap, same rates). A cell's
fingerprint is set against its column's majority with `comparable.differences`, the check's rule.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from matheval.comparable import differences
from matheval.html_report.runs import RunData
from matheval.report import task_summary

# Leaderboard rows are models: their identity differs by design and is not a comparability issue.
ROW_KEYS = frozenset({"model", "model_sha"})
SPLIT = "(column split: no majority)"
# What a category line keeps of a task summary (the per-problem lists stay with the task).
CATEGORY_FIELDS = ("n_problems", "n_scored", "metrics", "no_answer_rate", "unparsable_rate", "timeout_rate",
                   "truncation_rate", "mean_output_tokens", "statuses")


def categories(run: RunData, task: str) -> dict[str, list[dict[str, Any]]]:
    """{category key: [{"value": v, **task_summary fields}, ...]} in the order values first appear."""
    groups: dict[str, dict[str, list]] = {}
    for r in run.results:
        if r.task != task:
            continue
        for key, value in r.categories.items():
            groups.setdefault(key, {}).setdefault(str(value), []).append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for key, by_value in groups.items():
        rows = []
        for value in sorted(by_value, key=_natural):
            s = task_summary(by_value[value])
            rows.append({"value": value, **{f: s[f] for f in CATEGORY_FIELDS}})
        out[key] = rows
    return out


def _natural(value: str) -> tuple:
    # "Level 2" before "Level 10"; numbers as numbers.
    parts = []
    for chunk in re.split(r"(\d+)", value):
        parts.append((0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk))
    return tuple(parts)


def fingerprints(runs: list[RunData]) -> dict[str, dict[str, dict[str, Any]]]:
    """{task: {str(run index): fingerprint}} for every run that has the task."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for i, run in enumerate(runs):
        for tc in run.config.tasks:
            out.setdefault(tc.name, {})[str(i)] = run.config.fingerprint(tc)
    return out


def majority(fps: list[dict[str, Any]], top: bool = True) -> dict[str, Any]:
    """Per key, the value most cells have, nested blocks key by key where every cell has a block;
    SPLIT when no value has more cells than every other, so that every cell of a split column is
    marked, not all but one."""
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for fp in fps for k in fp):
        if top and key in ROW_KEYS:
            continue
        values = [fp.get(key) for fp in fps]
        if all(isinstance(v, dict) for v in values):
            out[key] = majority(values, top=False)
            continue
        ranked = Counter(json.dumps(v, sort_keys=True) for v in values).most_common(2)
        out[key] = SPLIT if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else json.loads(ranked[0][0])
    return out


def cell_differences(task: str, fps: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """{run index: [what differs from the column's majority]} for the cells that differ."""
    base = majority(list(fps.values()))
    out = {}
    for idx, fp in fps.items():
        mine = {k: v for k, v in fp.items() if k not in ROW_KEYS}
        diffs = [{"key": d.key, "this": d.run, "majority": d.baseline, "blocking": d.blocking}
                 for d in differences(task, base, mine)]
        if diffs:
            out[idx] = diffs
    return out


def curves(summary: dict[str, Any]) -> dict[str, dict[str, list[tuple[int, float, float, float]]]]:
    """Per task, maj@k / pass@k points (k, value, lo, hi) and top1, grouped by `kcurves.k_curves`:
    the page's curves are the PNG's curves."""
    import pandas as pd

    from matheval.kcurves import k_curves

    rows = [(task, metric, m["n"], m["value"], m["ci_low"], m["ci_high"])
            for task, t in summary["tasks"].items() for metric, m in t["metrics"].items()]
    return k_curves(pd.DataFrame(rows, columns=["task", "metric", "n", "mean", "lo", "hi"]))
