"""Unbiased k-sample estimators from N >= k samples of one problem: pass@k and maj@k.

Both are expectations over a uniformly random k-subset of the N samples, never "the first k".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n, with n itself appended when it is not a power of two."""
    if n < 1:
        raise ValueError(f"need at least one sample, got n={n}")
    ks = [1 << i for i in range(n.bit_length()) if (1 << i) <= n]
    if ks[-1] != n:
        ks.append(n)
    return ks


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021): 1 - C(n-c, k) / C(n, k), the probability that a uniformly random
    k-subset of n samples, c of them correct, contains at least one correct sample.

    Evaluated as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the huge binomials."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@lru_cache(maxsize=512)
def _binom_row(n: int) -> np.ndarray:
    """Coefficients of (1 + t)^n: the number of ways to pick i of n free samples."""
    return np.array([math.comb(n, i) for i in range(n + 1)], dtype=np.float64)


def _mul(p: np.ndarray, q: np.ndarray, cap: int) -> np.ndarray:
    return np.convolve(p, q)[: cap + 1]


def maj_win_counts(cluster_ids: Sequence[int | None], target: int) -> np.ndarray:
    """For every k = 0..N, the number of k-subsets of positions in which cluster `target` wins
    the vote of `voting.vote_winner` (largest cluster; ties to the earliest first member).

    Generating functions in t, where t^x counts x chosen samples. Case on m, the target's count
    in the subset, and on p_j, the position of its first chosen member. Another cluster c beats
    or ties-and-wins against the target exactly when it has more than m members chosen, or m
    members with one of them before p_j. So c contributes sum_{x<m} C(n_c, x) t^x plus
    C(b_c, m) t^m, where b_c counts c's members after p_j. None answers are free: (1+t)^n_none.
    """
    n_total = len(cluster_ids)
    positions: dict[int, list[int]] = {}
    for pos, cid in enumerate(cluster_ids):
        if cid is not None:
            positions.setdefault(cid, []).append(pos)
    out = np.zeros(n_total + 1)
    own = positions.get(target)
    if not own:
        return out
    n_w = len(own)
    others = [p for cid, p in positions.items() if cid != target]
    n_none = n_total - sum(len(p) for p in positions.values())
    m_other = max((len(p) for p in others), default=0)

    # m above every other cluster's size: nobody can tie, so the target's m members are any
    # m of its n_w and everything else is free.
    high = np.zeros(n_w + 1)
    for m in range(m_other + 1, n_w + 1):
        high[m] = math.comb(n_w, m)
    out += _mul(high, _binom_row(n_total - n_w), n_total)

    for m in range(1, min(m_other, n_w) + 1):
        # Clusters smaller than m can never reach m: they are free like the None answers.
        big = [p for p in others if len(p) >= m]
        n_free = n_none + sum(len(p) for p in others if len(p) < m)
        # The target's choices depend on j only through C(n_w - j, m - 1), and the big clusters'
        # factors only through the b_c counts, so sum the weights of all j sharing the same b_c.
        weight_by_b: dict[tuple[int, ...], float] = {}
        for j in range(1, n_w - m + 2):
            pj = own[j - 1]
            b = tuple(sum(1 for q in p if q > pj) for p in big)
            weight_by_b[b] = weight_by_b.get(b, 0.0) + math.comb(n_w - j, m - 1)
        free = _binom_row(n_free)
        for b, weight in weight_by_b.items():
            poly = np.zeros(m + 1)
            poly[m] = weight
            poly = _mul(poly, free, n_total)
            for p, b_c in zip(big, b, strict=True):
                factor = _binom_row(len(p))[: m + 1].copy()
                factor[m] = math.comb(b_c, m)
                poly = _mul(poly, factor, n_total)
            out[: len(poly)] += poly
    return out


def maj_at_ks(
    cluster_ids: Sequence[int | None], correct: Sequence[bool], ks: Iterable[int]
) -> dict[int, float]:
    """maj@k for each k: the probability, over a uniformly random k-subset of the N samples
    (order preserved), that the vote winner is a correct cluster. No winner (all the chosen
    samples abstained) counts as incorrect. `correct[c]` is the correctness of cluster c."""
    n_total = len(cluster_ids)
    ks = list(ks)
    for k in ks:
        if not 1 <= k <= n_total:
            raise ValueError(f"maj@k needs 1 <= k <= N={n_total}, got k={k}")
    wins = np.zeros(n_total + 1)
    present = {cid for cid in cluster_ids if cid is not None}
    for cid in present:
        if correct[cid]:
            wins += maj_win_counts(cluster_ids, cid)
    # Exactly representable up to 2^53; beyond, float64 keeps ~1e-16 relative error, and the
    # clip removes the rounding that could push a certain win a hair above 1.
    return {k: float(min(1.0, max(0.0, wins[k] / math.comb(n_total, k)))) for k in ks}
