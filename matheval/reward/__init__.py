"""matheval's grader as an RL reward: the verdict an evaluation stores, on killable worker processes.

    reward_batch(golds, responses, task=None, workers=2, timeout=10.0) -> list[Score]
    await reward_batch_async(...)                      # same, without blocking the event loop
    trl.accuracy_reward / trl.make_reward(gold=, task=, correct=, wrong=, no_answer=, format_reward=)
    verl.compute_score(data_source, solution_str, ground_truth, extra_info=None, **kw)
    spec_for("openai/gsm8k") -> RewardSpec              # a task's extraction style + grader options

A Score's `reward()` is None only for an empty or unparsable gold. See docs/reward.md.
"""

from __future__ import annotations

from . import trl, verl
from .batch import DEFAULT_TIMEOUT, DEFAULT_WORKERS, pool, reward, reward_batch, reward_batch_async, shutdown
from .pool import RewardError, RewardPool
from .score import STATUSES, Score, score_one
from .spec import ALIASES, DEFAULT, RewardSpec, prepare_gold, spec_for, task_for_source
from .trl import accuracy_reward, make_reward
from .verl import compute_score, compute_score_async, compute_score_batch

__all__ = [
    "ALIASES",
    "DEFAULT",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WORKERS",
    "STATUSES",
    "RewardError",
    "RewardPool",
    "RewardSpec",
    "Score",
    "accuracy_reward",
    "compute_score",
    "compute_score_async",
    "compute_score_batch",
    "make_reward",
    "pool",
    "prepare_gold",
    "reward",
    "reward_batch",
    "reward_batch_async",
    "score_one",
    "shutdown",
    "spec_for",
    "task_for_source",
    "trl",
    "verl",
]
