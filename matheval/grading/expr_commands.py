"""The LaTeX commands of the answer parser (fractions, roots, functions, cases, sums) and its errors.

Each function takes the parser (expr_parser._Parser) positioned after the command's name and
returns a tree node; a command it does not know raises Unsupported, so sympy gets the string.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any


class Unsupported(ValueError):
    """Notation this evaluator does not read; the caller falls back to sympy."""


class TooLarge(ValueError):
    """The value would be astronomically large (power towers, huge factorials, huge literals)."""


FUNCTION_NAMES = frozenset("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh ln log exp cis".split())
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_GREEK = frozenset(
    """alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega""".split()
)
_RELATION_TOKENS = {"<", ">", "=", "\\le", "\\ge", "\\ne", "\\leq", "\\geq", "\\neq"}


def command(p: Any, name: str) -> tuple:
    if name == "frac":
        if p.peek()[1] == "{" and p.peek(1)[1] in ("d", "\\partial") and p.peek(2)[1] == "}":
            raise Unsupported("a derivative")  # \\frac{d}{dx} ...: sympy's job
        return ("div", p.argument(), p.argument())
    if name == "Gamma" and p.peek()[1] == "(":
        p.piecewise = True  # sampled at many points: Gamma has poles
        return ("gamma", p.primary())
    if name == "sqrt":
        if p.peek()[1] == "[":
            p.take()
            index = p.expr()
            p.expect("]")
            return ("pow", p.argument(), ("div", ("num", Fraction(1)), index))
        return ("sqrt", p.argument())
    if name == "binom":
        n, k = p.argument(), p.argument()
        p.mark_integers(n)
        p.mark_integers(k)
        return ("binom", n, k)
    if name in ("max", "min", "gcd", "lcm"):
        p.piecewise = True
        return (name, *p.arguments())
    if name == "sgn":
        p.piecewise = True
        return ("sgn", p.argument())
    if name == "pi":
        return ("pi",)
    if name in ("infty",):
        return ("inf",)
    if name in _GREEK:
        return p.symbol("\\" + name)
    if name == "mathbb":
        p.expect("{")
        letter = p.take()[1]
        p.expect("}")
        return p.symbol(f"\\mathbb{{{letter}}}")
    if name in ("text", "mathrm", "operatorname", "textrm"):
        p.expect("{")
        parts = []
        while p.peek()[1] != "}":
            parts.append(p.take()[1])
        p.take()
        word = "".join(parts)
        if len(word) == 1 and word.isalpha():
            return p.symbol(word)
        raise Unsupported(f"text {word!r}")
    if name == "begin":
        return environment(p)
    if name in ("sum", "prod"):
        return big_operator(p, name)
    if name in ("lfloor", "lceil"):
        node = p.expr()
        p.expect("\\rfloor" if name == "lfloor" else "\\rceil")
        p.piecewise = True
        return ("floor" if name == "lfloor" else "ceil", node)
    if name in FUNCTION_NAMES:
        return function(p, name)
    raise Unsupported(f"command \\{name}")


def big_operator(p: Any, name: str) -> tuple:
    """``\\sum_{k=a}^{b} body`` with integer bounds at the sample point; the body is one term."""
    p.expect("_")
    p.expect("{")
    kind, var = p.take()
    if kind != "let":
        raise Unsupported("index of a sum")
    p.expect("=")
    had = var in p.symbols
    lo = p.expr()
    p.expect("}")
    p.expect("^")
    hi = p.argument()
    body = p.term()
    if not had:
        p.symbols.discard(var)  # the index is bound by the sum
    p.mark_integers(lo)
    p.mark_integers(hi)
    return (name, var, lo, hi, body)


def group_text(p: Any) -> str:
    p.expect("{")
    parts = []
    while p.peek()[1] != "}":
        parts.append(p.take()[1])
    p.take()
    return "".join(parts)


def environment(p: Any) -> tuple:
    """``\\begin{cases} a & x < 0 \\\\ b & \\text{otherwise} \\end{cases}``: a piecewise value."""
    if group_text(p) != "cases":
        raise Unsupported("environment")
    p.piecewise = True
    branches = []
    while True:
        value = p.expr()
        when = None
        if p.peek()[1] == "&":
            p.take()
            when = condition(p)
        branches.append((value, when))
        if p.peek()[1] == "\\\\":
            p.take()
            if p.peek()[1] != "\\end":
                continue
        p.expect("\\end")
        if group_text(p) != "cases":
            raise Unsupported("unclosed cases")
        return ("cases", tuple(branches))


def condition(p: Any) -> tuple | None:
    """A branch condition: a relation chain, "if"/"for" before it, or "otherwise" (None)."""
    if p.peek()[1] in ("\\text", "\\mathrm", "\\textrm"):
        p.take()
        words = group_text(p).strip().lower()
        if words in ("otherwise", "else", "elsewhere"):
            return None
        if words not in ("if", "for", "when", "if,", "for,"):
            raise Unsupported(f"condition {words!r}")
    sides = [p.expr()]
    ops = []
    while p.peek()[1] in _RELATION_TOKENS:
        op = p.take()[1]
        if op in ("<", ">") and p.peek()[1] == "=":
            p.take()
            op = {"<": "\\le", ">": "\\ge"}[op]
        ops.append(op)
        sides.append(p.expr())
    if not ops:
        raise Unsupported("a branch without a condition")
    return ("rel", tuple(sides), tuple(ops))


def function(p: Any, name: str) -> tuple:
    base = None
    power = None
    if name == "log" and p.peek()[1] == "_":
        p.take()
        base = p.argument()
    if p.peek()[1] == "^":
        p.take()
        power = p.argument()
        if power == ("neg", ("num", Fraction(1))) and name in _INVERSE:
            name, power = _INVERSE[name], None
    kind, val = p.peek()
    if val in ("(", "{", "["):
        arg = p.primary()
    else:
        # "\sin 2x^2" is sin(2x^2): the argument is the run of factors up to an operator.
        arg = p.power()
        while True:
            kind, val = p.peek()
            if kind in ("num", "let") or (
                kind == "cmd" and val[1:] not in FUNCTION_NAMES and p.starts_primary(kind, val)
            ):
                arg = ("mul", arg, p.power())
            else:
                break
    node: tuple = ("fn", name, arg)
    if base is not None:
        node = ("div", node, ("fn", "ln", base))
    if power is not None:
        node = ("pow", node, power)
    return node
