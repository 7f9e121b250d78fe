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

from .limits import MAX_EXPONENT, MAX_LITERAL_DIGITS


class Unsupported(ValueError):
    """Notation this evaluator does not read; the caller falls back to sympy."""


class TooLarge(ValueError):
    """The value would be astronomically large (power towers, huge factorials, huge literals)."""


_TOKEN_RE = re.compile(
    r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)|(\\[a-zA-Z]+|\\[^a-zA-Z])|([a-zA-Z])"
    r"|([-+*/^_!()\[\]{}|'.,&<>=]))"
)
FUNCTION_NAMES = frozenset("sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh ln log exp cis".split())
PIECEWISE_OPS = frozenset("floor ceil abs mod max min sgn".split())
# Names that stand for integers in answers (n, k, ...): sampled at integer points.
INTEGER_NAMES = frozenset("n m k j N M K".split())
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_GREEK = frozenset(
    """alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho
    sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega""".split()
)
_MUL_CMDS = {"\\cdot", "\\times", "\\ast"}
_RELATION_TOKENS = {"<", ">", "=", "\\le", "\\ge", "\\ne", "\\leq", "\\geq", "\\neq"}
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
            elif self._starts_primary(kind, val):
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

    def _starts_primary(self, kind: str, val: str) -> bool:
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
                self._mark_integers(exponent)  # (-1)^n: n counts something
            node = ("pow", node, exponent)
            node = self._factorials(node)
        return node

    def postfix(self) -> tuple:
        return self._factorials(self.primary())

    def _arguments(self) -> list[tuple]:
        """(a, b, ...) after \\max / \\min / \\gcd."""
        self.expect("(")
        args = [self.expr()]
        while self.peek()[1] == ",":
            self.take()
            args.append(self.expr())
        self.expect(")")
        return args

    def _mark_integers(self, node: tuple) -> None:
        if node[0] == "sym":
            self.integers.add(node[1])
        for child in node[1:]:
            if isinstance(child, tuple):
                self._mark_integers(child)

    def _factorials(self, node: tuple) -> tuple:
        while self.peek()[1] == "!":
            self._mark_integers(node)
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
            return self._symbol(val)
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

    def _symbol(self, name: str) -> tuple:
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
        if name == "frac":
            if self.peek()[1] == "{" and self.peek(1)[1] in ("d", "\\partial") and self.peek(2)[1] == "}":
                raise Unsupported("a derivative")  # \\frac{d}{dx} ...: sympy's job
            return ("div", self.argument(), self.argument())
        if name == "Gamma" and self.peek()[1] == "(":
            self.piecewise = True  # sampled at many points: Gamma has poles
            return ("gamma", self.primary())
        if name == "sqrt":
            if self.peek()[1] == "[":
                self.take()
                index = self.expr()
                self.expect("]")
                return ("pow", self.argument(), ("div", ("num", Fraction(1)), index))
            return ("sqrt", self.argument())
        if name == "binom":
            n, k = self.argument(), self.argument()
            self._mark_integers(n)
            self._mark_integers(k)
            return ("binom", n, k)
        if name in ("max", "min", "gcd", "lcm"):
            self.piecewise = True
            return (name, *self._arguments())
        if name == "sgn":
            self.piecewise = True
            return ("sgn", self.argument())
        if name == "pi":
            return ("pi",)
        if name in ("infty",):
            return ("inf",)
        if name in _GREEK:
            return self._symbol("\\" + name)
        if name == "mathbb":
            self.expect("{")
            letter = self.take()[1]
            self.expect("}")
            return self._symbol(f"\\mathbb{{{letter}}}")
        if name in ("text", "mathrm", "operatorname", "textrm"):
            self.expect("{")
            parts = []
            while self.peek()[1] != "}":
                parts.append(self.take()[1])
            self.take()
            word = "".join(parts)
            if len(word) == 1 and word.isalpha():
                return self._symbol(word)
            raise Unsupported(f"text {word!r}")
        if name == "begin":
            return self._environment()
        if name in ("sum", "prod"):
            return self._big_operator(name)
        if name in ("lfloor", "lceil"):
            node = self.expr()
            self.expect("\\rfloor" if name == "lfloor" else "\\rceil")
            self.piecewise = True
            return ("floor" if name == "lfloor" else "ceil", node)
        if name in FUNCTION_NAMES:
            return self._function(name)
        raise Unsupported(f"command \\{name}")

    def _big_operator(self, name: str) -> tuple:
        """``\\sum_{k=a}^{b} body`` with integer bounds at the sample point; the body is one term."""
        self.expect("_")
        self.expect("{")
        kind, var = self.take()
        if kind != "let":
            raise Unsupported("index of a sum")
        self.expect("=")
        had = var in self.symbols
        lo = self.expr()
        self.expect("}")
        self.expect("^")
        hi = self.argument()
        body = self.term()
        if not had:
            self.symbols.discard(var)  # the index is bound by the sum
        self._mark_integers(lo)
        self._mark_integers(hi)
        return (name, var, lo, hi, body)

    def _group_text(self) -> str:
        self.expect("{")
        parts = []
        while self.peek()[1] != "}":
            parts.append(self.take()[1])
        self.take()
        return "".join(parts)

    def _environment(self) -> tuple:
        """``\\begin{cases} a & x < 0 \\\\ b & \\text{otherwise} \\end{cases}``: a piecewise value."""
        if self._group_text() != "cases":
            raise Unsupported("environment")
        self.piecewise = True
        branches = []
        while True:
            value = self.expr()
            condition = None
            if self.peek()[1] == "&":
                self.take()
                condition = self._condition()
            branches.append((value, condition))
            if self.peek()[1] == "\\\\":
                self.take()
                if self.peek()[1] != "\\end":
                    continue
            self.expect("\\end")
            if self._group_text() != "cases":
                raise Unsupported("unclosed cases")
            return ("cases", tuple(branches))

    def _condition(self) -> tuple | None:
        """A branch condition: a relation chain, "if"/"for" before it, or "otherwise" (None)."""
        if self.peek()[1] in ("\\text", "\\mathrm", "\\textrm"):
            self.take()
            words = self._group_text().strip().lower()
            if words in ("otherwise", "else", "elsewhere"):
                return None
            if words not in ("if", "for", "when", "if,", "for,"):
                raise Unsupported(f"condition {words!r}")
        sides = [self.expr()]
        ops = []
        while self.peek()[1] in _RELATION_TOKENS:
            op = self.take()[1]
            if op in ("<", ">") and self.peek()[1] == "=":
                self.take()
                op = {"<": "\\le", ">": "\\ge"}[op]
            ops.append(op)
            sides.append(self.expr())
        if not ops:
            raise Unsupported("a branch without a condition")
        return ("rel", tuple(sides), tuple(ops))

    def _function(self, name: str) -> tuple:
        base = None
        power = None
        if name == "log" and self.peek()[1] == "_":
            self.take()
            base = self.argument()
        if self.peek()[1] == "^":
            self.take()
            power = self.argument()
            if power == ("neg", ("num", Fraction(1))) and name in _INVERSE:
                name, power = _INVERSE[name], None
        kind, val = self.peek()
        if val in ("(", "{", "["):
            arg = self.primary()
        else:
            # "\sin 2x^2" is sin(2x^2): the argument is the run of factors up to an operator.
            arg = self.power()
            while True:
                kind, val = self.peek()
                if kind in ("num", "let") or (
                    kind == "cmd" and val[1:] not in FUNCTION_NAMES and self._starts_primary(kind, val)
                ):
                    arg = ("mul", arg, self.power())
                else:
                    break
        node: tuple = ("fn", name, arg)
        if base is not None:
            node = ("div", node, ("fn", "ln", base))
        if power is not None:
            node = ("pow", node, power)
        return node
