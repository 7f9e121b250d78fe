"""Confidence intervals over problems and paired comparisons of two runs.

Everything works on per-problem metric values (the `scores` of samples.jsonl), so a CI, a
`compare` and a regression `check` all resample the same unit: the problem. Bootstraps use a
fixed seed, so the same inputs always give the same intervals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

# Resample indices are drawn in blocks so memory stays ~ block * n_problems * n_metrics floats.
_CELLS_PER_BLOCK = 4_000_000
# Up to this many non-zero paired differences the sign-flip test enumerates all 2^m signs.
_EXACT_FLIPS = 16


# NamedTuples rather than dataclasses so callers can unpack `mean, lo, hi = bootstrap_ci(...)`.
class Interval(NamedTuple):
    estimate: float
    lo: float
    hi: float


class Diff(NamedTuple):
    """`b - a` on paired problems, its interval, and a two-sided p-value for "no difference"."""

    diff: float
    lo: float
    hi: float
    p_value: float
    method: str  # "paired-bootstrap" or "mcnemar"


def bootstrap_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Means of `n_boot` resamples of the rows (problems) of a (problems,) or (problems, metrics)
    array. Metrics of one task share the resampled problems, as a paired design requires."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        return bootstrap_means(x[:, None], n_boot, seed)[:, 0]
    n = x.shape[0]
    if n == 0:
        raise ValueError("cannot bootstrap zero problems")
    rng = np.random.default_rng(seed)
    block = max(1, _CELLS_PER_BLOCK // (n * x.shape[1]))
    out = np.empty((n_boot, x.shape[1]))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, *, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> Interval:
    """Mean over problems and its percentile-bootstrap (1 - alpha) interval."""
    x = np.asarray(values, dtype=np.float64)
    means = bootstrap_means(x, n_boot, seed)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(x.mean()), float(lo), float(hi))


def paired_bootstrap_diff(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> Diff:
    """mean(b) - mean(a) over the same problems (a[i] and b[i] are one problem), with the
    percentile interval of the resampled per-problem differences. The p-value recentres the
    bootstrap distribution on zero: P(|d* - d| >= |d|), with the usual +1 so it is never 0.
    Identical runs give a zero-width interval at 0 and p = 1."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError("paired_bootstrap_diff needs two equal-length, non-empty sequences")
    means = bootstrap_means(d, n_boot, seed)
    return _bootstrap_diff(float(d.mean()), means, alpha)


def _bootstrap_diff(observed: float, means: np.ndarray, alpha: float) -> Diff:
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    extreme = np.count_nonzero(np.abs(means - observed) >= abs(observed) - 1e-12)
    p = (1 + extreme) / (1 + len(means))
    return Diff(observed, float(lo), float(hi), min(1.0, p), "paired-bootstrap")


def _binom_tail(n: int, k: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly."""
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def _wilson(successes: int, n: int, z: float) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _z(alpha: float) -> float:
    # Two-sided normal quantile without scipy: invert erf by bisection (alpha is a constant,
    # so the cost is irrelevant).
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if math.erfc(mid / math.sqrt(2)) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mcnemar(
    a_correct: Sequence[bool], b_correct: Sequence[bool], *, alpha: float = 0.05
) -> Diff:
    """Paired difference of accuracies, b - a, for 0/1 outcomes (top1).

    p-value: McNemar's exact test, i.e. a two-sided binomial test of the discordant pairs against
    1/2 (p = 1 when there are none). Interval: Newcombe (1998) method 10, Wilson score intervals
    for each run combined through the phi correlation of the 2x2 table; unlike Wald it stays
    inside [-1, 1] and behaves at 0 or 100% accuracy."""
    if len(a_correct) != len(b_correct) or len(a_correct) == 0:
        raise ValueError("mcnemar needs two equal-length, non-empty outcome lists")
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    n = len(a)
    both = int(np.sum(a & b))
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    neither = n - both - only_a - only_b
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else min(1.0, 2 * _binom_tail(discordant, min(only_a, only_b)))

    z = _z(alpha)
    pa, pb = (both + only_a) / n, (both + only_b) / n
    la, ua = _wilson(both + only_a, n, z)
    lb, ub = _wilson(both + only_b, n, z)
    denom = (both + only_a) * (neither + only_b) * (both + only_b) * (neither + only_a)
    phi = 0.0 if denom == 0 else (both * neither - only_a * only_b) / math.sqrt(denom)
    diff = pb - pa
    lower = math.sqrt(max(0.0, (pb - lb) ** 2 - 2 * phi * (pb - lb) * (ua - pa) + (ua - pa) ** 2))
    upper = math.sqrt(max(0.0, (ub - pb) ** 2 - 2 * phi * (ub - pb) * (pa - la) + (pa - la) ** 2))
    return Diff(diff, diff - lower, diff + upper, p_value, "mcnemar")


def sign_flip_p(differences: Sequence[float] | np.ndarray, *, n_perm: int = 10_000, seed: int = 0) -> float:
    """One-sided paired randomisation test of "b is worse than a" from the per-problem differences
    d = b - a: P(mean(s * d) <= mean(d)) over random signs s = +-1 (the null "nothing changed"
    makes every pair exchangeable, so each difference is as likely with either sign). Valid at any
    number of problems, unlike a bootstrap tail at a Bonferroni level; on 0/1 values it is the
    sign test behind McNemar. All-zero differences give p = 1."""
    d = np.round(np.asarray(differences, dtype=np.float64), 12)  # float noise of summed binomials
    d = d[d != 0]
    if len(d) == 0:
        return 1.0
    observed = d.mean()
    if len(d) <= _EXACT_FLIPS:  # every sign vector: exact, like McNemar's binomial
        signs = 1.0 - 2.0 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
        return float(np.mean((signs * d).mean(axis=1) <= observed + 1e-12))
    rng = np.random.default_rng(seed)
    block = max(1, _CELLS_PER_BLOCK // len(d))
    hits = 0
    for start in range(0, n_perm, block):
        signs = rng.choice((-1.0, 1.0), size=(min(block, n_perm - start), len(d)))
        hits += int(np.count_nonzero((signs * d).mean(axis=1) <= observed + 1e-12))
    return (1 + hits) / (1 + n_perm)


def mcnemar_one_sided(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> float:
    """Exact one-sided p-value for "b is worse than a": P(X >= only_a) with X ~ Bin(disc, 1/2)."""
    a = np.asarray(a_correct, dtype=bool)
    b = np.asarray(b_correct, dtype=bool)
    only_a = int(np.sum(a & ~b))
    discordant = only_a + int(np.sum(~a & b))
    if discordant == 0:
        return 1.0
    return 1.0 - _binom_tail(discordant, only_a - 1) if only_a > 0 else 1.0


class Paired(NamedTuple):
    """`b - a` on paired problems: interval at (1 - alpha) and one-sided p-values both ways."""

    diff: float
    lo: float
    hi: float
    p_worse: float  # for "b is worse than a"
    p_better: float  # for "b is better than a"
    method: str  # "mcnemar" (0/1 values) or "sign-flip"

    @property
    def p_two_sided(self) -> float:
        return min(1.0, 2 * min(self.p_worse, self.p_better))


def is_binary(*columns: np.ndarray) -> bool:
    return all(np.isin(c, (0.0, 1.0)).all() for c in columns)


def paired_test(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *, alpha: float = 0.05,
    n_boot: int = 2000, n_perm: int = 10_000, seed: int = 0,
) -> Paired:
    """The one paired comparison `compare` and `check` share. 0/1 values (top1): McNemar's exact
    test and Newcombe's interval. Others (maj@k, pass@k): the sign-flip test on the per-problem
    differences and the percentile interval of their paired bootstrap."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if xa.shape != xb.shape or xa.ndim != 1 or len(xa) == 0:
        raise ValueError("paired_test needs two equal-length, non-empty sequences")
    if is_binary(xa, xb):
        ca, cb = xa.astype(bool), xb.astype(bool)
        ci = mcnemar(ca, cb, alpha=alpha)
        return Paired(ci.diff, ci.lo, ci.hi, mcnemar_one_sided(ca, cb), mcnemar_one_sided(cb, ca), "mcnemar")
    d = xb - xa
    ci = _bootstrap_diff(float(d.mean()), bootstrap_means(d, n_boot, seed), alpha)
    return Paired(ci.diff, ci.lo, ci.hi, sign_flip_p(d, n_perm=n_perm, seed=seed),
                  sign_flip_p(-d, n_perm=n_perm, seed=seed), "sign-flip")
