"""One (gold, response) pair scored: the grader's verdict, read as a reward.

`score_one` is what each worker process runs per sample; it calls only the grader's public API,
so a reward is the verdict an evaluation of the same task stores in samples.jsonl.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from matheval.grading import Extraction, GraderOptions, check_gold, extract_answer, grade, verify_verdict

from .spec import RewardSpec, prepare_gold

# The grader's statuses plus the reward's own: "bad_gold" (the reference answer is empty or does
# not parse: no reward, never 1.0) and "error" (the worker raised or died on this response).
STATUSES = ("correct", "incorrect", "no_answer", "unparsable", "timeout", "bad_gold", "error")


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

    def to_wire(self) -> list[Any]:
        """The fields in order, as one JSON list (a worker's reply; asdict costs 7x more)."""
        return [self.correct, self.status, self.rule, self.answer, self.gold, self.formatted, self.detail]

    @classmethod
    def from_wire(cls, fields: list[Any]) -> Score:
        return cls(*fields)


def timeout_score(gold: str | None, seconds: float) -> Score:
    return Score(False, "timeout", "deadline", None, gold, False, f"no verdict within {seconds:g} s (worker killed)")


def score_one(
    spec: RewardSpec,
    raw_gold: Any,
    response: Any,
    options: GraderOptions | None = None,
    truncated: bool = False,
    question: str | None = None,
) -> Score:
    """Grade one response; `options` overrides spec.options (the pool lowers the sympy timeout).

    truncated: the generation hit its token limit, which the extractor treats as evaluation does
    (no last-number fallback on a cut-off response unless the spec's extract options keep it).
    question: the problem text, whose cues the grader reads as evaluation does (None: none).
    """
    opts = options or spec.options
    gold = prepare_gold(raw_gold)
    problem = _gold_problem(gold, opts)
    if problem is not None:
        return Score(False, "bad_gold", "gold", None, gold, False, problem)
    assert gold is not None
    text = response if isinstance(response, str) else ""
    if spec.style is None:  # verify's rule, with the extraction and verdict it rests on
        extraction, verdict = verify_verdict(gold, text, opts, question=question, truncated=truncated)
    else:
        extract = {**dict(spec.extract), "truncated": truncated}
        extraction, verdict = grade(gold, text, style=spec.style, options=opts, question=question, **extract)
    ok = extraction is not None and extraction.status == "ok"
    answer = extraction.answer if ok else None
    formatted = _formatted(spec, text, extraction if ok else None)
    return Score(verdict.correct, verdict.status, verdict.rule, answer, gold, formatted, verdict.detail)


@lru_cache(maxsize=8192)
def _gold_problem(gold: str | None, opts: GraderOptions) -> str | None:
    # Golds repeat num_generations times per prompt: checked once per worker.
    if gold is None:
        return "empty gold answer"
    return check_gold(gold, **_as_kwargs(opts))


@lru_cache(maxsize=64)
def _as_kwargs(opts: GraderOptions) -> dict[str, Any]:
    return dataclasses.asdict(opts)


def _formatted(spec: RewardSpec, text: str, extraction: Extraction | None) -> bool:
    if spec.format_style == "boxed":
        # Extraction is most of a sample's cost: skip the second pass when the first one decides.
        if text.isascii() and "\\boxed" not in text and "\\fbox" not in text:
            return False  # (non-ASCII text may hold full-width forms the extractor folds)
        if extraction is not None and extraction.method == "boxed":
            return True
    found = extract_answer(text, spec.format_style, **dict(spec.extract)) if text else None
    return found is not None and found.status == "ok"
