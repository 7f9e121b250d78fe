"""Per-problem scores of runs: load them, summarise them with CIs, compare two runs, check a run
against a baseline. All of it reads only the `scores` of samples.jsonl lines, keyed by (task, id).

A baseline is any file with such lines: a run's samples.jsonl (or its directory), or the compact
form `write_scores` produces ({"task", "id", "scores"} per line), which is what gets committed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from matheval.errors import UsageError
from matheval.stats import bootstrap_means, mcnemar, mcnemar_one_sided, paired_bootstrap_diff

# Differences this small are float noise between machines (maj@k sums binomials), not a change.
_EPS = 1e-9


def _samples_path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / "samples.jsonl"
    if not p.is_file():
        raise UsageError(f"no samples file at {p} (give a run directory or a .jsonl file)")
    return p


def load_scores(path: str | Path) -> pd.DataFrame:
    """Long table (task, id, metric, value) from a run directory or a scores/samples .jsonl."""
    p = _samples_path(path)
    rows: list[tuple[str, str, str, float]] = []
    seen: set[tuple[str, str]] = set()
    with open(p, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a torn last line from a crash mid-write, as in record.read_results
            key = (str(rec["task"]), str(rec["id"]))
            if key in seen:
                raise UsageError(f"{p}: problem {key[0]}/{key[1]} appears twice")
            seen.add(key)
            for metric, value in (rec.get("scores") or {}).items():
                rows.append((key[0], key[1], metric, float(value)))
    if not rows:
        raise UsageError(f"{p}: no per-problem scores found")
    return pd.DataFrame(rows, columns=["task", "id", "metric", "value"])


def write_scores(scores: pd.DataFrame, path: str | Path) -> None:
    """The compact baseline: one {"task", "id", "scores"} line per problem, sorted for diffs."""
    with open(path, "w", encoding="utf-8") as fh:
        for (task, pid), grp in scores.sort_values(["task", "id"]).groupby(["task", "id"], sort=False):
            values = {m: float(v) for m, v in zip(grp["metric"], grp["value"], strict=True)}
            ordered = {m: values[m] for m in sorted(values, key=metric_order)}
            fh.write(json.dumps({"task": task, "id": pid, "scores": ordered}) + "\n")


def metric_order(metric: str) -> tuple[int, int, str]:
    """top1 first, then maj@k and pass@k by k, then anything else by name."""
    if metric == "top1":
        return (0, 0, "")
    m = re.fullmatch(r"(maj|pass)@(\d+)", metric)
    if m:
        return (1 if m.group(1) == "maj" else 2, int(m.group(2)), "")
    return (3, 0, metric)


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


def _binary(*columns: np.ndarray) -> bool:
    return all(np.isin(c, (0.0, 1.0)).all() for c in columns)


def compare_tables(
    a: pd.DataFrame, b: pd.DataFrame, *, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """B - A per task and metric on the problems both runs scored. 0/1 metrics (top1 always)
    use McNemar's exact test with Newcombe's interval; others the paired bootstrap. Significant
    means p < alpha for McNemar, and an interval excluding 0 for the bootstrap."""
    rows = []
    for task in sorted(set(a["task"]) | set(b["task"])):
        wa, wb, only_a, only_b = _paired(a, b, task)
        for metric in wa.columns:
            mask = wa[metric].notna() & wb[metric].notna()
            xa, xb = wa.loc[mask, metric].to_numpy(), wb.loc[mask, metric].to_numpy()
            if len(xa) == 0:
                continue
            if _binary(xa, xb):
                d = mcnemar(xa.astype(bool), xb.astype(bool), alpha=alpha)
                significant = d.p_value < alpha
            else:
                d = paired_bootstrap_diff(xa, xb, n_boot=n_boot, alpha=alpha, seed=seed)
                significant = d.lo > _EPS or d.hi < -_EPS
            rows.append(
                (task, metric, len(xa), xa.mean(), xb.mean(), d.diff, d.lo, d.hi, d.p_value,
                 d.method, bool(significant), only_a, only_b)
            )
    cols = ["task", "metric", "n", "mean_a", "mean_b", "diff", "lo", "hi", "p_value", "method",
            "significant", "only_a", "only_b"]
    return pd.DataFrame(rows, columns=cols)


@dataclass(frozen=True)
class Regression:
    task: str
    metric: str
    n: int  # paired problems
    baseline: float
    run: float
    diff: float  # run - baseline
    lo: float  # interval at level 1 - 2 * alpha_cell: `hi` is the one-sided upper bound
    hi: float
    p_value: float  # one-sided, for "run is worse"
    alpha_cell: float  # the per-cell level after the Bonferroni correction
    method: str


def check_regressions(
    baseline: pd.DataFrame,
    run: pd.DataFrame,
    *,
    alpha: float = 0.05,
    n_boot: int = 10_000,
    seed: int = 0,
) -> list[Regression]:
    """Cells (task, metric) where the run is significantly worse than the baseline.

    Each cell is a one-sided test of "run >= baseline" on the paired problems, at level
    alpha / (number of cells): Bonferroni, so that the whole check raises a false alarm on
    pure noise with probability at most alpha however many tasks and k it covers. A cell
    regresses when the one-sided upper confidence bound of (run - baseline) is below zero:
    for 0/1 metrics when McNemar's exact one-sided p < alpha_cell, otherwise when the
    (1 - alpha_cell) quantile of the paired bootstrap is < 0. Identical per-problem scores
    (deterministic greedy decoding, nothing changed) therefore never regress.
    """
    cells = []
    for task in sorted(set(baseline["task"]) & set(run["task"])):
        wa, wb, _, _ = _paired(baseline, run, task)
        if len(wa):
            cells.append((task, wa, wb))
    n_cells = sum(wa.shape[1] for _, wa, _ in cells)
    if n_cells == 0:
        raise UsageError("the run and the baseline share no scored problem: nothing to check")
    alpha_cell = alpha / n_cells
    found = []
    for task, wa, wb in cells:
        # One resampling of the task's problems serves all its metrics (paired across metrics).
        boot = bootstrap_means((wb - wa).to_numpy(), n_boot, seed)
        for j, metric in enumerate(wa.columns):
            xa, xb = wa[metric].to_numpy(), wb[metric].to_numpy()
            if np.isnan(xa).any() or np.isnan(xb).any():
                mask = ~(np.isnan(xa) | np.isnan(xb))
                xa, xb = xa[mask], xb[mask]
                col = bootstrap_means(xb - xa, n_boot, seed) if len(xa) else None
            else:
                col = boot[:, j]
            if col is None:
                continue
            diff = float(xb.mean() - xa.mean())
            if _binary(xa, xb):
                p = mcnemar_one_sided(xa.astype(bool), xb.astype(bool))
                ci = mcnemar(xa.astype(bool), xb.astype(bool), alpha=2 * alpha_cell)
                lo, hi, method, bad = ci.lo, ci.hi, "mcnemar", p < alpha_cell
            else:
                lo, hi = (float(q) for q in np.quantile(col, [alpha_cell, 1 - alpha_cell]))
                p = float((1 + np.count_nonzero(col >= -_EPS)) / (1 + len(col)))
                method, bad = "paired-bootstrap", hi < -_EPS
            if bad and diff < -_EPS:
                found.append(Regression(task, metric, len(xa), float(xa.mean()), float(xb.mean()),
                                        diff, lo, hi, p, alpha_cell, method))
    return found


def coverage(baseline: pd.DataFrame, run: pd.DataFrame) -> pd.DataFrame:
    """Per task: problems in both, only in the baseline (excluded: a run that lost problems
    should be looked at), only in the run (excluded: new problems have nothing to compare to)."""
    rows = []
    for task in sorted(set(baseline["task"]) | set(run["task"])):
        ib = set(baseline.loc[baseline["task"] == task, "id"])
        ir = set(run.loc[run["task"] == task, "id"])
        rows.append((task, len(ib & ir), len(ib - ir), len(ir - ib)))
    return pd.DataFrame(rows, columns=["task", "paired", "only_baseline", "only_run"])


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


def format_regressions(regressions: list[Regression], cov: pd.DataFrame | None = None) -> str:
    """What regressed, by how much, with the interval; plus problems that could not be paired."""
    lines = []
    for r in regressions:
        lines.append(
            f"REGRESSION {r.task} {r.metric}: {100 * r.baseline:.1f} -> {100 * r.run:.1f} "
            f"({_pts(r.diff)} pts, interval [{_pts(r.lo)}, {_pts(r.hi)}], one-sided p={r.p_value:.3g}"
            f" < {r.alpha_cell:.2g}, {r.method}, n={r.n})"
        )
    if not regressions:
        lines.append("no significant regression")
    if cov is not None:
        for r in cov.itertuples():
            if r.only_baseline or r.only_run:
                lines.append(f"{r.task}: {r.only_baseline} baseline problems missing from the run, "
                             f"{r.only_run} new problems (both excluded)")
    return "\n".join(lines)
