"""The regression gate: is a run significantly worse than its baseline, and is it comparable at all?

Per task × metric, a paired one-sided test of "the run is at least as good as the baseline" on
the problems both scored (`stats.paired_test`), at the family-wise level `alpha` split over the
gating cells (Bonferroni). Before any test: the fingerprints must agree on the protocol keys
(`matheval.comparable`), else the check is refused (exit 2). Anything the baseline has and the
run lacks (a task, problems, a metric) fails the check (exit 1): missing is not passing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from matheval.ci_policy import Policy
from matheval.comparable import Difference, differences
from matheval.errors import UsageError
from matheval.scores import Scored, metric_order
from matheval.stats import paired_test

# Differences this small are float noise between machines (maj@k sums binomials), not a change.
_EPS = 1e-9

REGRESSION = "REGRESSION"
VERDICTS = (REGRESSION, "drop below min_drop", "drop (informational)", "ok", "better")


@dataclass(frozen=True)
class Cell:
    task: str
    metric: str
    n: int  # paired problems
    baseline: float
    run: float
    diff: float  # run - baseline
    lo: float  # interval at 1 - 2 * alpha_cell, so `hi` is the one-sided bound the test uses
    hi: float
    p_value: float  # one-sided, for "the run is worse"
    method: str
    gating: bool  # critical task and a gated metric: counted in the Bonferroni split
    min_drop: float  # points
    verdict: str


@dataclass(frozen=True)
class Gap:
    """Something the baseline has and the run lacks."""

    task: str
    what: str  # "task", "problems" or "metric"
    count: int
    of: int
    examples: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.what == "task":
            return f"{self.task}: task missing from the run ({self.of} baseline problems)"
        if self.what == "metric":
            return f"{self.task}: metric {', '.join(self.examples)} missing from the run"
        shown = ", ".join(self.examples) + (", …" if self.count > len(self.examples) else "")
        return f"{self.task}: {self.count} of {self.of} baseline problems missing from the run ({shown})"


@dataclass(frozen=True)
class Changed:
    """Problems whose gated scores changed (either way), against the policy's `max_changed`."""

    task: str
    count: int
    of: int
    limit: int
    critical: bool
    examples: tuple[str, ...] = ()

    @property
    def failing(self) -> bool:
        return self.critical and self.count > self.limit

    def describe(self) -> str:
        shown = ", ".join(self.examples) + (", …" if self.count > len(self.examples) else "")
        return (f"{self.task}: {self.count} of {self.of} problems changed their scores, the policy allows "
                f"{self.limit}" + (f" ({shown})" if shown else ""))


@dataclass(frozen=True)
class CheckResult:
    baseline: str
    run: str
    alpha: float
    alpha_cell: float
    cells: tuple[Cell, ...]
    gaps: tuple[Gap, ...]
    differences: tuple[Difference, ...]
    unrecorded: tuple[str, ...]  # "baseline mawps": a side with no fingerprint for a task
    allow_mismatch: bool
    new_problems: dict[str, int] = field(default_factory=dict)
    changed: tuple[Changed, ...] = ()

    @property
    def refused(self) -> bool:
        blocking = any(d.blocking for d in self.differences) or bool(self.unrecorded)
        return blocking and not self.allow_mismatch

    @property
    def regressions(self) -> list[Cell]:
        return [c for c in self.cells if c.verdict == REGRESSION]

    @property
    def too_many_changes(self) -> list[Changed]:
        return [c for c in self.changed if c.failing]

    @property
    def exit_code(self) -> int:
        if self.refused:
            return 2
        return 1 if self.regressions or self.gaps or self.too_many_changes else 0

    def refusal(self) -> str:
        why = [d.describe() for d in self.differences if d.blocking]
        why += [f"{u} records no fingerprint" for u in self.unrecorded]
        return ("the run is not comparable with the baseline: " + "; ".join(why)
                + " (pass --allow-mismatch if the change is deliberate, or refresh the baseline)")


def run_check(
    baseline: Scored, run: Scored, *, policy: Policy | None = None, tasks: list[str] | None = None,
    alpha: float | None = None, allow_mismatch: bool = False, n_perm: int = 10_000,
) -> CheckResult:
    policy = policy or Policy()
    alpha = policy.alpha if alpha is None else alpha
    if not 0 < alpha < 1:
        raise UsageError(f"--alpha must be in (0, 1), got {alpha}")
    scope = _scope(baseline, policy, tasks)
    diffs, unrecorded = _fingerprints(baseline, run, scope)
    gaps, plans, new, changed = [], [], {}, []
    for task in scope:
        wa = _wide(baseline.scores, task)
        metrics = _metrics(policy, task, list(wa.columns))
        if task not in set(run.scores["task"]):
            gaps.append(Gap(task, "task", len(wa), len(wa)))
            continue
        wb = _wide(run.scores, task)
        missing_ids = sorted(wa.index.difference(wb.index), key=_natural)
        if missing_ids:
            gaps.append(Gap(task, "problems", len(missing_ids), len(wa), tuple(missing_ids[:5])))
        if lost := [m for m in metrics if m not in wb.columns]:
            gaps.append(Gap(task, "metric", len(lost), len(metrics), tuple(lost)))
        new[task] = len(wb.index.difference(wa.index))
        common = wa.index.intersection(wb.index)
        tp = policy.for_task(task)
        if tp.max_changed is not None:
            changed.append(_changed(task, wa, wb, common, [m for m in metrics if m in wb.columns], tp))
        for m in metrics:
            if m not in wb.columns:
                continue
            a, b = wa.loc[common, m], wb.loc[common, m]
            keep = a.notna() & b.notna()
            if keep.any():
                plans.append((task, m, a[keep], b[keep], tp.critical, tp.min_drop or 0.0))
    if not plans:
        raise UsageError("the run and the baseline share no scored problem: nothing to check "
                         "(is it the right run, or the right --tasks?)")
    n_gating = sum(p[4] for p in plans) or len(plans)
    alpha_cell = alpha / n_gating
    cells = tuple(_cell(*p, alpha_cell=alpha_cell, n_perm=n_perm) for p in plans)
    return CheckResult(baseline.source, run.source, alpha, alpha_cell, cells, tuple(gaps), tuple(diffs),
                       tuple(unrecorded), allow_mismatch, new, tuple(changed))


def _changed(task: str, wa: pd.DataFrame, wb: pd.DataFrame, common: pd.Index, metrics: list[str], tp) -> Changed:
    a, b = wa.loc[common, metrics], wb.loc[common, metrics]
    moved = ((a - b).abs() > _EPS).any(axis=1)
    ids = sorted((str(i) for i in moved[moved].index), key=_natural)
    return Changed(task, len(ids), len(common), tp.max_changed, tp.critical, tuple(ids[:5]))


def _scope(baseline: Scored, policy: Policy, tasks: list[str] | None) -> list[str]:
    have = baseline.tasks
    for name in list(policy.tasks) + list(tasks or []):
        if name not in have:
            raise UsageError(f"task '{name}' is not in the baseline (it has {', '.join(have)})")
    return sorted(tasks) if tasks else have


def _fingerprints(baseline: Scored, run: Scored, scope: list[str]) -> tuple[list[Difference], list[str]]:
    diffs, unrecorded = [], []
    for task in scope:
        fa, fb = baseline.fingerprints.get(task), run.fingerprints.get(task)
        if fa is None:
            unrecorded.append(f"the baseline's {task}")
        if fb is None and task in set(run.scores["task"]):
            unrecorded.append(f"the run's {task}")
        if fa is not None and fb is not None:
            diffs += differences(task, fa, fb)
    return diffs, unrecorded


def _wide(scores: pd.DataFrame, task: str) -> pd.DataFrame:
    return scores[scores["task"] == task].pivot(index="id", columns="metric", values="value")


def _metrics(policy: Policy, task: str, have: list[str]) -> list[str]:
    wanted = policy.for_task(task).metrics
    if wanted is None:
        return sorted(have, key=metric_order)
    if unknown := [m for m in wanted if m not in have]:
        raise UsageError(f"policy metric {', '.join(unknown)} is not in the baseline's {task} "
                         f"(it has {', '.join(sorted(have, key=metric_order))})")
    return list(wanted)


def _natural(pid: str) -> tuple[int, str]:
    return (int(pid), "") if pid.isdigit() else (1 << 62, pid)


def _cell(task: str, metric: str, a: pd.Series, b: pd.Series, critical: bool, min_drop: float, *,
          alpha_cell: float, n_perm: int) -> Cell:
    xa, xb = a.to_numpy(), b.to_numpy()
    t = paired_test(xa, xb, alpha=2 * alpha_cell, n_perm=n_perm)
    drop = -100 * t.diff
    if t.p_worse < alpha_cell and t.diff < -_EPS:
        verdict = ("drop (informational)" if not critical
                   else REGRESSION if drop >= min_drop - _EPS else "drop below min_drop")
    elif t.p_better < alpha_cell and t.diff > _EPS:
        verdict = "better"
    else:
        verdict = "ok"
    return Cell(task, metric, len(xa), float(np.mean(xa)), float(np.mean(xb)), t.diff, t.lo, t.hi,
                t.p_worse, t.method, critical, min_drop, verdict)
