"""A small, bounded LaTeX arithmetic evaluator: the in-process fast path before sympy.

Together with expr_parser it reads the notation final answers use (numbers, ``\\frac``,
``\\sqrt``, powers, ``\\pi``, ``i``, trig/log functions, implicit products, single-letter
variables) and evaluates exactly with `Fraction` while it can, falling back to complex floats.
Expressions with variables are evaluated at fixed rational points, which decides most algebraic
identities in microseconds. Anything it does not understand raises `Unsupported` and goes to
sympy in the worker process. Sizes are capped so that ``2^{2^{2^{100}}}`` or ``1000!!!`` raise
`TooLarge` instead of running for ever.
"""

from __future__ import annotations

import cmath
import math
import zlib
from fractions import Fraction

from .expr_parser import FUNCTION_NAMES, Expr, Unsupported, parse_expression

Value = Fraction | complex

MAX_BITS = 20_000  # exact integers beyond ~6000 digits are not final answers
N_POINTS = 3


class TooLarge(ValueError):
    """The value would be astronomically large (power towers, huge factorials)."""


class Undefined(ValueError):
    """Division by zero or a domain error at a sample point."""


__all__ = [
    "N_POINTS",
    "NEGATIVE_POINT",
    "Expr",
    "TooLarge",
    "Undefined",
    "Unsupported",
    "Value",
    "evaluate",
    "parse_expression",
    "sample_point",
]


_FUNCS = {  # keys must be FUNCTION_NAMES, the names the parser accepts
    "sin": cmath.sin,
    "cos": cmath.cos,
    "tan": cmath.tan,
    "cot": lambda z: 1 / cmath.tan(z),
    "sec": lambda z: 1 / cmath.cos(z),
    "csc": lambda z: 1 / cmath.sin(z),
    "arcsin": cmath.asin,
    "arccos": cmath.acos,
    "arctan": cmath.atan,
    "sinh": cmath.sinh,
    "cosh": cmath.cosh,
    "tanh": cmath.tanh,
    "ln": cmath.log,
    "log": cmath.log,
    "exp": cmath.exp,
}

assert set(_FUNCS) == FUNCTION_NAMES
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
        if not (isinstance(k, Fraction) and k.denominator == 1 and 0 <= k <= 1000):
            raise Unsupported("binomial with a non-integer lower index")
        if isinstance(n, Fraction) and n.denominator == 1 and n >= 0:
            if n > 100_000:
                raise TooLarge("binomial too large")
            return Fraction(math.comb(int(n), int(k)))
        # n(n-1)...(n-k+1)/k! also covers a variable n at a sample point.
        result: Value = Fraction(1)
        for j in range(int(k)):
            result = _check(result * (n - j) if isinstance(n, Fraction) else _c(result) * (n - j))
        return _check(result / math.factorial(int(k)))
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
