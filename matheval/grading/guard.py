"""What a prediction must not hand to sympy: sums and products too large to evaluate, found in-process.

The in-process evaluator adds at most `MAX_SUM_TERMS` terms; a longer sum goes to sympy, which
can only finish it by a closed form. When a term at an end of the range is already too large to
evaluate exactly (``\\sum_{k=1}^{10^{100}} k^k``, ``\\sum_{k=0}^{10^{100}} 2^{-k}``), so is any
closed form at that end: sympy would spend its whole time limit and its process. A product over
that many terms whose end terms are not ±1 has a value of more than `MAX_BITS` bits. Both are
refused here, deterministically and in microseconds, as "too large to evaluate" — the status a
power tower or a huge factorial already gets. What stays with sympy: symbolic bounds
(``\\sum_{k=1}^{n} k``, sampled in-process anyway), ranges it can add in closed form
(``\\sum_{k=1}^{10^{100}} k``) and infinite series (``\\sum_{k=1}^{\\infty} 1/k^2``: a term-growth
test cheap enough for here would also refuse convergent ones such as ``\\sum 1/k!``).
"""

from __future__ import annotations

import math
from fractions import Fraction

from .evaluate import Expr, TooLarge, Undefined, Unsupported, Value, evaluate, parse_expression, sample_env
from .limits import MAX_BITS, MAX_SUM_TERMS, WORKER_MAX_POW_BITS


def refuse(text: str) -> str | None:
    """Why the prediction `text` is too large to hand to sympy, or None (then sympy may try)."""
    try:
        expr = parse_expression(text)
    except (Unsupported, TooLarge, RecursionError):
        return None  # notation only sympy reads, or a huge literal: the worker's own guard applies
    if not _has_risk(expr.tree):
        return None
    env = sample_env(expr.symbols, expr.integers, 0, False)
    try:
        return _walk(expr.tree, env)
    except RecursionError:
        return None


def _has_risk(tree: tuple) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if node[0] in ("sum", "prod", "pow"):
            return True
        stack.extend(c for c in node[1:] if isinstance(c, tuple))
    return False


def _walk(node: tuple, env: dict[str, Fraction], bound: frozenset[str] = frozenset()) -> str | None:
    op = node[0]
    if op in ("sum", "prod"):
        why = _big_operator(node, env)
        if why is not None:
            return why
        bound = bound | {node[1]}
    elif op == "pow" and _mentions(node[1], env, bound) and not _mentions(node[2], env, bound):
        why = _huge_exponent(node[2])
        if why is not None:
            return why
    for child in node[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            why = _walk(child, env, bound)
            if why is not None:
                return why
    return None


def _huge_exponent(tree: tuple) -> str | None:
    """x^{10^{100}}: sympy can only sample it at rationals, with |exponent| times their bits."""
    try:
        exponent = _value(tree, {})
    except TooLarge as exc:
        return f"an exponent too large to evaluate ({exc})"
    except (Unsupported, Undefined):
        return None
    if abs(complex(exponent)) > WORKER_MAX_POW_BITS:
        return f"a power of a variable with exponent {complex(exponent).real:.3g}"
    return None


def _big_operator(node: tuple, env: dict[str, Fraction]) -> str | None:
    op, var, lo_tree, hi_tree, body = node
    bounds = []
    for tree in (lo_tree, hi_tree):
        if _mentions(tree, env):
            return None  # a symbolic bound (n): the count depends on it, sampled in-process
        try:
            bound = _value(tree, {})
        except TooLarge as exc:
            return f"a bound of the {_NAMES[op]} is too large to evaluate ({exc})"
        except (Unsupported, Undefined):
            return None  # an infinite or non-integer bound: sympy's question
        if not (isinstance(bound, Fraction) and bound.denominator == 1):
            return None
        bounds.append(int(bound))
    lo, hi = bounds
    if hi - lo <= MAX_SUM_TERMS:
        return None  # evaluated in-process
    terms = []
    for k in (lo, hi):
        try:
            terms.append(_value(body, {**env, var: Fraction(k)}))
        except TooLarge:
            return f"a term of the {_NAMES[op]} is too large to evaluate ({hi - lo + 1:.3g} terms)"
        except (Unsupported, Undefined):
            return None
    if op == "prod":
        growth = max(abs(_log2(t)) for t in terms)
        if growth > 1e-9 and (hi - lo + 1) * growth > MAX_BITS:
            return f"a product of {hi - lo + 1:.3g} terms is too large to evaluate"
    return None


_NAMES = {"sum": "sum", "prod": "product"}


def _mentions(tree: tuple, env: dict[str, Fraction], bound: frozenset[str] = frozenset()) -> bool:
    stack = [tree]
    while stack:
        node = stack.pop()
        if node[0] == "sym" and (node[1] in env or node[1] in bound):
            return True
        stack.extend(c for c in node[1:] if isinstance(c, tuple))
    return False


def _value(tree: tuple, env: dict[str, Fraction]) -> Value:
    return evaluate(Expr(tree, frozenset(env), False), env)


def _log2(v: Value) -> float:
    """log2 |v| without overflow (0 for a zero term: the product is 0, nothing to refuse)."""
    if isinstance(v, Fraction):
        if v == 0:
            return 0.0
        return math.log2(abs(v.numerator)) - math.log2(v.denominator)  # exact ints of any size
    size = abs(v)
    return math.log2(size) if size > 0 else 0.0
