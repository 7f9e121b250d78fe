"""Records the grader hands back (Extraction, Verdict) and the one options object it takes.

All three are frozen so a verdict written into a sample's JSONL line is exactly what was decided.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .limits import DEFAULT_TIMEOUT

STATUSES = ("correct", "incorrect", "no_answer", "unparsable", "timeout")
# Extraction.status: "ok", or why the response has no final answer (each grades as no_answer).
EXTRACTION_STATUSES = ("ok", "unclosed_think", "truncated", "looping")
ANSWER_TYPES = ("auto", "number", "integer", "choice", "text", "expression", "multi_blank")


@dataclass(frozen=True)
class Extraction:
    """Where the answer was found in a model response.

    `answer` is the text to grade: the last box, or when the response ends on several boxes in a row
    (``\\boxed{2} and \\boxed{5}``) those boxes joined with ", ". `answers` keeps each candidate apart
    (several boxes, or blanks split on ``;`` / "and"). `span` is (start, end) in the text given to
    `extract_answer`, so a report can highlight it.
    """

    answer: str
    answers: tuple[str, ...]
    method: str
    span: tuple[int, int]
    status: str = "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "answers": list(self.answers),
            "method": self.method,
            "span": list(self.span),
            "status": self.status,
        }


@dataclass(frozen=True)
class Verdict:
    """The decision for one (gold, pred) pair: a status, not just a bool, plus the rule that decided."""

    correct: bool
    status: str
    rule: str
    gold_norm: str
    pred_norm: str | None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class GraderOptions:
    """Knobs of `equivalent`; the task YAML's ``grader:`` section maps onto these fields.

    rel_tol: relative tolerance applied when either side is written as a decimal (``0.333``,
        ``13.18``) and the gold is not an integer. Integers are always compared exactly, and two
        exact forms (fractions, radicals, pi) only within float noise (1e-9). 1e-4 keeps
        ``0.6667`` = 2/3 while rejecting ``0.67``; tasks that ask for rounding to a given place
        should put the rounded value in the gold.
    percent_compat: also accept pred = gold x 100 or gold / 100 when no percent sign says so.
        This is ToRA's / Qwen's leniency; off by default because it calls a 100x-off answer
        correct, but needed to reproduce ToRA-Code-34B's published 80.7 on GSM8K.
    answer_type: "auto" infers the shape from the gold. "number"/"integer" require a numeric
        pred, "choice" compares option letters, "text" compares normalised strings only,
        "expression" skips list/set splitting, "multi_blank" splits both sides into blanks.
    unordered: blanks of a multi-blank answer (``;``, "and", or commas under multi_blank) may
        come in any order. Bare comma lists (``-2, 1``) and sets are unordered unless `ordered`.
    ordered: a bare comma list in the gold is a sequence whose order matters (the values of
        T(1), T(2), T(3); "in increasing order"). The task's metadata sets it; `equivalent`'s
        `question=` keyword also turns it on when the question says so.
    timeout: seconds allowed for one comparison's symbolic step (sympy in a worker process).
    integer_exact: compare integer-valued golds exactly (counts, AIME answers). Tasks whose golds
        are measured quantities (OCW: `6630`, `4.5e33`) set it false so `rel_tol` applies to every
        numeric answer, as Minerva's 1% rule does.
    """

    rel_tol: float = 1e-4
    percent_compat: bool = False
    answer_type: str = "auto"
    unordered: bool = False
    ordered: bool = False
    timeout: float = DEFAULT_TIMEOUT
    integer_exact: bool = True

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            expected = _FIELD_TYPES[f.name]
            # bool is an int subclass: reject True for a float field and 1 for a bool one.
            ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise TypeError(
                    f"grader option {f.name!r} must be {expected.__name__}, got {type(value).__name__}"
                )
        if not 0 <= self.rel_tol < 1:
            raise ValueError(f"grader option 'rel_tol' must be in [0, 1), got {self.rel_tol}")
        if self.timeout <= 0:
            raise ValueError(f"grader option 'timeout' must be positive, got {self.timeout}")
        if self.ordered and self.unordered:
            raise ValueError("grader options 'ordered' and 'unordered' exclude each other")
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(
                f"grader option 'answer_type' must be one of {', '.join(ANSWER_TYPES)}; "
                f"got {self.answer_type!r}"
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> GraderOptions:
        """Build from a YAML mapping; unknown keys are errors, as everywhere in matheval's config."""
        d = dict(d or {})
        unknown = sorted(set(d) - set(_FIELD_TYPES))
        if unknown:
            raise ValueError(
                f"unknown grader option(s) {', '.join(map(repr, unknown))}; known: {', '.join(_FIELD_TYPES)}"
            )
        return cls(**d)

    def replace(self, **changes: Any) -> GraderOptions:
        unknown = sorted(set(changes) - set(_FIELD_TYPES))
        if unknown:
            raise TypeError(
                f"unknown grader option(s) {', '.join(map(repr, unknown))}; known: {', '.join(_FIELD_TYPES)}"
            )
        return dataclasses.replace(self, **changes)


_FIELD_TYPES: dict[str, type] = {
    "rel_tol": float,
    "percent_compat": bool,
    "answer_type": str,
    "unordered": bool,
    "ordered": bool,
    "timeout": float,
    "integer_exact": bool,
}

DEFAULT_OPTIONS = GraderOptions()


def resolve_options(options: GraderOptions | None = None, **overrides: Any) -> GraderOptions:
    """One GraderOptions from an optional base object plus keyword overrides (strictly checked)."""
    base = options if options is not None else DEFAULT_OPTIONS
    if not isinstance(base, GraderOptions):
        raise TypeError(f"options must be a GraderOptions, got {type(base).__name__}")
    return base.replace(**overrides) if overrides else base


__all__ = [
    "ANSWER_TYPES",
    "DEFAULT_OPTIONS",
    "EXTRACTION_STATUSES",
    "STATUSES",
    "Extraction",
    "GraderOptions",
    "Verdict",
    "resolve_options",
]
