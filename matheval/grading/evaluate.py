"""A small, bounded LaTeX arithmetic parser and evaluator: the in-process fast path before sympy.

It reads the notation final answers use (numbers, ``\\frac``, ``\\sqrt``, powers, ``\\pi``,
``i``, trig/log functions, implicit products, single-letter variables) and evaluates exactly with
`Fraction` while it can, falling back to complex floats. Expressions with variables are evaluated
at fixed rational points, which decides most algebraic identities in microseconds. Anything it
does not understand raises `Unsupported` and goes to sympy in the worker process. Sizes are
capped so that ``2^{2^{2^{100}}}`` or ``1000!!!`` raise `TooLarge` instead of running for ever.
"""

from __future__ import annotations

import cmath
import math
import re
import zlib
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

Value = Fraction | complex

MAX_BITS = 20_000  # exact integers beyond ~6000 digits are not final answers
N_POINTS = 3


class Unsupported(ValueError):
    """Notation this evaluator does not read; the caller falls back to sympy."""


class TooLarge(ValueError):
    """The value would be astronomically large (power towers, huge factorials)."""


class Undefined(ValueError):
    """Division by zero or a domain error at a sample point."""


_TOKEN_RE = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)|(\\[a-zA-Z]+|\\[^a-zA-Z])|([a-zA-Z])|([-+*/^_!()\[\]{}|'.]))")

_FUNCS = {
    "sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z), "csc": lambda z: 1 / cmath.sin(z),
    "arcsin": cmath.asin, "arccos": cmath.acos, "arctan": cmath.atan,
    "sinh": cmath.sinh, "cosh": cmath.cosh, "tanh": cmath.tanh,
    "ln": cmath.log, "log": cmath.log, "exp": cmath.exp,
}
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
    "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
    "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
}
_MUL_CMDS = {"\\cdot", "\\times", "\\ast"}


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the tree, its free variables, and whether a decimal literal occurs."""

    tree: tuple
    symbols: frozenset[str]
    has_decimal: bool


@lru_cache(maxsize=8192)
def parse_expression(text: str) -> Expr:
    """Parse `text` (already normalised) or raise Unsupported."""
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    tree = parser.expr()
    if parser.i != len(parser.toks):
        raise Unsupported(f"unexpected {parser.toks[parser.i][1]!r}")
    return Expr(tree, frozenset(parser.symbols), parser.decimal)


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:
            raise Unsupported(f"cannot read {text[pos:pos + 10]!r}")
        kind = ("num", "cmd", "let", "op")[m.lastindex - 1]
        tokens.append((kind, m.group(m.lastindex)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]) -> None:
        self.toks = toks
        self.i = 0
        self.symbols: set[str] = set()
        self.decimal = False

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
        return kind == "cmd" and val not in _MUL_CMDS and val not in ("\\div", "\\right", "\\rfloor", "\\rceil")

    def power(self) -> tuple:
        node = self.postfix()
        while self.peek()[1] == "^":
            self.take()
            if self.peek()[1] == "\\circ":
                self.take()
                node = ("mul", node, ("div", ("pi",), ("num", Fraction(180))))
                continue
            node = ("pow", node, self.argument())
            node = self._factorials(node)
        return node

    def postfix(self) -> tuple:
        return self._factorials(self.primary())

    def _factorials(self, node: tuple) -> tuple:
        while self.peek()[1] == "!":
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
            number = ("num", Fraction(val))
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
            return ("div", self.argument(), self.argument())
        if name == "sqrt":
            if self.peek()[1] == "[":
                self.take()
                index = self.expr()
                self.expect("]")
                return ("pow", self.argument(), ("div", ("num", Fraction(1)), index))
            return ("sqrt", self.argument())
        if name == "binom":
            return ("binom", self.argument(), self.argument())
        if name == "pi":
            return ("pi",)
        if name in ("infty",):
            return ("inf",)
        if name in _GREEK:
            return self._symbol("\\" + name)
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
        if name in ("lfloor", "lceil"):
            node = self.expr()
            self.expect("\\rfloor" if name == "lfloor" else "\\rceil")
            return ("floor" if name == "lfloor" else "ceil", node)
        if name in _FUNCS:
            return self._function(name)
        raise Unsupported(f"command \\{name}")

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
                if kind in ("num", "let") or (kind == "cmd" and val[1:] not in _FUNCS and self._starts_primary(kind, val)):
                    arg = ("mul", arg, self.power())
                else:
                    break
        node: tuple = ("fn", name, arg)
        if base is not None:
            node = ("div", node, ("fn", "ln", base))
        if power is not None:
            node = ("pow", node, power)
        return node


# --- evaluation ------------------------------------------------------------------------------


NEGATIVE_POINT = N_POINTS  # one more sample with every variable negative: tells |x| from x


def sample_point(name: str, index: int) -> Fraction:
    """The value variable `name` takes at sample `index`: rational, in (0.3, 3), same in every process.

    Index NEGATIVE_POINT gives a negative value, used only where both sides are real there.
    """
    h = zlib.crc32(name.encode())
    value = Fraction(40 + (h + 37 * index) % 97, 53 + 7 * index)
    return -value if index == NEGATIVE_POINT else value


def evaluate(expr: Expr, index: int = 0) -> Value:
    """Value of `expr` with each variable at its `index`-th sample point."""
    env = {name: sample_point(name, index) for name in expr.symbols}
    try:
        return _eval(expr.tree, env)
    except (ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, (Unsupported, TooLarge, Undefined)):
            raise
        raise Undefined(str(exc)) from exc
    except OverflowError as exc:
        raise TooLarge(str(exc)) from exc


def _c(v: Value) -> complex:
    return complex(float(v)) if isinstance(v, Fraction) else v


def _check(v: Value) -> Value:
    if isinstance(v, Fraction):
        if v.numerator.bit_length() > MAX_BITS or v.denominator.bit_length() > MAX_BITS:
            raise TooLarge("exact value too large")
        return v
    if not (cmath.isfinite(v)):
        raise TooLarge("value overflows")
    return v


def _eval(node: tuple, env: dict[str, Fraction]) -> Value:
    op = node[0]
    if op == "num":
        return node[1]
    if op == "sym":
        return env[node[1]]
    if op == "pi":
        return complex(math.pi)
    if op == "e":
        return complex(math.e)
    if op == "i":
        return 1j
    if op == "inf":
        raise Unsupported("infinity is not a value")
    if op == "neg":
        return -_eval(node[1], env)
    if op in ("add", "sub", "mul", "div"):
        a, b = _eval(node[1], env), _eval(node[2], env)
        if not (isinstance(a, Fraction) and isinstance(b, Fraction)):
            a, b = _c(a), _c(b)
        if op == "add":
            return _check(a + b)
        if op == "sub":
            return _check(a - b)
        if op == "mul":
            return _check(a * b)
        return _check(a / b)
    if op == "pow":
        return _power(_eval(node[1], env), _eval(node[2], env))
    if op == "sqrt":
        return _sqrt(_eval(node[1], env))
    if op in ("fact", "fact2"):
        n = _eval(node[1], env)
        if not isinstance(n, Fraction) or n.denominator != 1 or n < 0:
            raise Unsupported("factorial of a non-integer")
        if n > 2000:
            raise TooLarge("factorial too large")
        k = int(n)
        return _check(Fraction(math.factorial(k) if op == "fact" else math.prod(range(k, 0, -2))))
    if op == "binom":
        n, k = _eval(node[1], env), _eval(node[2], env)
        if not all(isinstance(v, Fraction) and v.denominator == 1 for v in (n, k)) or n > 10_000:
            raise Unsupported("binomial of non-integers")
        return Fraction(math.comb(int(n), int(k))) if 0 <= k <= n else Fraction(0)
    if op == "abs":
        v = _eval(node[1], env)
        return abs(v) if isinstance(v, Fraction) else complex(abs(v))
    if op in ("floor", "ceil"):
        v = _eval(node[1], env)
        if not isinstance(v, Fraction):
            if abs(v.imag) > 1e-12:
                raise Undefined("floor of a complex number")
            v = v.real
        return Fraction(math.floor(v) if op == "floor" else math.ceil(v))
    if op == "fn":
        arg = _c(_eval(node[2], env))
        if abs(arg) > 1e6:
            raise TooLarge("function argument too large")
        return _check(_FUNCS[node[1]](arg))
    raise Unsupported(f"node {op}")


def _power(base: Value, exp: Value) -> Value:
    if isinstance(base, Fraction) and isinstance(exp, Fraction) and exp.denominator == 1:
        e = int(exp)
        if base in (0, 1) or (base == -1):
            if base == 0 and e < 0:
                raise Undefined("0 to a negative power")
            return base**e
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if bits * abs(e) > MAX_BITS:
            raise TooLarge("power too large")
        return base**e
    b, x = _c(base), _c(exp)
    if abs(x) > 1e4 or (abs(b) > 1 and abs(x) * math.log2(abs(b)) > 4000):
        raise TooLarge("power too large")
    if b == 0:
        if x.real > 0:
            return complex(0)
        raise Undefined("0 to a non-positive power")
    return _check(b**x)


def _sqrt(v: Value) -> Value:
    if isinstance(v, Fraction) and v >= 0:
        rn, rd = math.isqrt(v.numerator), math.isqrt(v.denominator)
        if rn * rn == v.numerator and rd * rd == v.denominator:
            return Fraction(rn, rd)
    return cmath.sqrt(_c(v))
