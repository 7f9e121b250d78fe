"""Per-comparison state shared by every answer form: options, question cues, deadline, decisions.

`Context.equal(g, p)` re-enters the forms table, so a form compares its pieces (tuple items,
interval ends, matrix cells) without knowing which form each piece belongs to.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from . import guard, worker
from .records import GraderOptions
from .shape import Node


class Abort(Exception):
    """Stops a comparison with a status other than correct/incorrect (timeout, unparsable)."""

    def __init__(self, status: str, detail: str, rule: str = "symbolic") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.rule = rule


_ORDER_CUES = re.compile(
    r"\b(?:in (?:that|this|the given|increasing|decreasing|ascending|descending) order|in order|"
    r"ordered (?:pair|triple|quadruple|tuple|list)s?|respectively|from (?:least|smallest|largest|greatest) to|"
    r"(?:first|second|third) (?:term|value)s?)\b",
    re.IGNORECASE,
)
_INTERVAL_CUES = re.compile(
    r"\b(?:interval notation|intervals?|inequalit(?:y|ies)|range of (?:values|the function|f)|domain|"
    r"for (?:what|which) (?:real )?values|solution set|set of (?:all )?(?:real )?(?:values|numbers|x))\b",
    re.IGNORECASE,
)


_POINT_CUES = re.compile(
    r"\b(?:ordered (?:pair|triple)|points?|coordinates|vertex|vertices|cent(?:er|re)|focus|foci|polar|vectors?)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Cues:
    """What the question text says about the answer's form (nothing when no question is given).

    `compact` is the question's normalised text without spaces: an equation the prediction
    offers as its answer ("x + y = 5") that already stands in the question restates it.
    """

    ordered: bool = False
    interval: bool = False
    compact: str = ""

    @classmethod
    def from_question(cls, question: str | None) -> Cues:
        if not question or not isinstance(question, str):
            return _NO_CUES
        return _cues(question[-4000:])

    def restates(self, relation: str) -> bool:
        return bool(self.compact) and len(relation) >= 3 and re.sub(r"\s+", "", relation) in self.compact


@lru_cache(maxsize=1024)
def _cues(text: str) -> Cues:
    from .normalize import normalize

    compact = re.sub(r"\s+", "", normalize(text.replace("$", " ")))
    interval = bool(_INTERVAL_CUES.search(text)) and not _POINT_CUES.search(text)
    return Cues(bool(_ORDER_CUES.search(text)), interval, compact)


_NO_CUES = Cues()


@dataclass
class Context:
    """One comparison: options, cues, the deadline for symbolic work, the rules that decided."""

    options: GraderOptions
    deadline: float
    cues: Cues = _NO_CUES
    dispatch: Callable[[Node, Node, Context], bool] | None = None
    rules: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    @property
    def ordered(self) -> bool:
        return (self.options.ordered or self.cues.ordered) and not self.options.unordered

    def equal(self, g: Node, p: Node) -> bool:
        """Compare two pieces through the forms table (the gold piece picks the form)."""
        assert self.dispatch is not None
        return self.dispatch(g, p, self)

    def decide(self, rule: str, result: bool, detail: str = "") -> bool:
        self.rules.append(rule)
        if detail:
            self.details.append(detail)
        return result

    def symbolic(self, op: str, **payload: object) -> bool:
        """Ask the sympy worker about two single values; the remaining time budget bounds the call."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Abort("timeout", "time limit reached before the symbolic step")
        too_large = guard.refuse(str(payload.get("pred", "")))
        if too_large is not None:
            raise Abort("unparsable", f"pred: {too_large}", "guard")
        reply = worker.call({"op": op, "rel_tol": self.options.rel_tol, **payload}, remaining)
        if reply is None:
            raise Abort("timeout", f"sympy exceeded {self.options.timeout:g}s")
        error = reply.get("error")
        if error == "unparsable" and reply.get("side") == "pred":
            raise Abort("unparsable", f"pred: {reply.get('detail', '')}"[:200])
        if error == "unparsable":
            return self.decide(
                "symbolic", False, f"gold did not parse in sympy: {reply.get('detail', '')}"[:200]
            )
        if error == "not a value":
            return self.decide("symbolic", False, "sympy: not a single value")
        if error:
            raise Abort("unparsable", f"sympy worker: {error}")
        return self.decide("symbolic", bool(reply.get("equal")), "sympy")
