"""Two runs side by side: `matheval compare`'s table for each pair of runs, and the problems that flipped.

The table is `compare.compare_tables` on `scores.load` of the two run dirs, exactly what the
`compare` command prints. A problem flipped when its per-problem score differs between the runs,
on top1 when both runs have it, else on the vote over the most samples both have (maj@k, largest k).
"""

from __future__ import annotations

import re
from itertools import combinations
from typing import Any

from matheval import compare, scores
from matheval.errors import UsageError
from matheval.html_report.runs import RunData

# All pairs are compared up to this many runs (45 pairs); beyond, each run against the first.
ALL_PAIRS_UP_TO = 10


def pairs(runs: list[RunData]) -> tuple[list[dict[str, Any]], list[str]]:
    """Precomputed pairs (indices into `runs`, A before B) and notes on pairs left out."""
    keys = [{(r.task, r.id) for r in run.results if r.scores} for run in runs]
    candidates = (list(combinations(range(len(runs)), 2)) if len(runs) <= ALL_PAIRS_UP_TO
                  else [(0, j) for j in range(1, len(runs))])
    notes = []
    if len(runs) > ALL_PAIRS_UP_TO:
        notes.append(f"{len(runs)} runs: each is compared with the first ({runs[0].run_id}); "
                     "give two run dirs to `matheval report` to compare any other pair")
    loaded: dict[int, scores.Scored] = {}
    out = []
    for a, b in candidates:
        if not keys[a] & keys[b]:
            continue  # nothing in common: not a pair anyone compares
        sa = loaded.setdefault(a, scores.load(runs[a].path))
        sb = loaded.setdefault(b, scores.load(runs[b].path))
        try:
            table = compare.compare_tables(sa, sb)
        except UsageError as exc:  # scored on different problems only
            notes.append(f"{runs[a].run_id} vs {runs[b].run_id}: {exc}")
            continue
        out.append({"a": a, "b": b, "rows": _rows(table), "flips": _with_answers(flips(sa, sb), runs[a], runs[b])})
    return out, notes


def _with_answers(found: dict[str, dict[str, Any]], run_a: RunData, run_b: RunData) -> dict[str, dict[str, Any]]:
    """Each flipped problem's gold and the answer each run gave (its greedy one, else its vote)."""
    recs = [{r.problem_key: r for r in run.results} for run in (run_a, run_b)]
    for task, f in found.items():
        for item in f["items"]:
            ra, rb = (rec.get((task, item["id"])) for rec in recs)
            item["gold"] = (ra or rb).gold if (ra or rb) else ""
            item["answer_a"], item["answer_b"] = _answer(ra), _answer(rb)
    return found


def _answer(r) -> str | None:
    if r is None:
        return None
    greedy = [i for i, c in enumerate(r.completions) if c.greedy]
    if greedy:
        e = r.extractions[greedy[0]] if greedy[0] < len(r.extractions) else None
        return e.answer if e is not None and e.status == "ok" else None
    return (r.vote or {}).get("answer")


def _rows(table) -> list[dict[str, Any]]:
    cols = ["task", "metric", "n", "mean_a", "mean_b", "diff", "lo", "hi", "p_value", "method", "significant",
            "only_a", "only_b"]
    return [{c: _plain(getattr(r, c)) for c in cols} for r in table.itertuples()]


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def flip_metric(metrics_a: set[str], metrics_b: set[str]) -> str | None:
    common = metrics_a & metrics_b
    if "top1" in common:
        return "top1"
    majs = sorted((int(m.group(1)), name) for name in common if (m := re.fullmatch(r"maj@(\d+)", name)))
    return majs[-1][1] if majs else None


def flips(a: scores.Scored, b: scores.Scored) -> dict[str, dict[str, Any]]:
    """{task: {"metric": m, "items": [{"id", "a", "b"}, ...]}}: losses first, then gains, by size."""
    out = {}
    for task in sorted(set(a.scores["task"]) & set(b.scores["task"])):
        wa = a.scores[a.scores["task"] == task].pivot(index="id", columns="metric", values="value")
        wb = b.scores[b.scores["task"] == task].pivot(index="id", columns="metric", values="value")
        metric = flip_metric(set(wa.columns), set(wb.columns))
        if metric is None:
            continue
        both = wa[metric].dropna().index.intersection(wb[metric].dropna().index)
        items = [{"id": str(pid), "a": float(wa.at[pid, metric]), "b": float(wb.at[pid, metric])} for pid in both
                 if abs(float(wa.at[pid, metric]) - float(wb.at[pid, metric])) > 1e-12]
        items.sort(key=lambda it: (it["b"] - it["a"], it["id"]))
        out[task] = {"metric": metric, "n": len(both), "items": items}
    return out
