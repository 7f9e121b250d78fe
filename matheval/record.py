"""The one record that flows through the pipeline.

A frozen `Sample` goes in; one mutable `Result` per sample accumulates the prompt, completions,
extractions, verdicts and per-problem scores. `Result.to_json()` is the per-sample log line
(`samples.jsonl`): there is no second format, and `Result.from_json` reads it back for rescoring.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Sample:
    """One benchmark problem, as loaded from the dataset and mapped by the task's `fields`."""

    task: str
    id: str
    problem: str
    gold: str
    # The reference solution where the dataset has one (the lint test grades its final answer).
    solution: str | None = None
    # Every raw dataset field, for templates that need more than the problem (choices, tables).
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Completion:
    text: str
    n_tokens: int
    # "stop" (hit a stop word or EOS) or "length" (truncated at max_tokens).
    finish_reason: str
    # True for the greedy completion that Top@1 is computed from.
    greedy: bool = True
    # Tool-integrated runs: one dict per round (code, output, error, status).
    rounds: list[dict[str, Any]] | None = None
    # Which engine produced it when there are several: a server URL or a data-parallel replica.
    served_by: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass
class Result:
    task: str
    id: str
    gold: str
    prompt: str
    prompt_style: str = ""
    completions: list[Completion] = field(default_factory=list)
    # One entry per completion: Extraction.to_dict() or None when nothing was found.
    extractions: list[dict[str, Any] | None] = field(default_factory=list)
    # One entry per completion: Verdict.to_dict() (always present: no_answer is a verdict).
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    # Majority vote over the sampled completions (None for greedy-only runs).
    vote: dict[str, Any] | None = None
    # Per-problem metric values: {"top1": 1.0, "maj@4": 0.75, "pass@4": 1.0, ...}.
    scores: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Result:
        raw = json.loads(line)
        raw["completions"] = [Completion(**c) for c in raw.get("completions", [])]
        return cls(**raw)

    @property
    def key(self) -> tuple[str, str]:
        return (self.task, self.id)


def read_results(path: str) -> list[Result]:
    """Read a samples.jsonl; a torn last line (a crash mid-write) is skipped, not fatal."""
    out: list[Result] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(Result.from_json(line))
            except (json.JSONDecodeError, TypeError):
                continue
    return out
