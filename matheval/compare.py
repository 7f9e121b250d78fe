"""Per-problem scores of runs: summarise them with CIs and compare two runs, paired by (task, id).

Loading (run dirs, samples.jsonl, baselines) lives in `matheval.scores`, the paired test in
`matheval.stats.paired_test`, and the regression gate built on the same test in `matheval.check`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from matheval.errors import UsageError
from matheval.scores import Scored, load, metric_order, write_scores
from matheval.stats import bootstrap_means, paired_test

__all__ = ["compare_tables", "format_compare", "load_scores", "metric_order", "summarize", "write_scores"]


def load_scores(path) -> pd.DataFrame:
    """Long table (task, id, metric, value) from a run directory or a scores/samples .jsonl."""
    return load(path).scores


def summarize(
    scores: pd.DataFrame, *, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """Leaderboard rows: per task and metric, the mean over problems and its bootstrap CI."""
    out = []
    for task, grp in scores.groupby("task", sort=True):
        wide = grp.pivot(index="id", columns="metric", values="value")
        metrics = sorted(wide.columns, key=metric_order)
        for metric in metrics:
            x = wide[metric].dropna().to_numpy()
            means = bootstrap_means(x, n_boot, seed)
            lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
            out.append((task, metric, len(x), float(x.mean()), float(lo), float(hi)))
    return pd.DataFrame(out, columns=["task", "metric", "n", "mean", "lo", "hi"])


def _paired(a: pd.DataFrame, b: pd.DataFrame, task: str) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    wa = a[a["task"] == task].pivot(index="id", columns="metric", values="value")
    wb = b[b["task"] == task].pivot(index="id", columns="metric", values="value")
    common = wa.index.intersection(wb.index).sort_values()
    metrics = sorted(set(wa.columns) & set(wb.columns), key=metric_order)
    return (
        wa.loc[common, metrics],
        wb.loc[common, metrics],
        len(wa.index.difference(wb.index)),
        len(wb.index.difference(wa.index)),
    )


def compare_tables(
    a: pd.DataFrame | Scored, b: pd.DataFrame | Scored, *, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """B - A per task and metric on the problems both runs scored, with the paired test `check`
    uses (McNemar for 0/1 metrics, sign-flip otherwise; two-sided here). Significant: p < alpha.
    Two runs with no problem in common are a usage error, as in `check`."""
    a = a.scores if isinstance(a, Scored) else a
    b = b.scores if isinstance(b, Scored) else b
    rows = []
    for task in sorted(set(a["task"]) | set(b["task"])):
        wa, wb, only_a, only_b = _paired(a, b, task)
        for metric in wa.columns:
            mask = wa[metric].notna() & wb[metric].notna()
            xa, xb = wa.loc[mask, metric].to_numpy(), wb.loc[mask, metric].to_numpy()
            if len(xa) == 0:
                continue
            t = paired_test(xa, xb, alpha=alpha, n_boot=n_boot, seed=seed)
            rows.append((task, metric, len(xa), xa.mean(), xb.mean(), t.diff, t.lo, t.hi, t.p_two_sided,
                         t.method, bool(t.p_two_sided < alpha), only_a, only_b))
    if not rows:
        raise UsageError("the two runs share no scored problem: nothing to compare")
    cols = ["task", "metric", "n", "mean_a", "mean_b", "diff", "lo", "hi", "p_value", "method",
            "significant", "only_a", "only_b"]
    return pd.DataFrame(rows, columns=cols)


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def format_compare(df: pd.DataFrame) -> str:
    """One line per task x metric: A, B, B - A with its interval in points, p, significance."""
    lines = [f"{'task':<14}{'metric':<10}{'n':>5}{'A':>8}{'B':>8}{'B-A':>8}  {'interval':<16}"
             f"{'p':>8}  method            sig"]
    for r in df.itertuples():
        lines.append(
            f"{r.task:<14}{r.metric:<10}{r.n:>5}{100 * r.mean_a:>8.1f}{100 * r.mean_b:>8.1f}"
            f"{_pts(r.diff):>8}  [{_pts(r.lo)}, {_pts(r.hi)}]".ljust(70)
            + f"{r.p_value:>8.3g}  {r.method:<18}{'YES' if r.significant else 'no'}"
        )
    for r in df.drop_duplicates("task").itertuples():
        if r.only_a or r.only_b:
            lines.append(f"{r.task}: {r.only_a} problems only in A, {r.only_b} only in B (excluded)")
    return "\n".join(lines)
