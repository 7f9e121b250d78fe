"""verl reward functions: point `custom_reward_function.path` at this file (or a one-line re-export).

verl (checked against verl 0.9.1, reward managers `naive` and `batch`) calls
`compute_score(data_source=…, solution_str=…, ground_truth=…, extra_info=…, **reward_kwargs)` per
sample (awaiting it when it is a coroutine function), or with `reward_manager.name=batch`
`compute_score(data_sources=…, solution_strs=…, ground_truths=…, extra_infos=…)` once per batch. A
dict return's "score" is the reward and every other key is logged per sample; string values are
kept in the dumps and skipped by the numeric metrics, so every key is always present with one type.
`custom_reward_function.reward_kwargs` may set timeout, workers, correct, wrong, no_answer,
format_reward, return_dict; other keyword arguments verl passes are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .batch import DEFAULT_TIMEOUT, DEFAULT_WORKERS, reward_batch, reward_batch_async
from .score import Score


def _result(score: Score, settings: dict[str, Any]) -> float | dict[str, Any]:
    value = score.reward(
        correct=float(settings.get("correct", 1.0)),
        wrong=float(settings.get("wrong", 0.0)),
        no_answer=float(settings.get("no_answer", 0.0)),
        format_bonus=float(settings.get("format_reward", 0.0)),
    )
    # verl writes the score into a tensor: a bad gold is 0.0 here, flagged by its status.
    value = 0.0 if value is None else value
    if not settings.get("return_dict", True):
        return value
    return {
        "score": value,
        "acc": float(score.correct),
        "status": score.status,
        "rule": score.rule,
        "pred": score.answer or "",
    }


def _question(extra_info: Any) -> str | None:
    # verl's gsm8k / MATH preprocessing scripts keep the problem text in extra_info["question"].
    q = extra_info.get("question") if isinstance(extra_info, dict) else None
    return q if isinstance(q, str) else None


def _pool_args(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        "workers": int(settings.get("workers", DEFAULT_WORKERS)),
        "timeout": float(settings.get("timeout", DEFAULT_TIMEOUT)),
    }


def compute_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None, **kwargs: Any
) -> float | dict[str, Any]:
    """One sample; data_source picks the matheval task (unknown names grade like `verify`)."""
    score = reward_batch(
        [ground_truth], [solution_str], task=str(data_source), questions=[_question(extra_info)], **_pool_args(kwargs)
    )[0]
    return _result(score, kwargs)


async def compute_score_async(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None, **kwargs: Any
) -> float | dict[str, Any]:
    """`compute_score` as a coroutine (verl awaits it without an executor thread)."""
    scores = await reward_batch_async(
        [ground_truth], [solution_str], task=str(data_source), questions=[_question(extra_info)], **_pool_args(kwargs)
    )
    return _result(scores[0], kwargs)


def compute_score_batch(
    data_sources: Sequence[str],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> list[float | dict[str, Any]]:
    """verl's batch reward manager: the whole batch at once on the worker pool."""
    questions = [_question(e) for e in extra_infos] if extra_infos is not None else None
    scores = reward_batch(
        list(ground_truths), list(solution_strs), task=[str(d) for d in data_sources], questions=questions,
        **_pool_args(kwargs),
    )
    return [_result(s, kwargs) for s in scores]
