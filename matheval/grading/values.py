"""Compare two leaf answers (one value each): string, text, numeric, then symbolic.

The numeric policy lives here: integers exact, decimals within `rel_tol`, exact forms within float
noise, a percent sign read either as a unit or as /100, and the ×100 leniency only on request.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from fractions import Fraction

from . import worker
from .evaluate import (
    N_POINTS,
    NEGATIVE_POINT,
    Expr,
    TooLarge,
    Undefined,
    Unsupported,
    Value,
    evaluate,
    parse_expression,
)
from .latex import unwrap_command
from .normalize import TEXT_COMMANDS
from .records import GraderOptions
from .structure import Node

EXACT_TOL = 1e-9  # float noise allowed between two exact forms (radicals, pi, trig values)
_BASE_RE = re.compile(r"^(\w+)_\{?(\d+)\}?$")
_WORD_RE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_WORDS3 = frozenset("odd yes all any not one two six ten and nor off".split())
_INFINITIES = {"\\infty": 1, "+\\infty": 1, "-\\infty": -1, "\\infty^+": 1}


class Abort(Exception):
    """Stops a comparison with a status other than correct/incorrect (timeout, unparsable)."""

    def __init__(self, status: str, detail: str, rule: str = "symbolic") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.rule = rule


@dataclass
class Context:
    """Per-comparison state: options, the deadline for symbolic work, the rules that decided."""

    options: GraderOptions
    deadline: float
    rules: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def decide(self, rule: str, result: bool, detail: str = "") -> bool:
        self.rules.append(rule)
        if detail:
            self.details.append(detail)
        return result

    def symbolic(self, op: str, **payload: object) -> bool:
        """Ask the sympy worker; the remaining time budget bounds the call."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Abort("timeout", "time limit reached before the symbolic step")
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
        if error:
            raise Abort("unparsable", f"sympy worker: {error}")
        return self.decide("symbolic", bool(reply.get("equal")), "sympy")


def text_key(s: str) -> str:
    """Case-, space- and punctuation-insensitive form of a textual answer."""
    s = unwrap_command(s, TEXT_COMMANDS).replace("$", "").lower()
    return re.sub(r"[\s.,;:!?'\"{}()\\]", "", s)


def is_text(s: str) -> bool:
    """A textual answer: wrapped in \\text{} as a whole, or carrying a plain word.

    A word is 4+ letters or a common 3-letter one: "abc" stays a product of variables.
    """
    stripped = s.strip()
    if re.fullmatch(r"\\(?:text|textrm|textbf|mbox|mathrm)\s*\{[^{}]*\}", stripped):
        inner = unwrap_command(stripped, TEXT_COMMANDS).strip()
        return not re.fullmatch(r"[-+]?\d+(?:\.\d+)?|[a-zA-Z]", inner)
    plain = unwrap_command(stripped, TEXT_COMMANDS)
    return any(len(w) >= 4 or w.lower() in _WORDS3 for w in _WORD_RE.findall(plain))


def compare_leaves(g: Node, p: Node, ctx: Context) -> bool:
    gt, pt = g.text, p.text
    if gt == pt:
        return ctx.decide("string", True)
    if not pt:
        return ctx.decide("string", False, "empty prediction")
    gk, pk = text_key(gt), text_key(pt)
    if is_text(gt):
        return ctx.decide("text", gk == pk)
    if gt in _INFINITIES or pt in _INFINITIES:
        return ctx.decide("string", _INFINITIES.get(gt) == _INFINITIES.get(pt))
    base = _BASE_RE.match(gt)
    if base and not base.group(1).isalpha():
        # "385_9" answered as "385": the base is implied by the question.
        return ctx.decide("string", pt == base.group(1) or _BASE_RE.sub(r"\1_\2", pt) == gt)
    ge = _parse_or_none(gt)
    pe = _parse_or_none(pt)
    if ge is not None and pe is not None:
        decided = _sampled(ge, pe, g, p, ctx)
        if decided is not None:
            return decided
    elif pe is None and is_text(pt):
        return ctx.decide("text", gk == pk and bool(gk), "prediction is text")
    return ctx.symbolic("equal", gold=gt, pred=pt)


def _parse_or_none(text: str) -> Expr | None:
    try:
        return parse_expression(text)
    except Unsupported:
        return None
    except RecursionError:
        raise Abort("unparsable", "expression nested too deeply", "guard") from None


def _sampled(ge: Expr, pe: Expr, g: Node, p: Node, ctx: Context) -> bool | None:
    """Decide by evaluation: once for constants, at N_POINTS sample points when variables occur."""
    constant = not ge.symbols and not pe.symbols
    decimal = ge.has_decimal or pe.has_decimal
    valid = 0
    for k in range(1 if constant else N_POINTS + 1):
        try:
            gv = evaluate(ge, k)
        except Undefined:
            continue
        except (TooLarge, Unsupported, RecursionError):
            return None
        try:
            pv = evaluate(pe, k)
        except Undefined:
            if constant:
                return ctx.decide("numeric", False, "prediction is undefined")
            continue
        except TooLarge as exc:
            raise Abort("unparsable", f"pred value too large: {exc}", "guard") from None
        except RecursionError:
            raise Abort("unparsable", "pred expression nested too deeply", "guard") from None
        except Unsupported:
            return None
        if constant:
            return _match_constant(gv, pv, g, p, ctx, decimal)
        if k == NEGATIVE_POINT and (_is_complex(gv) or _is_complex(pv)):
            continue  # outside a real domain (log, sqrt of a negative): says nothing
        valid += 1
        tol = ctx.options.rel_tol if decimal else EXACT_TOL
        if not close(gv, pv, tol):
            return ctx.decide("symbolic", False, f"differs at sample point {k}")
    if valid >= 2:
        return ctx.decide("symbolic", True, f"equal at {valid} sample points")
    return None


def _match_constant(gv: Value, pv: Value, g: Node, p: Node, ctx: Context, decimal: bool) -> bool:
    opts = ctx.options
    gold_int = isinstance(gv, Fraction) and gv.denominator == 1 and opts.integer_exact
    candidates: list[tuple[Value, str]] = [(pv, "")]
    if p.percent and not g.percent:
        candidates.append((pv / 100, "pred percent read as /100"))
    if g.percent and not p.percent:
        candidates.append((pv * 100, "gold percent, pred as a fraction"))
    if opts.percent_compat:
        candidates += [(pv * 100, "percent_compat x100"), (pv / 100, "percent_compat /100")]
    for value, why in candidates:
        if gold_int and isinstance(value, Fraction):
            # Integers are exact: 9999.857 is not 10000. The one exception is a binary float's
            # printout (12+ decimals, e.g. a program's 5.000000000000002): that is noise, not an answer.
            ok = value == gv or (_float_printout(value) and abs(value - gv) <= Fraction(EXACT_TOL) * max(1, abs(gv)))
        else:
            tol = opts.rel_tol if (decimal or not opts.integer_exact) and not gold_int else EXACT_TOL
            ok = close(gv, value, tol)
        if ok:
            return ctx.decide("numeric", True, why)
    return ctx.decide("numeric", False)


def _float_printout(v: Fraction) -> bool:
    """A decimal with 12 or more decimal places: how a float like 0.1 + 0.2 prints, not how people write."""
    d = v.denominator
    return d >= 10**12 and (10 ** len(str(d))) % d == 0


def _is_complex(v: Value) -> bool:
    return isinstance(v, complex) and abs(v.imag) > 1e-9 * max(1.0, abs(v.real))


def close(g: Value, p: Value, tol: float) -> bool:
    """Relative closeness; exact equality for two Fractions when `tol` is the exact-form noise."""
    if isinstance(g, Fraction) and isinstance(p, Fraction):
        if g == p:
            return True
        if tol <= EXACT_TOL:
            return False
        return abs(g - p) <= Fraction(tol) * abs(g)
    try:
        gc = complex(float(g)) if isinstance(g, Fraction) else g
        pc = complex(float(p)) if isinstance(p, Fraction) else p
    except OverflowError:
        return False
    diff = abs(gc - pc)
    return diff <= tol * max(abs(gc), abs(pc)) or diff <= 1e-12
