"""TRL reward functions: `GRPOTrainer(reward_funcs=[accuracy_reward])`, or `make_reward(...)` to configure.

TRL (checked against trl 1.16.0, `GRPOTrainer._calculate_rewards`) calls a reward function with
keyword arguments `prompts`, `completions`, `completion_ids`, one list per dataset column (so the
gold arrives under the dataset's own column name), `trainer_state`, `log_extra`, `log_metric`
(and `environments` with environment factories), and wants one `float | None` per completion,
None meaning "no reward for this sample". A coroutine function is awaited; TRL gathers several
async reward functions concurrently. Completions are strings, or lists of chat messages for
conversational datasets. Instances are picklable (they hold settings, not processes), as TRL's
async rollout worker requires.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matheval.errors import UsageError

from .batch import DEFAULT_TIMEOUT, DEFAULT_WORKERS, reward_batch, reward_batch_async
from .score import Score
from .spec import RewardSpec, spec_for

# Looked for in this order when no gold column is named: a bare answer column first, then a full
# solution (its last \boxed{} is the gold), then verl-style names.
GOLD_COLUMNS = ("answer", "solution", "gold", "ground_truth")
QUESTION_COLUMNS = ("problem", "question")


def completion_text(completion: Any) -> str:
    """The text to grade: a string as is; for chat messages, the last assistant message's content."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, Sequence):
        for message in reversed(completion):
            if isinstance(message, dict) and message.get("role", "assistant") == "assistant":
                return _content_text(message.get("content"))
    return ""


def _prompt_text(prompt: Any) -> str | None:
    """A string prompt as is; for chat messages, the last user message's content."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        for message in reversed(prompt):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
    return None


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):  # content blocks: [{"type": "text", "text": "..."}, ...]
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


class MathevalReward:
    """A TRL reward function backed by matheval's grader on the shared worker pool.

    gold: the dataset column holding the gold (default: the first of GOLD_COLUMNS present).
    task: a matheval task or data-source name whose grader/extraction options apply, or a
        RewardSpec; None grades like `matheval.verify`. task_column: a column naming each row's
        task / data source instead (e.g. verl's "data_source").
    correct / wrong / no_answer: the reward of a correct, a wrong (incorrect, unparsable, timeout)
        and an answerless completion. An empty or unparsable gold always gives None.
    format_reward: added when the completion gives its answer in `format_style` (a `\\boxed{}`).
    truncated_at: the run's max_completion_length; a completion of that many tokens was cut off,
        and is graded as evaluation grades a truncated generation (no last-number fallback).
    """

    def __init__(
        self,
        *,
        gold: str | None = None,
        task: str | RewardSpec | None = None,
        task_column: str | None = None,
        correct: float = 1.0,
        wrong: float = 0.0,
        no_answer: float = 0.0,
        format_reward: float = 0.0,
        format_style: str = "boxed",
        workers: int = DEFAULT_WORKERS,
        timeout: float = DEFAULT_TIMEOUT,
        truncated_at: int | None = None,
        name: str = "matheval_accuracy",
    ) -> None:
        base = task if isinstance(task, RewardSpec) else spec_for(task)
        self.spec = RewardSpec(base.task, base.style, base.options, base.extract, format_style)
        self.gold, self.task_column = gold, task_column
        self.values = {"correct": correct, "wrong": wrong, "no_answer": no_answer, "format_bonus": format_reward}
        self.workers, self.timeout, self.truncated_at = workers, timeout, truncated_at
        self.__name__ = name  # TRL logs rewards/<__name__>/mean
        self.calls = 0  # how many batches this function scored (in this process)
        self.samples = 0

    def _truncated(self, kwargs: dict[str, Any]) -> list[bool] | None:
        ids = kwargs.get("completion_ids")
        if self.truncated_at is None or ids is None:
            return None
        return [len(i) >= self.truncated_at for i in ids]

    @staticmethod
    def _questions(kwargs: dict[str, Any]) -> list[str | None] | None:
        """The problem text, whose cues the grader reads: a problem/question column, else the prompt."""
        for column in QUESTION_COLUMNS:
            if column in kwargs:
                return [None if q is None else str(q) for q in kwargs[column]]
        prompts = kwargs.get("prompts")
        return None if prompts is None else [_prompt_text(p) for p in prompts]

    def _inputs(self, completions: Sequence[Any], kwargs: dict[str, Any]) -> tuple[list[Any], list[str], Any]:
        column = self.gold or next((c for c in GOLD_COLUMNS if c in kwargs), None)
        if column is None or column not in kwargs:
            columns = sorted(k for k in kwargs if k not in ("trainer_state", "log_extra", "log_metric"))
            raise UsageError(
                f"reward {self.__name__}: no gold column {column or '/'.join(GOLD_COLUMNS)!r} among the "
                f"dataset columns {columns}; pass make_reward(gold=...)"
            )
        golds = list(kwargs[column])
        if len(golds) != len(completions):
            raise ValueError(f"reward {self.__name__}: {len(golds)} golds for {len(completions)} completions")
        task: Any = self.spec
        if self.task_column is not None:
            task = [
                RewardSpec(s.task, s.style, s.options, s.extract, self.spec.format_style)
                for s in (spec_for(str(t)) for t in kwargs[self.task_column])
            ]
        return golds, [completion_text(c) for c in completions], task

    def _finish(self, scores: list[Score], kwargs: dict[str, Any]) -> list[float | None]:
        self.calls += 1
        self.samples += len(scores)
        log_extra, log_metric = kwargs.get("log_extra"), kwargs.get("log_metric")
        if callable(log_extra):
            log_extra(f"{self.__name__}_status", [s.status for s in scores])
            log_extra(f"{self.__name__}_answer", [s.answer or "" for s in scores])
        if callable(log_metric) and scores:
            for status in ("timeout", "no_answer", "bad_gold"):
                log_metric(f"{self.__name__}/{status}_frac", sum(s.status == status for s in scores) / len(scores))
        return [s.reward(**self.values) for s in scores]

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        golds, texts, task = self._inputs(completions, kwargs)
        scores = reward_batch(
            golds, texts, task=task, workers=self.workers, timeout=self.timeout, truncated=self._truncated(kwargs),
            questions=self._questions(kwargs),
        )
        return self._finish(scores, kwargs)


class AsyncMathevalReward(MathevalReward):
    """The same reward as a coroutine function: TRL awaits it on its event loop, next to others."""

    async def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:  # type: ignore[override]
        golds, texts, task = self._inputs(completions, kwargs)
        scores = await reward_batch_async(
            golds, texts, task=task, workers=self.workers, timeout=self.timeout, truncated=self._truncated(kwargs),
            questions=self._questions(kwargs),
        )
        return self._finish(scores, kwargs)


def make_reward(*, asynchronous: bool = False, **settings: Any) -> MathevalReward:
    """A configured TRL reward function (see MathevalReward for the settings)."""
    cls = AsyncMathevalReward if asynchronous else MathevalReward
    return cls(**settings)


accuracy_reward = MathevalReward()
