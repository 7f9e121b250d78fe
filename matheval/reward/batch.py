"""`reward_batch`: many (gold, response) pairs scored on the shared worker pool, sync or async.

One pool per worker count per process, started on first use and killed at exit; a forked child
gets its own. Safe to call from several threads at once, from asyncio (`reward_batch_async` runs
the blocking call in a thread, so the event loop is never blocked) and inside Ray actors.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Sequence
from typing import Any

from .pool import RewardPool
from .score import Score
from .spec import RewardSpec, spec_for

DEFAULT_TIMEOUT = 10.0  # seconds per sample; the grader's own sympy limit (5 s) fits twice
DEFAULT_WORKERS = 2

_POOLS: dict[tuple[int, int], RewardPool] = {}
_LOCK = threading.Lock()

Task = str | RewardSpec | None


def pool(workers: int = DEFAULT_WORKERS) -> RewardPool:
    """This process's shared pool of `workers` reward processes."""
    key = (os.getpid(), workers)
    with _LOCK:
        if key not in _POOLS:
            _POOLS[key] = RewardPool(workers)
        return _POOLS[key]


def resolve_specs(task: Task | Sequence[Task], n: int) -> list[RewardSpec]:
    """One spec per sample from a task / data-source name, a RewardSpec, None, or one of those per sample."""
    if task is None or isinstance(task, (str, RewardSpec)):
        return [_one(task)] * n
    specs = [_one(t) for t in task]
    if len(specs) != n:
        raise ValueError(f"got {len(specs)} tasks for {n} samples")
    return specs


def _one(task: Task) -> RewardSpec:
    return task if isinstance(task, RewardSpec) else spec_for(task)


def reward_batch(
    golds: Sequence[Any],
    responses: Sequence[Any],
    *,
    task: Task | Sequence[Task] = None,
    workers: int = DEFAULT_WORKERS,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    truncated: Sequence[bool] | None = None,
    questions: Sequence[str | None] | None = None,
) -> list[Score]:
    """Score every response against its gold on `workers` killable processes.

    task: a matheval task or data-source name (its grader and extraction options), a RewardSpec,
    None for `verify`'s rule, or a list with one of those per sample. timeout: hard limit per
    sample; a sample that reaches it is `timeout` (wrong) and its worker group is killed.
    deadline: optional limit for the whole call; unfinished samples are then `timeout` too.
    truncated: per sample, whether the generation hit its token limit (extraction then treats it
    as an evaluation run does: no last-number fallback on a cut-off response).
    questions: per sample, the problem text (the grader reads its cues, as evaluation does).
    """
    golds, responses = list(golds), list(responses)
    if len(golds) != len(responses):
        raise ValueError(f"got {len(golds)} golds for {len(responses)} responses")
    if not golds:
        return []
    for name, extra in (("truncated flags", truncated), ("questions", questions)):
        if extra is not None and len(extra) != len(golds):
            raise ValueError(f"got {len(extra)} {name} for {len(golds)} responses")
    specs = resolve_specs(task, len(golds))
    return pool(workers).score(golds, responses, specs, timeout, deadline, truncated, questions)


async def reward_batch_async(
    golds: Sequence[Any],
    responses: Sequence[Any],
    *,
    task: Task | Sequence[Task] = None,
    workers: int = DEFAULT_WORKERS,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float | None = None,
    truncated: Sequence[bool] | None = None,
    questions: Sequence[str | None] | None = None,
) -> list[Score]:
    """`reward_batch` for coroutines: the event loop keeps running while the workers grade."""
    return await asyncio.to_thread(
        reward_batch, golds, responses, task=task, workers=workers, timeout=timeout, deadline=deadline,
        truncated=truncated, questions=questions,
    )


def reward(gold: Any, response: Any, *, task: Task = None, timeout: float = DEFAULT_TIMEOUT) -> Score:
    """One sample (a batch of one)."""
    return reward_batch([gold], [response], task=task, timeout=timeout)[0]


def shutdown() -> None:
    """Kill this process's reward workers (they restart on the next call)."""
    with _LOCK:
        pools = [p for (pid, _), p in _POOLS.items() if pid == os.getpid()]
    for p in pools:
        p.close()


atexit.register(shutdown)
