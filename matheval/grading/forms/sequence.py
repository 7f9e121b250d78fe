"""Several answers: a tuple (ordered), a bare list or set of solutions (unordered), blanks (ordered).

Before matching, both sides are brought to plain items: ``\\pm`` alternatives expanded, labels
dropped (``(p,q) = (3,2)``, ``x = 1, 2``), assignment lists read as records (``k = 45, n = 2``:
values matched by label when both sides label them, in order otherwise) and repeated items of a
solution list of points counted once. A prediction with more or fewer items than the gold is incorrect,
even when it contains every gold item (a hedge is not an answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..context import Abort, Context
from ..limits import MAX_ITEMS
from ..shape import Node
from . import equation

T = TypeVar("T")
_SEQUENCES = ("list", "blanks", "tuple", "set")
_INDEXED_RE = re.compile(r"^([a-zA-Z])_\{?(\d+)\}?$")


def applies(gold: Node) -> bool:
    return gold.kind in _SEQUENCES


def equal(g: Node, p: Node, ctx: Context) -> bool:
    from . import matrix

    if p.kind == "matrix" and g.kind == "tuple":
        return matrix.equal(g, p, ctx)
    g, p = _plain(g), _plain(p)
    if g.kind == "record" or p.kind == "record":
        return _compare_records(g, p, ctx)
    if p.kind == "eq":
        value = equation.label_value(p)
        if value is None:
            return ctx.decide("structure", False, "prediction is an equation")
        p = _plain(value)
    if g.kind not in _SEQUENCES:
        return ctx.equal(g, p)
    if p.kind not in _SEQUENCES:
        if p.kind == "expr" and len(g.items) == 1:
            return ctx.equal(g.items[0], p)
        return ctx.decide("structure", False, f"gold has {len(g.items)} answers, prediction is {p.kind}")
    rule = {"set": "set", "tuple": "tuple"}.get(g.kind, "list")
    if {g.kind, p.kind} == {"tuple", "set"}:
        return ctx.decide(rule, False, "ordered vs unordered collection")
    if g.kind == "tuple" and p.kind == "tuple" and not _brackets_agree(g, p):
        return ctx.decide(rule, False, f"brackets {g.brackets} vs {p.brackets}")
    ordered = _ordered(g, ctx)
    g_items = g.items if ordered else _dedupe(g.items, g.kind)
    p_items = p.items if ordered else _dedupe(p.items, g.kind if g.kind == "set" else p.kind)
    if len(g_items) != len(p_items):
        return ctx.decide(rule, False, f"{len(p_items)} items for {len(g_items)}")
    if len(g_items) > MAX_ITEMS:
        raise Abort("unparsable", f"more than {MAX_ITEMS} items", "guard")
    if ordered:
        ok = all(ctx.equal(a, b) for a, b in zip(g_items, p_items, strict=True))
    else:
        ok = matching(g_items, p_items, ctx.equal)
    return ctx.decide(rule, ok)


def _ordered(g: Node, ctx: Context) -> bool:
    if g.kind == "tuple":
        return not ctx.options.unordered
    if g.kind == "blanks":
        # Blanks that are each a tuple are a list of solutions, not positions to fill.
        return not ctx.options.unordered and not all(i.kind == "tuple" for i in g.items)
    return g.kind == "list" and ctx.ordered


def _brackets_agree(g: Node, p: Node) -> bool:
    pair = {g.brackets, p.brackets}
    # A 2-tuple in [] may be an interval; from 3 items on, [] and () are both just a vector.
    return len(pair) == 1 or (len(g.items) >= 3 and pair <= {"()", "[]"})


def _plain(node: Node) -> Node:
    """Labels dropped and assignment lists turned into records (kind "record", items are eqs)."""
    if node.kind == "eq":
        value = equation.label_value(node)
        if value is not None and equation.is_label(node.items[0]) and node.items[0].kind == "tuple":
            return _plain(value)  # (p, q) = (3, 2)
        if value is not None and value.kind == "list":
            return _plain(value)  # x = 1, 2
        return node
    if node.kind == "union" and all(i.kind in ("set", "empty") for i in node.items):
        # {1, 2} \cup {3}: one finite set
        return Node("set", items=tuple(x for i in node.items for x in i.items))
    if node.kind not in ("list", "blanks", "set"):
        return node
    items = [_plain(i) for i in node.items]
    labelled = [i for i in items if i.kind == "eq" and equation.label_value(i) is not None]
    if labelled and len(labelled) == len(items):
        names = [i.items[0].show() for i in items]
        if len(set(names)) == len(names) and not _indexed_roots(names):
            return Node("record", items=tuple(items))
        # x = 1, x = 2 (or x_1 = ..., x_2 = ...): one unknown's solutions.
        items = [equation.label_value(i) or i for i in items]
    items = [_plain(i) if i.kind == "eq" else i for i in items]
    if node.kind in ("blanks", "list") and len(items) > 1 and all(i.kind == "record" for i in items):
        items = [_record_tuple(i) for i in items]  # p=5, q=2; p=7, q=2: two solution tuples
    return Node(node.kind, items=tuple(items), brackets=node.brackets)


def _indexed_roots(names: list[str]) -> bool:
    """x_1, x_2, ...: numbered solutions of one unknown, in no particular order."""
    found = [_INDEXED_RE.match(n) for n in names]
    return all(found) and len({m.group(1) for m in found if m}) == 1


def _record_tuple(record: Node) -> Node:
    return Node("tuple", items=tuple(equation.label_value(i) or i for i in record.items), brackets="()")


def _compare_records(g: Node, p: Node, ctx: Context) -> bool:
    if g.kind == "record" and p.kind == "record":
        g_labels = [i.items[0].show() for i in g.items]
        p_labels = [i.items[0].show() for i in p.items]
        if sorted(g_labels) == sorted(p_labels):
            by_label = {i.items[0].show(): i for i in p.items}
            ok = all(ctx.equal(i, by_label[i.items[0].show()]) for i in g.items)
            return ctx.decide("tuple", ok)
        return ctx.decide("tuple", ctx.equal(_record_tuple(g), _record_tuple(p)))
    if g.kind == "record":
        return ctx.equal(_record_tuple(g), p)
    return ctx.equal(g, _record_tuple(p))


def _dedupe(items: tuple[Node, ...], kind: str) -> tuple[Node, ...]:
    """A set, or a list of points, counts each member once; a list of numbers keeps multiplicity
    (the roots 1, 1, 2 are not the roots 1, 2)."""
    from . import key

    if kind != "set" and not all(i.kind == "tuple" for i in items):
        return items
    seen: dict[str, Node] = {}
    for item in items:
        seen.setdefault(key(item), item)
    return tuple(seen.values())


def matching(gold: Sequence[T], pred: Sequence[T], eq: Callable[[T, T], bool]) -> bool:
    """Perfect bipartite matching (Kuhn): each gold item equals a distinct pred item."""
    cache: dict[tuple[int, int], bool] = {}

    def equal_at(i: int, j: int) -> bool:
        if (i, j) not in cache:
            cache[(i, j)] = eq(gold[i], pred[j])
        return cache[(i, j)]

    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(len(pred)):
            if j in seen or not equal_at(i, j):
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    return all(augment(i, set()) for i in range(len(gold)))


def key(node: Node) -> str:
    from . import key as form_key

    node = _plain(node)
    if node.kind == "record":
        labelled = sorted(f"{i.items[0].show()}={form_key(equation.label_value(i) or i)}" for i in node.items)
        return "record[" + "|".join(labelled) + "]"
    if node.kind not in _SEQUENCES:
        return form_key(node)
    inner = [form_key(i) for i in node.items]
    if node.kind in ("list", "set"):
        # Same rule as matching: a set or a list of points counts members once, numbers keep multiplicity.
        once = node.kind == "set" or all(i.kind == "tuple" for i in node.items)
        inner = sorted(set(inner)) if once else sorted(inner)
    kind = "list" if node.kind in ("list", "set") else node.kind
    brackets = node.brackets if node.kind == "tuple" else ""
    return f"{kind}{brackets}[" + "|".join(inner) + "]"
