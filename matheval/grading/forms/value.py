"""A single value (number or expression): string, numeric, sampled identity, then sympy.

The numeric policy lives here: integer golds exact, decimals within `rel_tol`, exact forms within
float noise, a rounded decimal gold against an exact prediction within the gold's printed
precision, a percent sign read either as a unit or as /100, degrees against radians, and the
x100 leniency only on request. Huge literals are compared as decimals, never as Python ints.
"""

from __future__ import annotations

import re
from decimal import Context as DecimalContext
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

from ..context import Abort, Context
from ..evaluate import (
    Expr,
    TooLarge,
    Undefined,
    Unsupported,
    Value,
    evaluate,
    is_negative_point,
    parse_expression,
    sample_count,
    sample_env,
)
from ..limits import EXACT_TOL
from ..shape import Node, unwrap_single
from . import text as text_form

_BASE_RE = re.compile(r"^(\w+)_\{?(\d+)\}?$")
_PLAIN_NUMBER_RE = re.compile(r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$")
_DECIMAL_RE = re.compile(r"^-?(\d*)\.(\d+)$")
_INFINITIES = {"\\infty": 1, "+\\infty": 1, "-\\infty": -1, "\\infty^+": 1}
_NUMBER_WORDS = {
    **{
        w: i
        for i, w in enumerate(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
            "sixteen seventeen eighteen nineteen twenty".split()
        )
    },
    **{w: 10 * i for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)},
    "hundred": 100, "thousand": 1000, "million": 10**6,
}


def applies(gold: Node) -> bool:
    return gold.kind == "expr"


def equal(g: Node, p: Node, ctx: Context) -> bool:
    """Gold is one value; the prediction must be that value, possibly labelled (x = 5)."""
    from . import equation  # the label rules live with equations

    if p.kind == "expr":
        return compare_leaves(g, p, ctx)
    if p.kind == "eq":
        candidates = equation.pred_values(p)
        if not candidates:
            return ctx.decide("equation", False, "prediction is an equation, not a value")
        if not equation.is_label(p.items[0]) and ctx.cues.restates(p.show()):
            return ctx.decide("equation", False, "the prediction restates an equation of the question")
        # The exact side decides when there is one; "x \approx 11" has only its approximation.
        return ctx.decide("equation", ctx.equal(g, candidates[0]))
    flat = unwrap_single(p)
    if flat is not p:
        return ctx.equal(g, flat)
    if p.kind in ("list", "set") and p.items and all(ctx.equal(g, item) for item in p.items):
        return ctx.decide("structure", True, "the same value restated")  # "0.25, or 25%"
    if p.kind in ("list", "set", "blanks", "tuple"):
        return ctx.decide("structure", False, f"{len(p.items)} answers given for one")
    return ctx.decide("structure", False, f"gold is a value, prediction is {p.kind}")


def key(node: Node) -> str:
    try:
        expr = parse_expression(node.text)
        if not expr.symbols:
            value = evaluate(expr)
            if not isinstance(value, complex):
                return f"n:{value}" + ("%" if node.percent else "")
    except (Unsupported, Undefined, TooLarge, RecursionError):
        pass
    if _PLAIN_NUMBER_RE.match(node.text):
        return "d:" + str(_decimal(node.text))
    return "s:" + node.text + ("%" if node.percent else "")


def compare_leaves(g: Node, p: Node, ctx: Context) -> bool:
    gt, pt = g.text, p.text
    if gt == pt:
        return ctx.decide("string", True)
    if not pt:
        return ctx.decide("string", False, "empty prediction")
    if gt in _INFINITIES or pt in _INFINITIES:
        if text_form.is_text(pt) or text_form.is_text(gt):
            return ctx.decide("text", text_form.concept(gt) == text_form.concept(pt) == "infinite")
        return ctx.decide("string", _INFINITIES.get(gt) == _INFINITIES.get(pt))
    word = _NUMBER_WORDS.get(pt.lower().strip())
    if word is not None:
        ge = _parse_or_none(gt)
        ok = ge is not None and not ge.symbols and _close_exact(evaluate(ge), Fraction(word))
        return ctx.decide("numeric", ok, "number word")
    base = _BASE_RE.match(gt)
    if base and not base.group(1).isalpha():
        # "385_9" answered as "385": the base is implied by the question.
        return ctx.decide("string", pt == base.group(1) or _BASE_RE.sub(r"\1_\2", pt) == gt)
    try:
        ge = _parse_or_none(gt)
        pe = _parse_or_none(pt)
    except TooLarge:
        return _compare_huge(g, p, ctx)
    if ge is not None and pe is not None:
        decided = _sampled(ge, pe, g, p, ctx)
        if decided is not None:
            return decided
    elif pe is None and text_form.is_text(pt):
        return ctx.decide("text", False, "prediction is text")
    return ctx.symbolic("equal", gold=gt, pred=pt)


def _parse_or_none(text: str) -> Expr | None:
    try:
        return parse_expression(text)
    except Unsupported:
        return None
    except RecursionError:
        raise Abort("unparsable", "expression nested too deeply", "guard") from None


_HUGE = DecimalContext(prec=80, Emax=10**12, Emin=-(10**12))


def _decimal(text: str) -> Decimal:
    return Decimal(text)


def _compare_huge(g: Node, p: Node, ctx: Context) -> bool:
    """A literal too long for exact arithmetic: compare plain decimals as decimals, else unequal."""
    if not (_PLAIN_NUMBER_RE.match(g.text) and _PLAIN_NUMBER_RE.match(p.text)):
        return ctx.decide("numeric", False, "number too large to evaluate")
    with localcontext(_HUGE):
        try:
            gv, pv = _decimal(g.text), _decimal(p.text)
            if gv == pv:
                return ctx.decide("numeric", True)
            exact = "." not in g.text and "e" not in g.text.lower() and ctx.options.integer_exact
            tol = Decimal(0) if exact else Decimal(str(ctx.options.rel_tol)) * abs(gv)
            return ctx.decide("numeric", abs(gv - pv) <= tol)
        except (InvalidOperation, ArithmeticError):
            return ctx.decide("numeric", False, "unreadable number")


def _sampled(ge: Expr, pe: Expr, g: Node, p: Node, ctx: Context) -> bool | None:
    """Decide by evaluation: once for constants, at points covering the domain when variables occur."""
    names = ge.symbols | pe.symbols
    if not names:
        try:
            gv = evaluate(ge)
        except (TooLarge, Unsupported, Undefined, RecursionError):
            return None
        try:
            pv = evaluate(pe)
        except Undefined:
            return ctx.decide("numeric", False, "prediction is undefined")
        except TooLarge as exc:
            raise Abort("unparsable", f"pred value too large: {exc}", "guard") from None
        except RecursionError:
            raise Abort("unparsable", "pred expression nested too deeply", "guard") from None
        except Unsupported:
            return None
        return _match_constant(gv, pv, ge, pe, g, p, ctx)
    piecewise = ge.piecewise or pe.piecewise
    integers = ge.integers | pe.integers
    decimal = ge.has_decimal or pe.has_decimal
    tol = ctx.options.rel_tol if decimal else EXACT_TOL
    total = sample_count(piecewise)
    valid = 0
    for k in range(total):
        env = sample_env(names, integers, k, piecewise)
        try:
            gv = evaluate(ge, env)
            pv = evaluate(pe, env)
        except (Undefined, TooLarge):
            continue  # outside the domain at this point (or astronomically large): says nothing
        except (Unsupported, RecursionError):
            return None
        if is_negative_point(k, piecewise) and (_is_complex(gv) or _is_complex(pv)):
            continue  # outside a real domain (log, sqrt of a negative): says nothing
        valid += 1
        if not close(gv, pv, tol):
            return ctx.decide("symbolic", False, f"differs at sample point {k}")
    if valid >= (total // 2 if piecewise else 2):
        return ctx.decide("symbolic", True, f"equal at {valid} sample points")
    return None


def _has(expr: Expr, op: str) -> bool:
    stack = [expr.tree]
    while stack:
        node = stack.pop()
        if node[0] == op:
            return True
        stack.extend(c for c in node[1:] if isinstance(c, tuple))
    return False


def _match_constant(gv: Value, pv: Value, ge: Expr, pe: Expr, g: Node, p: Node, ctx: Context) -> bool:
    opts = ctx.options
    decimal = ge.has_decimal or pe.has_decimal
    gold_int = isinstance(gv, Fraction) and gv.denominator == 1 and opts.integer_exact
    candidates: list[tuple[Value, str]] = [(pv, "")]
    if p.percent and not g.percent:
        candidates.append((pv / 100, "pred percent read as /100"))
    if g.percent and not p.percent:
        candidates.append((pv * 100, "gold percent, pred as a fraction"))
    if opts.percent_compat:
        candidates += [(pv * 100, "percent_compat x100"), (pv / 100, "percent_compat /100")]
    pi = complex(3.141592653589793)
    if g.degrees and _has(pe, "pi") and not p.degrees:
        candidates.append((_as_complex(pv) * 180 / pi, "radians for a gold in degrees"))
    if p.degrees and _has(ge, "pi") and not g.degrees:
        candidates.append((_as_complex(pv) * pi / 180, "degrees for a gold in radians"))
    precision = _printed_precision(g.text) if not pe.has_decimal else None
    for value, why in candidates:
        if gold_int and isinstance(value, Fraction):
            # Integers are exact: 9999.857 is not 10000. The one exception is a binary float's
            # printout (12+ decimals, e.g. a program's 5.000000000000002): that is noise, not an answer.
            ok = value == gv or (_float_printout(value) and abs(value - gv) <= Fraction(EXACT_TOL) * max(1, abs(gv)))
        else:
            tol = opts.rel_tol if (decimal or not opts.integer_exact) and not gold_int else EXACT_TOL
            ok = close(gv, value, tol)
            if not ok and precision is not None:
                # A rounded gold (0.571, 66.7, 14.29%) against an exact prediction (4/7, 200/3, 1/7):
                # the prediction rounds to the gold at the gold's printed precision.
                ok = abs(_as_complex(value) - _as_complex(gv)) <= precision
                why = why or f"rounds to the gold's {g.text}"
        if ok:
            return ctx.decide("numeric", True, why)
    return ctx.decide("numeric", False)


def _printed_precision(text: str) -> float | None:
    """Half a unit of the gold's last printed decimal place, for a gold with 2+ significant digits."""
    m = _DECIMAL_RE.match(text)
    if not m or not m.group(2).strip("0"):
        return None  # "2.0": an integer written with a decimal point, not a rounded value
    digits = (m.group(1) + m.group(2)).lstrip("0")
    if len(digits) < 2:
        return None
    return 0.5 * 10 ** -len(m.group(2)) * (1 + 1e-9)


def _close_exact(a: Value, b: Value) -> bool:
    return close(a, b, EXACT_TOL)


def _as_complex(v: Value) -> complex:
    return complex(float(v)) if isinstance(v, Fraction) else v


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


def constant_value(node: Node) -> Value | None:
    """The value of a variable-free leaf, or None (used by intervals and equations)."""
    if node.kind != "expr":
        return None
    try:
        expr = parse_expression(node.text)
        if expr.symbols:
            return None
        return evaluate(expr)
    except (Unsupported, Undefined, TooLarge, RecursionError):
        return None


def is_constant(node: Node) -> bool:
    """A leaf without free variables (parsed in-process; unparsable text is not constant)."""
    if node.kind != "expr":
        return False
    if node.text in _INFINITIES:
        return True
    try:
        return not parse_expression(node.text).symbols
    except (Unsupported, TooLarge, RecursionError):
        return bool(_PLAIN_NUMBER_RE.match(node.text))
