"""Equations: a labelled value (``k = 2``, ``S_{\\min} = 2n+1``, ``(p,q) = (3,2)``) or a relation.

A *label* names the asked quantity: a variable (with subscripts or primes), a function value
``f(x)``, a tuple of variables, or a symbol-only name such as ``|AB|``, ``V_1:V_2`` or
``\\frac{NO}{BO}``. A gold ``label = value`` asks for the value, so the bare value, the same
label, or a compatible one (``y`` / ``f(x)``, ``g(t)`` / ``g(u)`` with the variable renamed) is
correct. Any other gold equation (``2x + 4y = 3``, ``a + 3z = 0``) is a relation and only an
equation describing the same set matches it (equal up to a nonzero factor).
"""

from __future__ import annotations

import re

from ..context import Context
from ..evaluate import TooLarge, Undefined, Unsupported, evaluate, parse_expression, sample_count, sample_env
from ..shape import Node
from . import value as value_form

_VAR_RE = re.compile(r"^(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_\{?[\w\\{}+\-]+\}?)?'*$")
_FUNCTION_RE = re.compile(r"^(?P<name>[a-zA-Z](?:_\{?\w+\}?)?|\\[a-zA-Z]+)(?:\^\{?-1\}?)?'*\((?P<arg>[^()]*)\)$")
_CONSTANTS = ("\\pi", "e", "i", "\\infty")
_NAME_RE = re.compile(r"^[A-Za-z\\{}()|:/ '^]+$")
_NAME_COMMANDS = re.compile(r"\\(?:frac|angle|overline|triangle|measuredangle|mathrm|text|widehat|hat|vec|"
                            r"min|max|sin|cos|tan|cot|sec|csc|alpha|beta|gamma|theta|phi)(?![a-zA-Z])")


def applies(gold: Node) -> bool:
    return gold.kind == "eq"


def is_variable(node: Node) -> bool:
    return node.kind == "expr" and bool(_VAR_RE.match(node.text)) and node.text not in _CONSTANTS


def is_unknown(node: Node) -> bool:
    """A variable or a function value: what an inequality can be solved for (x, f(x))."""
    return is_variable(node) or (node.kind == "expr" and bool(_FUNCTION_RE.match(node.text)))


def is_label(node: Node) -> bool:
    """Does `node` name a quantity (so that ``node = value`` gives the value)?"""
    if node.kind == "tuple":
        return all(is_variable(i) for i in node.items)
    if node.kind != "expr" or not node.text or node.text in _CONSTANTS:
        return False
    t = node.text
    if _VAR_RE.match(t) or _FUNCTION_RE.match(t):
        return True
    if re.fullmatch(r"\\text\{[^{}]*\}", t):
        return True
    # A symbol-only name: no digits outside subscripts, no top-level sum.
    bare = re.sub(r"_\{[^{}]*\}|_\w", "", t)
    bare = re.sub(r"\|[^|]*\|", "|A|", bare)
    if re.search(r"\d", bare) or re.search(r"[+\-]", re.sub(r"\{[^{}]*\}", "{}", bare)):
        return False
    return bool(_NAME_RE.match(_NAME_COMMANDS.sub("", bare))) and bool(re.search(r"[A-Za-z]", bare))


def labels_compatible(a: Node, b: Node) -> bool:
    """Same label, or two names of the same function value (``y`` / ``f(x)``, ``g(t)`` / ``g(u)``)."""
    if a.show() == b.show():
        return True
    fa, fb = (_FUNCTION_RE.match(n.text) if n.kind == "expr" else None for n in (a, b))
    if fa and fb:
        return fa.group("name") == fb.group("name")
    if is_variable(a) and is_variable(b) and _stem(a.text) == _stem(b.text):
        return True  # S_{\min} and S, a_n and a: the same quantity with or without its subscript
    dependent = {"y", "f(x)"}
    return bool((fa or a.text in dependent) and (fb or b.text in dependent)) and (
        a.text == "y" or b.text == "y"
    )


def _stem(name: str) -> str:
    return re.sub(r"_.*$|'+$", "", name)


_BOUND = "w_{0}"  # the fresh name both bound arguments are renamed to


def renaming(a: Node, b: Node) -> tuple[dict[str, str], dict[str, str]]:
    """Renamings of the bound arguments of ``g(t)`` and ``g(u)`` to one fresh name (t -> w, u -> w).

    Renaming both (rather than u -> t) keeps ``g(u) = 3t - 1`` from matching ``g(t) = 3t - 1``.
    """
    fa, fb = (_FUNCTION_RE.match(n.text) if n.kind == "expr" else None for n in (a, b))
    if fa and fb and fa.group("arg") != fb.group("arg"):
        arg_a, arg_b = fa.group("arg").strip(), fb.group("arg").strip()
        if re.fullmatch(r"[a-zA-Z]", arg_a) and re.fullmatch(r"[a-zA-Z]", arg_b):
            return {arg_a: _BOUND}, {arg_b: _BOUND}
    return {}, {}


def label_value(node: Node) -> Node | None:
    """The value a labelled equation gives (``x = 5+5+1 = 11`` gives 11), else None."""
    if node.kind != "eq" or len(node.items) < 2 or not is_label(node.items[0]):
        return None
    values = pred_values(node)
    return values[0] if values else None


def pred_values(p: Node) -> list[Node]:
    """What an equation in a prediction offers as its value, exact side first.

    ``x = 5``, ``x = 1/3 \\approx 0.33``, ``AB = 12``, ``x + y = 2025``: the right side when the
    left is a label or the right side is a constant. A relation between unknowns (``2x = y``,
    ``7 = 11a + c``) offers nothing, so it cannot match a value.
    """
    items, ops = p.items, p.ops
    exact: Node | None = None
    approx: list[Node] = []
    for op, item in zip(ops, items[1:], strict=True):
        if op == "~":
            approx.append(item)
        elif not approx:
            exact = item
    if exact is None and approx and ops[0] == "~" and value_form.is_constant(items[0]):
        exact = items[0]  # "\frac{9.5}{3.14159} \approx 3.01": the exact value, then its approximation
    last = exact if exact is not None else (approx[-1] if approx else None)
    if last is None:
        return []
    if is_label(items[0]) or all(_constant_or_shape(n) for n in ([exact] if exact else approx)):
        return [n for n in (exact, *approx) if n is not None]
    if exact is not None and not approx and _identity(items):
        return [exact]  # "(x+1)^2 = x^2 + 2x + 1": a worked identity; its sides are one value
    return []


def _identity(items: tuple[Node, ...]) -> bool:
    """Are all sides of a chain the same expression (checked at sample points, in-process only)?"""
    if len(items) < 2 or any(i.kind != "expr" for i in items):
        return False
    try:
        exprs = [parse_expression(i.text) for i in items]
    except (Unsupported, TooLarge, RecursionError):
        return False
    names = frozenset().union(*(e.symbols for e in exprs))
    integers = frozenset().union(*(e.integers for e in exprs))
    piecewise = any(e.piecewise for e in exprs)
    checked = 0
    for k in range(sample_count(piecewise)):
        env = sample_env(names, integers, k, piecewise)
        try:
            values = [evaluate(e, env) for e in exprs]
        except (Undefined, TooLarge, Unsupported):
            continue
        if not all(value_form.close(values[0], v, 1e-9) for v in values[1:]):
            return False
        checked += 1
    return checked >= 2


def _constant_or_shape(node: Node) -> bool:
    return value_form.is_constant(node) if node.kind == "expr" else node.kind in ("tuple", "list", "set")


def equal(g: Node, p: Node, ctx: Context) -> bool:
    if "~" in g.ops and not is_label(g.items[0]):
        # A gold "\frac{\sqrt{2}}{2} \approx 0.707": the exact value or its printed approximation.
        return ctx.decide("equation", any(ctx.equal(side, p) for side in g.items if side.kind != "eq"))
    gold_value = label_value(g)
    if gold_value is not None:
        if p.kind != "eq":
            return ctx.decide("equation", ctx.equal(gold_value, p))
        labelled = p if is_label(p.items[0]) else _flipped(p)
        functional = not value_form.is_constant(gold_value)
        if labelled is not None and labels_compatible(g.items[0], labelled.items[0]):
            pv = label_value(labelled)
            rename_g, rename_p = renaming(g.items[0], labelled.items[0])
            if pv is not None and rename_p and pv.kind == "expr" and gold_value.kind == "expr":
                pv = Node("expr", text=_rename(pv.text, rename_p), percent=pv.percent)
                gold_value = Node("expr", text=_rename(gold_value.text, rename_g), percent=gold_value.percent)
            return ctx.decide("equation", pv is not None and ctx.equal(gold_value, pv))
        if functional:
            # "y - 2x = 1" or "x = (y-1)/2" for gold "y = 2x + 1": the same curve, rearranged.
            return ctx.decide("equation", _same_equation(g, p, ctx))
        # "2x = 6" or "y = 3" for gold "x = 3": a relation or another unknown, not the value asked.
        return ctx.decide("equation", False, "prediction does not give the labelled value")
    if p.kind != "eq":
        return ctx.decide("equation", False, "gold is an equation")
    return ctx.decide("equation", _same_equation(g, p, ctx))


def _flipped(p: Node) -> Node | None:
    """``3 = x`` read as ``x = 3``."""
    if len(p.items) == 2 and p.ops == ("=",) and is_label(p.items[1]):
        return Node("eq", items=(p.items[1], p.items[0]), ops=p.ops)
    return None


def _rename(text: str, mapping: dict[str, str]) -> str:
    return re.sub(r"(?<![\\a-zA-Z])([a-zA-Z])(?![a-zA-Z])", lambda m: mapping.get(m.group(1), m.group(1)), text)


def _same_equation(g: Node, p: Node, ctx: Context) -> bool:
    """Two equations describe the same set when (lhs - rhs) agree up to a nonzero constant factor."""
    if len(g.items) != 2 or len(p.items) != 2 or any(i.kind != "expr" for i in (*g.items, *p.items)):
        return False
    if "~" in g.ops or "~" in p.ops:
        return False
    texts = [i.text for i in (*g.items, *p.items)]
    gold_diff, pred_diff = f"({texts[0]})-({texts[1]})", f"({texts[2]})-({texts[3]})"
    try:
        exprs = [parse_expression(t) for t in texts]
    except (Unsupported, RecursionError):
        return ctx.symbolic("proportional", gold=gold_diff, pred=pred_diff)
    except TooLarge:
        return False
    names = frozenset().union(*(e.symbols for e in exprs))
    integers = frozenset().union(*(e.integers for e in exprs))
    ratios = []
    for k in range(4):
        env = sample_env(names, integers, k, False)
        try:
            gl, gr, pl, pr = (evaluate(e, env) for e in exprs)
        except Undefined:
            continue
        except (TooLarge, Unsupported):
            return ctx.symbolic("proportional", gold=gold_diff, pred=pred_diff)
        dg, dp = gl - gr, pl - pr
        if abs(complex(dp)) < 1e-12 or abs(complex(dg)) < 1e-12:
            if abs(complex(dp)) < 1e-12 and abs(complex(dg)) < 1e-12:
                continue
            return False
        ratios.append(dg / dp)
    if not ratios:
        return ctx.symbolic("proportional", gold=gold_diff, pred=pred_diff)
    return all(value_form.close(ratios[0], r, 1e-9) for r in ratios[1:])


def key(node: Node) -> str:
    from . import composite_key
    from . import key as form_key

    value = label_value(node)
    if value is not None:
        return f"eq=[{form_key(node.items[0])}|{form_key(value)}]"
    return composite_key(node)
