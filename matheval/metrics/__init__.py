"""Multi-sample metrics: majority vote by equivalence class, exact maj@k, unbiased pass@k.

Definitions are in docs/metrics.md; `score_problem` is what the pipeline calls per problem.
"""

from __future__ import annotations

from matheval.metrics.estimators import default_ks, maj_at_ks, maj_win_counts, pass_at_k
from matheval.metrics.problem import ProblemScores, maj_at_k, score_problem
from matheval.metrics.voting import cluster_answers, key_groups, majority_vote, vote_winner

__all__ = [
    "ProblemScores",
    "cluster_answers",
    "default_ks",
    "key_groups",
    "maj_at_k",
    "maj_at_ks",
    "maj_win_counts",
    "majority_vote",
    "pass_at_k",
    "score_problem",
    "vote_winner",
]
