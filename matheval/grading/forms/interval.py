"""Sets of reals: intervals, unions, points, inequalities, set-builder notation, all reals, empty.

Whether a gold *is* a set of reals is decided once, in `applies`, from the gold: a two-element
tuple in parentheses is a point unless the question speaks of intervals. A prediction is read as
a set only where it states one: an interval, a union, points, a set-builder, or an inequality
that isolates the variable up to its sign or absolute value (``-x > -1``, ``1 \\le |z| \\le 2``).
An unsolved inequality (``2x - 4 > 0``) restates the question and is not read, so it cannot match.
Unions are compared as sets: pieces sorted and merged where the ends are numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context, Cues
from ..shape import Node
from . import equation
from . import text as text_form
from . import value as value_form

_FLIP = {"<": ">", ">": "<", "\\le": "\\ge", "\\ge": "\\le", "\\ne": "\\ne"}
_NEG_INF = Node("expr", text="-\\infty")
_POS_INF = Node("expr", text="\\infty")
_INF_VALUE = {"\\infty": float("inf"), "-\\infty": float("-inf")}


@dataclass(frozen=True)
class Interval:
    lo: Node
    hi: Node
    lo_closed: bool
    hi_closed: bool


def applies(gold: Node, cues: Cues) -> bool:
    if gold.kind in ("interval", "union", "setbuilder", "empty", "rel", "difference"):
        return True
    if gold.kind == "tuple" and len(gold.items) == 2:
        return gold.brackets == "[]" or (gold.brackets == "()" and cues.interval)
    if gold.kind == "list" and gold.items:
        # "x < 0 or x = 3": relations and points joined in words.
        kinds = {i.kind for i in gold.items}
        return bool(kinds & {"rel", "interval", "union"}) and kinds <= {"rel", "interval", "union", "eq", "set"}
    return gold.kind == "expr" and _reals(gold)


def _reals(node: Node) -> bool:
    return node.kind == "expr" and (node.text == "\\mathbb{R}" or text_form.concept(node.text) == "reals")


def equal(g: Node, p: Node, ctx: Context) -> bool:
    gi = as_intervals(g, gold=True)
    pi = as_intervals(p, gold=False)
    if gi is not None and pi is not None:
        return _compare(gi, pi, ctx)
    if g.kind == "rel" and p.kind == "rel":
        return _compare_relations(g, p, ctx)
    return ctx.decide("interval", False, "not comparable as sets of reals")


def key(node: Node) -> str:
    from . import composite_key
    from . import key as form_key

    parts = as_intervals(node, gold=True)
    if parts is None:
        return composite_key(node)
    return "I[" + "|".join(
        f"{'[' if i.lo_closed else '('}{form_key(i.lo)},{form_key(i.hi)}{']' if i.hi_closed else ')'}"
        for i in sorted(parts, key=lambda i: (i.lo.show(), i.hi.show()))
    ) + "]"


def as_intervals(node: Node, gold: bool) -> list[Interval] | None:
    """The node as a union of intervals, or None if it does not state a set of reals."""
    kind = node.kind
    if kind == "empty":
        return []
    if kind == "interval" or (kind == "tuple" and len(node.items) == 2 and node.brackets in ("()", "[]")):
        lo, hi = node.items
        if lo.kind != "expr" or hi.kind != "expr":
            return None
        return [Interval(lo, hi, node.brackets[0] == "[", node.brackets[1] == "]")]
    if kind in ("union", "list"):
        out: list[Interval] = []
        for item in node.items:
            part = as_intervals(item, gold)
            if part is None:
                return None
            out += part
        return out
    if kind == "set":
        return [Interval(i, i, True, True) for i in node.items] if all(i.kind == "expr" for i in node.items) else None
    if kind == "rel":
        return _relation_intervals(node, gold)
    if kind == "eq" and len(node.items) == 2 and equation.is_variable(node.items[0]):
        point = node.items[1]
        return [Interval(point, point, True, True)] if value_form.is_constant(point) else None
    if kind == "setbuilder":
        return as_intervals(node.items[1], gold)
    if kind == "difference":
        whole, removed = as_intervals(node.items[0], gold), as_intervals(node.items[1], gold)
        if whole is None or removed is None or any(r.lo.show() != r.hi.show() for r in removed):
            return None
        return _without_points(whole, [r.lo for r in removed])
    if kind == "expr":
        if _reals(node):
            return [Interval(_NEG_INF, _POS_INF, False, False)]
        if text_form.is_text(node.text) and text_form.concept(node.text) == "none":
            return []
    return None


def _without_points(parts: list[Interval], points: list[Node]) -> list[Interval] | None:
    """The intervals with the given points taken out (each point splits the piece holding it)."""
    out = list(parts)
    for point in points:
        p = _number(point)
        if p is None:
            return None
        split: list[Interval] = []
        for part in out:
            lo, hi = _number(part.lo), _number(part.hi)
            if lo is None or hi is None:
                return None
            if lo < p < hi:
                split.append(Interval(part.lo, point, part.lo_closed, False))
                split.append(Interval(point, part.hi, False, part.hi_closed))
            elif p == lo and part.lo_closed:
                split.append(Interval(part.lo, part.hi, False, part.hi_closed))
            elif p == hi and part.hi_closed:
                split.append(Interval(part.lo, part.hi, part.lo_closed, False))
            else:
                split.append(part)
        out = split
    return out


def _negate(node: Node) -> Node:
    t = node.text
    if t in ("\\infty", "-\\infty"):
        return _NEG_INF if t == "\\infty" else _POS_INF
    return Node("expr", text=t[1:] if t.startswith("-") and value_form.is_constant(Node("expr", text=t[1:]))
                else f"-({t})")


def _unknown(node: Node) -> tuple[str, str] | None:
    """("x", "") for x, ("x", "-") for -x, ("x", "|") for |x|; None for anything else."""
    if node.kind != "expr":
        return None
    t = node.text
    if t.startswith("|") and t.endswith("|") and equation.is_unknown(Node("expr", text=t[1:-1])):
        return t[1:-1], "|"
    if t.startswith("-") and equation.is_unknown(Node("expr", text=t[1:])):
        return t[1:], "-"
    if equation.is_unknown(node):
        return t, ""
    return None


def _relation_intervals(node: Node, gold: bool) -> list[Interval] | None:
    items, ops = list(node.items), list(node.ops)
    found = [(k, _unknown(item)) for k, item in enumerate(items)]
    unknowns = [(k, u) for k, u in found if u is not None]
    if len(unknowns) != 1 or any(item.kind != "expr" for item in items):
        return None
    position, (_, mode) = unknowns[0]
    others = [item for k, item in enumerate(items) if k != position]
    if not all(value_form.is_constant(o) for o in others):
        return None
    if len(items) == 2:
        if position == 1:  # "3 < x" reads as "x > 3"
            items, ops = items[::-1], [_FLIP.get(ops[0], ops[0])]
        op, bound = ops[0], items[1]
        if mode == "-":
            op, bound = _FLIP.get(op, op), _negate(bound)
        if mode == "|":
            return _absolute(op, bound)
        return _one_sided(op, bound)
    if len(items) == 3 and position == 1:
        lo, hi = items[0], items[2]
        if ops[0] in (">", "\\ge") and ops[1] in (">", "\\ge"):
            lo, hi, ops = hi, lo, [_FLIP[ops[1]], _FLIP[ops[0]]]
        if not (ops[0] in ("<", "\\le") and ops[1] in ("<", "\\le")):
            return None
        lo_closed, hi_closed = ops[0] == "\\le", ops[1] == "\\le"
        if mode == "-":
            lo, hi, lo_closed, hi_closed = _negate(hi), _negate(lo), hi_closed, lo_closed
        if mode == "|":
            # a <= |x| <= b: two mirrored pieces (one when a is not positive).
            a = value_form.constant_value(lo)
            if a is None or isinstance(a, complex):
                return None
            if a <= 0:
                return [Interval(_negate(hi), hi, hi_closed, hi_closed)]
            return [Interval(_negate(hi), _negate(lo), hi_closed, lo_closed), Interval(lo, hi, lo_closed, hi_closed)]
        return [Interval(lo, hi, lo_closed, hi_closed)]
    return None


def _one_sided(op: str, bound: Node) -> list[Interval] | None:
    if op == "\\ne":
        return [Interval(_NEG_INF, bound, False, False), Interval(bound, _POS_INF, False, False)]
    if op in ("<", "\\le"):
        return [Interval(_NEG_INF, bound, False, op == "\\le")]
    if op in (">", "\\ge"):
        return [Interval(bound, _POS_INF, op == "\\ge", False)]
    return None


def _absolute(op: str, bound: Node) -> list[Interval] | None:
    if op in ("<", "\\le"):
        return [Interval(_negate(bound), bound, op == "\\le", op == "\\le")]
    if op in (">", "\\ge"):
        closed = op == "\\ge"
        return [Interval(_NEG_INF, _negate(bound), False, closed), Interval(bound, _POS_INF, closed, False)]
    return None


def _number(node: Node) -> float | None:
    if node.text in _INF_VALUE:
        return _INF_VALUE[node.text]
    v = value_form.constant_value(node)
    if v is None or (isinstance(v, complex) and abs(v.imag) > 1e-12):
        return None
    return float(v.real if isinstance(v, complex) else v)


def _merged(parts: list[Interval]) -> list[Interval] | None:
    """Sorted, overlapping and touching pieces merged; None when an end is not a number."""
    numbered = []
    for part in parts:
        lo, hi = _number(part.lo), _number(part.hi)
        if lo is None or hi is None:
            return None
        if lo > hi or (lo == hi and not (part.lo_closed and part.hi_closed)):
            continue  # an empty piece
        numbered.append((lo, not part.lo_closed, hi, part.hi_closed, part))
    numbered.sort(key=lambda t: (t[0], t[1]))
    out: list[tuple[float, float, Interval]] = []
    for lo, _, hi, _, part in numbered:
        if out:
            plo, phi, prev = out[-1]
            touching = lo < phi or (lo == phi and (prev.hi_closed or part.lo_closed))
            if touching:
                if hi > phi or (hi == phi and part.hi_closed and not prev.hi_closed):
                    out[-1] = (plo, hi, Interval(prev.lo, part.hi, prev.lo_closed, part.hi_closed))
                continue
        out.append((lo, hi, part))
    return [part for _, _, part in out]


def _endpoint_equal(a: Node, b: Node, ctx: Context) -> bool:
    if a.text in _INF_VALUE or b.text in _INF_VALUE:
        return _INF_VALUE.get(a.text) == _INF_VALUE.get(b.text)
    return ctx.equal(a, b)


def _compare(gi: list[Interval], pi: list[Interval], ctx: Context) -> bool:
    gm, pm = _merged(gi), _merged(pi)
    if gm is not None and pm is not None:
        gi, pi = gm, pm

    def same(a: Interval, b: Interval) -> bool:
        return (
            a.lo_closed == b.lo_closed
            and a.hi_closed == b.hi_closed
            and _endpoint_equal(a.lo, b.lo, ctx)
            and _endpoint_equal(a.hi, b.hi, ctx)
        )

    if len(gi) != len(pi):
        return ctx.decide("interval", False, f"{len(pi)} pieces for {len(gi)}")
    from .sequence import matching

    return ctx.decide("interval", matching(gi, pi, same))


def _compare_relations(g: Node, p: Node, ctx: Context) -> bool:
    """Two relations that are not sets of one variable (f(2) < f(1) < f(4)): the same chain."""
    flipped = Node("rel", items=p.items[::-1], ops=tuple(_FLIP.get(o, o) for o in p.ops[::-1]))
    for cand in (p, flipped):
        if cand.ops == g.ops and len(cand.items) == len(g.items):
            if all(ctx.equal(a, b) for a, b in zip(g.items, cand.items, strict=True)):
                return ctx.decide("inequality", True)
    return ctx.decide("inequality", False)
