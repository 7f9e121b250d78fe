"""matheval's answer grader: extraction and equivalence with verdicts that explain themselves.

    extract_answer(text, style="auto") -> Extraction | None   # where the answer is, and how found
    equivalent(gold, pred, **options) -> Verdict              # gold first: the comparison is asymmetric
    grade(gold, text, style=..., options=...) -> (Extraction | None, Verdict)
    verify(gold, response) -> bool                            # thread- and process-safe one-liner
    canonical_key(answer) -> str                              # cheap clustering key for majority vote
    check_gold(gold, **options) -> str | None                 # None when a gold answer is usable

See extract.py for the extraction styles, types.GraderOptions for the options and their defaults,
api.equivalent for why gold comes first.
"""

from __future__ import annotations

from .api import canonical_key, check_gold, equivalent, grade, verify
from .extract import STYLES, extract_answer
from .records import STATUSES, Extraction, GraderOptions, Verdict
from .worker import shutdown as shutdown_workers
from .worker import warm_up

parse_gold = check_gold  # the name the brief suggested; check_gold says what it returns

__all__ = [
    "STATUSES",
    "STYLES",
    "Extraction",
    "GraderOptions",
    "Verdict",
    "canonical_key",
    "check_gold",
    "equivalent",
    "extract_answer",
    "grade",
    "parse_gold",
    "shutdown_workers",
    "verify",
    "warm_up",
]
