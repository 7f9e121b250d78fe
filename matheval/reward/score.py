"""One (gold, response) pair scored: the grader's verdict, read as a reward.

`score_one` is what each worker process runs per sample; it calls only the grader's public API,
so a reward is the verdict an evaluation of the same task stores in samples.jsonl.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from matheval.grading import Extraction, GraderOptions, Verdict, check_gold, equivalent, extract_answer, grade

from .spec import RewardSpec, prepare_gold

# The grader's statuses plus the reward's own: "bad_gold" (the reference answer is empty or does
# not parse: no reward, never 1.0) and "error" (the worker raised or died on this response).
STATUSES = ("correct", "incorrect", "no_answer", "unparsable", "timeout", "bad_gold", "error")
_BARE_ANSWER_CHARS = 200  # verify(): a response this short may be a bare answer, compared whole


@dataclass(frozen=True)
class Score:
    """The verdict for one sample, in the terms a trainer logs."""

    correct: bool
    status: str
    rule: str
    answer: str | None = None  # the extracted answer
    gold: str | None = None  # the gold answer graded against (None: unusable)
    formatted: bool = False  # the answer was given in the spec's format_style (a \boxed{})
    detail: str = ""

    def reward(
        self, correct: float = 1.0, wrong: float = 0.0, no_answer: float = 0.0, format_bonus: float = 0.0
    ) -> float | None:
        """The reward value: None for a bad gold; timeouts, unparsable answers and errors are wrong."""
        if self.status == "bad_gold":
            return None
        if self.correct:
            base = correct
        elif self.status == "no_answer":
            base = no_answer
        else:
            base = wrong
        return base + (format_bonus if self.formatted else 0.0)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def timeout_score(gold: str | None, seconds: float) -> Score:
    return Score(False, "timeout", "deadline", None, gold, False, f"no verdict within {seconds:g} s (worker killed)")


def score_one(spec: RewardSpec, raw_gold: Any, response: Any, options: GraderOptions | None = None) -> Score:
    """Grade one response; `options` overrides spec.options (the pool lowers the sympy timeout)."""
    opts = options or spec.options
    gold = prepare_gold(raw_gold)
    problem = _gold_problem(gold, opts)
    if problem is not None:
        return Score(False, "bad_gold", "gold", None, gold, False, problem)
    assert gold is not None
    text = response if isinstance(response, str) else ""
    if spec.style is None:
        extraction, verdict = _verify_rule(gold, text, opts)
    else:
        extraction, verdict = grade(gold, text, style=spec.style, options=opts, **dict(spec.extract))
    answer = extraction.answer if extraction is not None and extraction.status == "ok" else None
    return Score(verdict.correct, verdict.status, verdict.rule, answer, gold, _formatted(spec, text), verdict.detail)


@lru_cache(maxsize=8192)
def _gold_problem(gold: str | None, opts: GraderOptions) -> str | None:
    # Golds repeat num_generations times per prompt: checked once per worker.
    if gold is None:
        return "empty gold answer"
    return check_gold(gold, **dataclasses.asdict(opts))


def _verify_rule(gold: str, text: str, opts: GraderOptions) -> tuple[Extraction | None, Verdict]:
    """`matheval.verify`'s decision, with the verdict it rests on (verify itself returns a bool)."""
    extraction = extract_answer(text, "auto")
    if extraction is not None and extraction.status != "ok":
        return extraction, Verdict(False, "no_answer", "none", gold, None, extraction.status)
    if extraction is not None and extraction.method != "last_number":
        return extraction, equivalent(gold, extraction.answer, opts)
    if len(text) <= _BARE_ANSWER_CHARS:
        whole = equivalent(gold, text, opts)
        if whole.correct:
            return Extraction(text.strip(), (text.strip(),), "whole", (0, len(text))), whole
    if extraction is None:
        return None, Verdict(False, "no_answer", "none", gold, None, "no answer found")
    return extraction, equivalent(gold, extraction.answer, opts)


def _formatted(spec: RewardSpec, text: str) -> bool:
    found = extract_answer(text, spec.format_style, **dict(spec.extract)) if text else None
    return found is not None and found.status == "ok"
