"""Tokenizer and recursive-descent parser for the LaTeX of final answers (see evaluate.py).

The tree is plain tuples, e.g. ("add", ("num", Fraction(1)), ("sym", "x")). Only notation the
evaluator can compute is accepted; anything else raises Unsupported, and the caller hands the
string to sympy instead. A number literal too long to be an exact answer raises TooLarge before
any integer is built (a 5000-digit string, ``1e100000000``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .expr_commands import _RELATION_TOKENS, FUNCTION_NAMES, TooLarge, Unsupported, command
from .limits import MAX_EXPONENT, MAX_LITERAL_DIGITS

__all__ = ["FUNCTION_NAMES", "INTEGER_NAMES", "Expr", "TooLarge", "Unsupported", "number_literal", "parse_expression"]


_TOKEN_RE = re.compile(
    r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(\\[a-zA-Z]+|\\[^a-zA-Z])|([a-zA-Z])"
    r"|([-+*/^_!()\[\]{}|'.,&<>=]))"
)
PIECEWISE_OPS = frozenset("floor ceil abs mod max min sgn".split())
# Names that stand for integers in answers (n, k, ...): sampled at integer points.
INTEGER_NAMES = frozenset("n m k j N M K".split())
_MUL_CMDS = {"\\cdot", "\\times", "\\ast"}
_NOT_PRIMARY = {
    "\\end", "\\\\", *_RELATION_TOKENS, "\\div", "\\right", "\\rfloor", "\\rceil", "\\bmod", "\\mod", "\\pmod"
}


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the tree, its free variables, and facts the comparison needs.

    `piecewise`: floor, ceil, |.|, mod, max, min or sign occurs (sampled at many points);
    `integers`: variables that must be integers (named n, k, ... or under a factorial/binomial).
    """

    tree: tuple
    symbols: frozenset[str]
    has_decimal: bool
    piecewise: bool = False
    integers: frozenset[str] = frozenset()


@lru_cache(maxsize=8192)
def parse_expression(text: str) -> Expr:
    """Parse `text` (already normalised) or raise Unsupported."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.i != len(parser.toks):
        raise Unsupported(f"unexpected {parser.toks[parser.i][1]!r}")
    symbols = frozenset(parser.symbols)
    integers = frozenset(v for v in symbols if v.split("_")[0] in INTEGER_NAMES) | frozenset(parser.integers)
    return Expr(tree, symbols, parser.decimal, parser.piecewise, integers & symbols)


def number_literal(val: str) -> Fraction:
    """Fraction of a decimal literal, refusing sizes no final answer has (before any big int exists)."""
    mantissa, _, exponent = val.lower().partition("e")
    if len(mantissa) > MAX_LITERAL_DIGITS:
        raise TooLarge(f"a {len(mantissa)}-digit number")
    if exponent and abs(int(exponent[:8])) > MAX_EXPONENT:
        raise TooLarge(f"exponent {exponent[:12]}")
    return Fraction(val)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos : pos + 10]!r}")
        kind = ("num", "cmd", "let", "op")[m.lastindex - 1]
        tokens.append((kind, m.group(m.lastindex)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0
        self.symbols: set[str] = set()
        self.integers: set[str] = set()
        self.decimal = False
        self.piecewise = False

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("end", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end":
            raise Unsupported("unexpected end")
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise Unsupported(f"expected {value!r}")

    def expr(self) -> tuple:
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = ("add" if op == "+" else "sub", node, self.term())
        return node

    def term(self) -> tuple:
        node = self.unary()
        while True:
            kind, val = self.peek()
            if val == "*" or val in _MUL_CMDS:
                self.take()
                node = ("mul", node, self.unary())
            elif val == "/" or val == "\\div":
                self.take()
                node = ("div", node, self.unary())
            elif val in ("\\bmod", "\\mod", "\\pmod"):
                self.take()
                self.piecewise = True
                node = ("mod", node, self.argument() if val == "\\pmod" else self.unary())
            elif self.starts_primary(kind, val):
                node = ("mul", node, self.power())
            else:
                return node

    def unary(self) -> tuple:
        if self.peek()[1] == "-":
            self.take()
            return ("neg", self.unary())
        if self.peek()[1] == "+":
            self.take()
            return self.unary()
        return self.power()

    def starts_primary(self, kind: str, val: str) -> bool:
        if kind in ("num", "let"):
            return True
        if kind == "op":
            return val in ("(", "{", "[")
        return kind == "cmd" and val not in _MUL_CMDS and val not in _NOT_PRIMARY

    def power(self) -> tuple:
        node = self.postfix()
        while self.peek()[1] == "^":
            self.take()
            if self.peek()[1] == "\\circ":
                self.take()
                node = ("mul", node, ("div", ("pi",), ("num", Fraction(180))))
                continue
            exponent = self.argument()
            if node in (("num", Fraction(-1)), ("neg", ("num", Fraction(1)))):
                self.mark_integers(exponent)  # (-1)^n: n counts something
            node = ("pow", node, exponent)
            node = self._factorials(node)
        return node

    def postfix(self) -> tuple:
        return self._factorials(self.primary())

    def arguments(self) -> list[tuple]:
        """(a, b, ...) after \\max / \\min / \\gcd."""
        self.expect("(")
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.expect(")")
        return args

    def mark_integers(self, node: tuple) -> None:
        if node[0] == "sym":
            self.integers.add(node[1])
        for child in node[1:]:
            if isinstance(child, tuple):
                self.mark_integers(child)

    def _factorials(self, node: tuple) -> tuple:
        while self.peek()[1] == "!":
            self.mark_integers(node)
            self.take()
            if self.peek()[1] == "!":
                self.take()
                node = ("fact2", node)
            else:
                node = ("fact", node)
        return node

    def argument(self) -> tuple:
        """A braced group, or the single token LaTeX takes as an argument (``^23`` is ``^2`` then 3)."""
        kind, val = self.peek()
        if val == "{":
            self.take()
            node = self.expr()
            self.expect("}")
            return node
        if kind == "num" and len(val) > 1:
            self.toks[self.i] = ("num", val[1:])
            return ("num", Fraction(val[0]))
        if val == "-":
            self.take()
            return ("neg", self.argument())
        return self.primary()

    def primary(self) -> tuple:
        kind, val = self.take()
        if kind == "num":
            if self.peek()[1] == "_":
                raise Unsupported("base subscript")
            if "." in val:
                self.decimal = True
            number = ("num", number_literal(val))
            if val.isdigit() and self.peek()[1] == "\\frac":
                return self._mixed(number)
            return number
        if kind == "let":
            return self.symbol(val)
        if val in ("(", "[", "{"):
            node = self.expr()
            self.expect({"(": ")", "[": "]", "{": "}"}[val])
            return node
        if val == "|":
            node = self.expr()
            self.expect("|")
            self.piecewise = True
            return ("abs", node)
        if kind == "cmd":
            return self._command(val[1:])
        raise Unsupported(f"unexpected {val!r}")

    def _mixed(self, whole: tuple) -> tuple:
        """``3\\frac{1}{2}`` is three and a half when both parts are plain integers (MATH style)."""
        start = self.i
        self.take()
        num, den = self.argument(), self.argument()
        if num[0] == "num" and den[0] == "num" and num[1].denominator == 1 == den[1].denominator:
            return ("add", whole, ("div", num, den))
        self.i = start
        return whole

    def symbol(self, name: str) -> tuple:
        if self.peek()[1] == "_":
            self.take()
            sub = self.take()
            if sub[1] == "{":
                parts = []
                while self.peek()[1] != "}":
                    parts.append(self.take()[1])
                self.take()
                sub = ("", "".join(parts))
            name = f"{name}_{sub[1]}"
        elif name == "i":
            return ("i",)
        elif name == "e":
            return ("e",)
        self.symbols.add(name)
        return ("sym", name)

    def _command(self, name: str) -> tuple:
        return command(self, name)
