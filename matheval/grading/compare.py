"""Compare two answer shapes (structure.Node): lists, tuples, sets, intervals, matrices, equations.

Gold is the trusted side: its shape decides which rule applies. A prediction with more pieces
than the gold (hedging: "2, 3" for gold 2), an equation whose left side is not a plain variable
("x + y = 5" for gold 5, which merely restates the question), or a tuple where a set is asked
for is incorrect even when one of its pieces matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from .evaluate import N_POINTS, TooLarge, Undefined, Unsupported, evaluate, parse_expression
from .structure import Node, unwrap_single
from .values import Abort, Context, close, compare_leaves

MAX_ITEMS = 40  # unordered matching is quadratic in comparisons
_VAR_RE = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?\w+\}?)?(?:'|\([^()]*\))?$")
_SEQUENCES = ("list", "blanks", "tuple", "set")
_INFINITE = {"\\infty": 1, "-\\infty": -1}
T = TypeVar("T")


def compare(g: Node, p: Node, ctx: Context) -> bool:
    if g.kind == "expr" and p.kind == "expr":
        return compare_leaves(g, p, ctx)
    if "eq" in (g.kind, p.kind):
        return _compare_equation(g, p, ctx)
    if g.kind == "matrix" or p.kind == "matrix":
        return _compare_matrix(g, p, ctx)
    if g.kind in _SEQUENCES and p.kind in _SEQUENCES and not _interval_like(g, p):
        return _compare_sequences(g, p, ctx)
    if {g.kind, p.kind} & {"interval", "union", "rel", "empty"} or _interval_like(g, p):
        gi, pi = as_intervals(g), as_intervals(p)
        if gi is not None and pi is not None:
            return _compare_intervals(gi, pi, ctx)
        if g.kind == "rel" and p.kind == "rel":
            return _compare_relations(g, p, ctx)
        return ctx.decide("interval", False, "not comparable as intervals")
    flat = unwrap_single(p)
    if flat is not p:
        return compare(g, flat, ctx)
    if g.kind == "expr" and p.kind in _SEQUENCES:
        return ctx.decide("structure", False, f"{len(p.items)} answers given for one")
    return ctx.decide("structure", False, f"gold is {g.kind}, prediction is {p.kind}")


def _interval_like(g: Node, p: Node) -> bool:
    return "interval" in (g.kind, p.kind) or "union" in (g.kind, p.kind)


# --- sequences -------------------------------------------------------------------------------


def _compare_sequences(g: Node, p: Node, ctx: Context) -> bool:
    rule = {"set": "set", "tuple": "tuple"}.get(g.kind, "list")
    if g.kind == "tuple" and p.kind == "set" or g.kind == "set" and p.kind == "tuple":
        return ctx.decide(rule, False, "ordered vs unordered collection")
    if g.kind == "tuple" and p.kind == "tuple" and g.brackets != p.brackets:
        return ctx.decide(rule, False, f"brackets {g.brackets} vs {p.brackets}")
    g_items, p_items = _dedupe(g), _dedupe(p)
    if len(g_items) != len(p_items):
        return ctx.decide(rule, False, f"{len(p_items)} items for {len(g_items)}")
    if len(g_items) > MAX_ITEMS:
        raise Abort("unparsable", f"more than {MAX_ITEMS} items", "guard")
    ordered = g.kind in ("tuple", "blanks") and not ctx.options.unordered
    if ordered:
        ok = all(compare(a, b, ctx) for a, b in zip(g_items, p_items, strict=True))
    else:
        ok = _matching(g_items, p_items, lambda a, b: compare(a, b, ctx))
    return ctx.decide(rule, ok)


def _dedupe(node: Node) -> tuple[Node, ...]:
    if node.kind != "set":
        return node.items
    seen: dict[str, Node] = {}
    for item in node.items:
        seen.setdefault(item.show(), item)
    return tuple(seen.values())


def _matching(gold: Sequence[T], pred: Sequence[T], eq: Callable[[T, T], bool]) -> bool:
    """Perfect bipartite matching (Kuhn): each gold item equals a distinct pred item."""
    cache: dict[tuple[int, int], bool] = {}

    def equal(i: int, j: int) -> bool:
        if (i, j) not in cache:
            cache[(i, j)] = eq(gold[i], pred[j])
        return cache[(i, j)]

    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(pred)):
            if j in seen or not equal(i, j):
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(len(gold)))


# --- matrices --------------------------------------------------------------------------------


def _rows(node: Node) -> list[tuple[Node, ...]] | None:
    if node.kind == "matrix":
        return [row.items for row in node.items]
    if node.kind == "tuple" and node.brackets in ("()", "[]"):
        return [(item,) for item in node.items]  # a vector written as a tuple: a column
    return None


def _compare_matrix(g: Node, p: Node, ctx: Context) -> bool:
    gr, pr = _rows(g), _rows(p)
    if gr is None or pr is None:
        return ctx.decide("matrix", False, "not a matrix")
    if len(gr) == 1 and len(pr) > 1 and all(len(r) == 1 for r in pr):
        gr = [(x,) for x in gr[0]]  # (a, b) against a column vector
    shape_ok = len(gr) == len(pr) and all(len(a) == len(b) for a, b in zip(gr, pr, strict=True))
    if not shape_ok:
        return ctx.decide("matrix", False, "shapes differ")
    ok = all(compare(a, b, ctx) for ra, rb in zip(gr, pr, strict=True) for a, b in zip(ra, rb, strict=True))
    return ctx.decide("matrix", ok)


# --- equations -------------------------------------------------------------------------------


def is_variable(node: Node) -> bool:
    return node.kind == "expr" and bool(_VAR_RE.match(node.text)) and node.text not in ("\\pi", "e", "i")


def _compare_equation(g: Node, p: Node, ctx: Context) -> bool:
    if g.kind == "eq" and p.kind == "eq":
        if len(g.items) == 2 == len(p.items) and is_variable(g.items[0]) and is_variable(p.items[0]):
            if g.items[0].text == p.items[0].text:
                return ctx.decide("equation", compare(g.items[1], p.items[1], ctx))
        return ctx.decide("equation", _same_equation(g, p, ctx))
    if g.kind == "eq":
        # Gold "k = 2", pred "2": the value is what was asked for.
        if len(g.items) == 2 and is_variable(g.items[0]):
            return ctx.decide("equation", compare(g.items[1], p, ctx))
        return ctx.decide("equation", False, "gold is an equation")
    if len(p.items) == 2 and is_variable(p.items[0]):
        return ctx.decide("equation", compare(g, p.items[1], ctx))
    if _numeric_chain(p):
        # "2 + 3 = 5": a worked computation whose sides agree; its last side is the value.
        return ctx.decide("equation", compare(g, p.items[-1], ctx))
    return ctx.decide("equation", False, "prediction is an equation, not a value")


def _numeric_chain(p: Node) -> bool:
    values = []
    for item in p.items:
        if item.kind != "expr":
            return False
        try:
            expr = parse_expression(item.text)
            if expr.symbols:
                return False
            values.append(evaluate(expr))
        except (Unsupported, TooLarge, Undefined, RecursionError):
            return False
    return all(close(values[0], v, 1e-9) for v in values[1:])


def _same_equation(g: Node, p: Node, ctx: Context) -> bool:
    """Two equations describe the same set when (lhs - rhs) agree up to a nonzero constant factor."""
    if len(g.items) != 2 or len(p.items) != 2 or any(i.kind != "expr" for i in (*g.items, *p.items)):
        return False
    texts = [i.text for i in (*g.items, *p.items)]
    try:
        exprs = [parse_expression(t) for t in texts]
    except (Unsupported, RecursionError):
        return ctx.symbolic("equation", gold=texts[:2], pred=texts[2:])
    ratios = []
    for k in range(N_POINTS):
        try:
            gl, gr, pl, pr = (evaluate(e, k) for e in exprs)
        except Undefined:
            continue
        except (TooLarge, Unsupported):
            return ctx.symbolic("equation", gold=texts[:2], pred=texts[2:])
        dg, dp = gl - gr, pl - pr
        if abs(complex(dp)) < 1e-12 or abs(complex(dg)) < 1e-12:
            if abs(complex(dp)) < 1e-12 and abs(complex(dg)) < 1e-12:
                continue
            return False
        ratios.append(dg / dp)
    if not ratios:
        return ctx.symbolic("equation", gold=texts[:2], pred=texts[2:])
    return all(close(ratios[0], r, 1e-9) for r in ratios[1:])


def _compare_relations(g: Node, p: Node, ctx: Context) -> bool:
    flipped = Node("rel", items=p.items[::-1], ops=tuple(_FLIP.get(o, o) for o in p.ops[::-1]))
    for cand in (p, flipped):
        if cand.ops == g.ops and len(cand.items) == len(g.items):
            if all(compare(a, b, ctx) for a, b in zip(g.items, cand.items, strict=True)):
                return ctx.decide("inequality", True)
    return ctx.decide("inequality", False)


_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le"}


# --- intervals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    lo: Node
    hi: Node
    lo_closed: bool
    hi_closed: bool


_NEG_INF = Node("expr", text="-\\infty")
_POS_INF = Node("expr", text="\\infty")


def as_intervals(node: Node) -> list[Interval] | None:
    """The node as a union of intervals, or None if it is not one."""
    if node.kind == "empty":
        return []
    if node.kind == "interval" or (node.kind == "tuple" and node.brackets == "()" and len(node.items) == 2):
        lo, hi = node.items
        return [Interval(lo, hi, node.brackets[0] == "[", node.brackets[1] == "]")]
    if node.kind in ("union", "list"):
        out: list[Interval] = []
        for item in node.items:
            part = as_intervals(item)
            if part is None:
                return None
            out += part
        return out
    if node.kind == "set":
        return (
            [Interval(i, i, True, True) for i in node.items]
            if all(i.kind == "expr" for i in node.items)
            else None
        )
    if node.kind == "rel":
        return _relation_intervals(node)
    return None


def _relation_intervals(node: Node) -> list[Interval] | None:
    items, ops = list(node.items), list(node.ops)
    var = [i for i, item in enumerate(items) if is_variable(item)]
    if len(var) != 1 or any(item.kind != "expr" for item in items):
        return None
    if len(items) == 2:
        if var[0] == 1:  # "3 < x" reads as "x > 3"
            items, ops = items[::-1], [_FLIP.get(ops[0], ops[0])]
        op, bound = ops[0], items[1]
        if op == "\\ne":
            return [Interval(_NEG_INF, bound, False, False), Interval(bound, _POS_INF, False, False)]
        if op in ("<", "\\le"):
            return [Interval(_NEG_INF, bound, False, op == "\\le")]
        return [Interval(bound, _POS_INF, op == "\\ge", False)]
    if len(items) == 3 and var[0] == 1:
        if ops[0] in ("<", "\\le") and ops[1] in ("<", "\\le"):
            return [Interval(items[0], items[2], ops[0] == "\\le", ops[1] == "\\le")]
        if ops[0] in (">", "\\ge") and ops[1] in (">", "\\ge"):
            return [Interval(items[2], items[0], ops[1] == "\\ge", ops[0] == "\\ge")]
    return None


def _endpoint_equal(a: Node, b: Node, ctx: Context) -> bool:
    if a.text in _INFINITE or b.text in _INFINITE:
        return _INFINITE.get(a.text) == _INFINITE.get(b.text)
    return compare(a, b, ctx)


def _compare_intervals(gi: list[Interval], pi: list[Interval], ctx: Context) -> bool:
    if len(gi) != len(pi):
        return ctx.decide("interval", False, f"{len(pi)} pieces for {len(gi)}")

    def same(a: Interval, b: Interval) -> bool:
        return (
            a.lo_closed == b.lo_closed
            and a.hi_closed == b.hi_closed
            and _endpoint_equal(a.lo, b.lo, ctx)
            and _endpoint_equal(a.hi, b.hi, ctx)
        )

    ok = _matching(gi, pi, same)
    return ctx.decide("interval", ok)
