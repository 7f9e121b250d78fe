"""The one record that flows through the pipeline.

A frozen `Sample` goes in; one `Result` per sample accumulates the prompt, completions, typed
extractions and verdicts, program answers, the vote and per-problem scores. `Result.to_json()` is
the per-sample log line (`samples.jsonl`): there is no second format, and `Result.from_json` reads
it back typed for rescoring and reports. Serialisation happens here, at the edge, and nowhere else.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from matheval.grading import Extraction, Verdict


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
    # The dataset's own categories (subject, level, ...) named by the task's `categories:`.
    categories: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Completion:
    text: str
    n_tokens: int
    # "stop" (a stop word or EOS), "length" (cut at max_tokens) or "prompt_too_long" (never sent:
    # the prompt alone fills the model's context).
    finish_reason: str
    # True for the greedy completion that Top@1 is computed from.
    greedy: bool = True
    # Tool-integrated and program-aided runs: one dict per executed round (code, output, error, status).
    rounds: list[dict[str, Any]] | None = None
    # Which engine produced it when there are several: a server URL or a data-parallel replica.
    served_by: str | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass(frozen=True)
class ProgramAnswer:
    """What executed code answered: a PoT program's value, or a tool run's last output block."""

    answer: str | None
    status: str  # ok | no_code | no_output | no_value | not_executed | a sandbox status (error, timeout…)
    n_executed: int = 0
    error: str | None = None
    verdict: Verdict | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["verdict"] = None if self.verdict is None else self.verdict.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ProgramAnswer:
        verdict = raw.get("verdict")
        return cls(raw["answer"], raw["status"], raw.get("n_executed", 0), raw.get("error"),
                   None if verdict is None else verdict_from_dict(verdict))


@dataclass
class Result:
    task: str
    id: str
    gold: str
    prompt: str
    prompt_style: str = ""
    # The problem as the dataset states it: the grader reads cues in it ("in order", "interval").
    problem: str = ""
    # Content key: model, rendered prompt, sampling and seed; what --resume matches on.
    key: str = ""
    completions: list[Completion] = field(default_factory=list)
    # One entry per completion: where the answer was found, or None when nothing was.
    extractions: list[Extraction | None] = field(default_factory=list)
    # One entry per completion (always present: no_answer is a verdict).
    verdicts: list[Verdict] = field(default_factory=list)
    # One entry per completion in program-aided and tool-integrated modes, else empty.
    programs: list[ProgramAnswer | None] = field(default_factory=list)
    # Majority vote over the sampled completions (None for greedy-only runs).
    vote: dict[str, Any] | None = None
    # Per-problem metric values: {"top1": 1.0, "maj@4": 0.75, "pass@4": 1.0, ...}.
    scores: dict[str, float] = field(default_factory=dict)
    # Why this problem is reported apart instead of scored (its gold is unreadable by the grader).
    unscorable: str | None = None
    categories: dict[str, str] = field(default_factory=dict)

    @property
    def problem_key(self) -> tuple[str, str]:
        return (self.task, self.id)

    def to_json(self) -> str:
        raw = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        raw["completions"] = [asdict(c) for c in self.completions]
        raw["extractions"] = [None if e is None else e.to_dict() for e in self.extractions]
        raw["verdicts"] = [v.to_dict() for v in self.verdicts]
        raw["programs"] = [None if p is None else p.to_dict() for p in self.programs]
        return json.dumps(raw, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> Result:
        raw = json.loads(line)
        raw = {k: v for k, v in raw.items() if k in _RESULT_FIELDS}
        raw["completions"] = [Completion(**c) for c in raw.get("completions", [])]
        raw["extractions"] = [None if e is None else extraction_from_dict(e) for e in raw.get("extractions", [])]
        raw["verdicts"] = [verdict_from_dict(v) for v in raw.get("verdicts", [])]
        raw["programs"] = [None if p is None else ProgramAnswer.from_dict(p) for p in raw.get("programs", [])]
        return cls(**raw)


_RESULT_FIELDS = {f.name for f in dataclasses.fields(Result)}


def _known(cls, raw: dict[str, Any]) -> dict[str, Any]:
    # Newer graders may add keys; a record keeps reading with the fields this version knows.
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in raw.items() if k in names}


def extraction_from_dict(raw: dict[str, Any]) -> Extraction:
    raw = _known(Extraction, raw)
    raw["answers"] = tuple(raw.get("answers", ()))
    raw["span"] = tuple(raw["span"]) if raw.get("span") is not None else (0, 0)
    return Extraction(**raw)


def verdict_from_dict(raw: dict[str, Any]) -> Verdict:
    return Verdict(**_known(Verdict, raw))


def iter_results(path: str | os.PathLike[str]) -> Iterator[Result]:
    """The results of a samples.jsonl, one at a time; a torn last line (a crash mid-write) is
    skipped, not fatal."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield Result.from_json(line)
            except (json.JSONDecodeError, TypeError, KeyError):
                continue


def read_results(path: str | os.PathLike[str]) -> list[Result]:
    """Read a whole samples.jsonl (see `iter_results`)."""
    return list(iter_results(path))
