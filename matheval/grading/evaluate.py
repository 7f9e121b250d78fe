"""A small, bounded LaTeX arithmetic evaluator: the in-process fast path before sympy.

Together with expr_parser it reads the notation final answers use (numbers, ``\\frac``,
``\\sqrt``, powers, ``\\pi``, ``i``, trig/log functions, floor/ceil/abs/mod/max/min, implicit
products, single-letter variables) and evaluates exactly with `Fraction` while it can, falling
back to complex floats. Identities with variables are checked at sample points (`sample_env`):
a few points of varied size for smooth expressions, many for piecewise ones, integer points for
integer variables. Anything it does not understand raises `Unsupported` and goes to sympy in the
worker process; sizes are capped so ``2^{2^{2^{100}}}`` raises `TooLarge` instead of running.
"""

from __future__ import annotations

import cmath
import math
import zlib
from fractions import Fraction

from .expr_parser import FUNCTION_NAMES, Expr, TooLarge, Unsupported, parse_expression
from .limits import MAX_BITS, MAX_FACTORIAL, MAX_FUNCTION_ARG, MAX_SUM_TERMS, PIECEWISE_POINTS, SMOOTH_POINTS

Value = Fraction | complex


class Undefined(ValueError):
    """Division by zero or a domain error at a sample point."""


__all__ = [
    "Expr",
    "TooLarge",
    "Undefined",
    "Unsupported",
    "Value",
    "evaluate",
    "parse_expression",
    "sample_env",
    "sample_count",
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
    "cis": lambda z: cmath.exp(1j * z),
}
assert set(_FUNCS) == FUNCTION_NAMES

# Sample points. Smooth expressions: rationals of different sizes (no two polynomials that differ
# agree at them by accident) and one negative point, which tells |x| from x. Piecewise ones agree
# on small integers by accident (floor(log2 n) and floor(n/2) for n = 1..5), so they get small and
# large integers, halves, and negatives. Integer variables only ever take integer values.
_SMOOTH_REAL = ((40, 53, 97), (157, 41, 61), (29, 211, 53), (613, 17, 89))
_SMOOTH_INT = (3, 7, 12, 19)
_PIECEWISE_REAL = (
    "0 1 2 3 4 5 1/2 3/2 5/2 7/3 13/4 29/5 6 7 8 10 17/2 12 25 100 -1/2 -1 -5/2 -4"
).split()
_PIECEWISE_INT = "0 1 2 3 4 5 6 7 8 9 10 11 12 13 15 16 17 24 31 64 100 -1 -2 -7".split()
assert len(_PIECEWISE_REAL) == len(_PIECEWISE_INT) == PIECEWISE_POINTS
assert len(_SMOOTH_REAL) == len(_SMOOTH_INT) == SMOOTH_POINTS - 1


def sample_count(piecewise: bool) -> int:
    return PIECEWISE_POINTS if piecewise else SMOOTH_POINTS


def is_negative_point(index: int, piecewise: bool) -> bool:
    """The points where a real-domain expression (log, sqrt) may leave the reals: says nothing there."""
    return index == SMOOTH_POINTS - 1 if not piecewise else _PIECEWISE_INT[index].startswith("-")


def sample_env(names: frozenset[str], integers: frozenset[str], index: int, piecewise: bool) -> dict[str, Fraction]:
    """The value of each variable at sample `index`: rational, the same in every process.

    Each variable gets its own offset (a crc32 of its name), so x and y never coincide and
    x - y is never judged to be 0.
    """
    env = {}
    for name in names:
        h = zlib.crc32(name.encode())
        if piecewise:
            table = _PIECEWISE_INT if name in integers else _PIECEWISE_REAL
            value = Fraction(table[(index + h) % PIECEWISE_POINTS])
            # Keep the sign pattern of the index (negative points stay negative) but shift magnitude.
            value += (h % 3) if value >= 0 else -(h % 3)
        elif index == SMOOTH_POINTS - 1:
            value = -Fraction(40 + h % 97, 53) if name not in integers else Fraction(-(2 + h % 5))
        elif name in integers:
            value = Fraction(_SMOOTH_INT[index] + h % 5)
        else:
            a, b, c = _SMOOTH_REAL[index]
            value = Fraction(a + h % c, b)
        env[name] = value
    return env


def evaluate(expr: Expr, env: dict[str, Fraction] | None = None) -> Value:
    """Value of `expr` with its variables taken from `env` (constants need none)."""
    try:
        return _eval(expr.tree, env or {})
    except (ZeroDivisionError, ValueError) as exc:
        if isinstance(exc, (Unsupported, TooLarge, Undefined)):
            raise
        raise Undefined(str(exc)) from exc
    except OverflowError as exc:
        raise TooLarge(str(exc)) from exc
    except KeyError as exc:
        raise Unsupported(f"no value for {exc}") from exc


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


def _real(v: Value, what: str) -> Fraction | float:
    if isinstance(v, Fraction):
        return v
    if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)):
        raise Undefined(f"{what} of a complex number")
    return v.real


def _integer(v: Value, what: str) -> int:
    r = _real(v, what)
    if isinstance(r, float):
        if abs(r - round(r)) > 1e-9:
            raise Undefined(f"{what} of a non-integer")
        r = Fraction(round(r))
    if r.denominator != 1:
        raise Undefined(f"{what} of a non-integer")
    return int(r)


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
        if isinstance(n, Fraction) and n.denominator == 1 and n < 0:
            raise Undefined("factorial of a negative integer")
        if not isinstance(n, Fraction) or n.denominator != 1:
            raise Unsupported("factorial of a non-integer")
        if n > MAX_FACTORIAL:
            raise TooLarge("factorial too large")
        k = int(n)
        return _check(Fraction(math.factorial(k) if op == "fact" else math.prod(range(k, 0, -2))))
    if op == "binom":
        return _binom(_eval(node[1], env), _eval(node[2], env))
    if op == "abs":
        v = _eval(node[1], env)
        return abs(v) if isinstance(v, Fraction) else complex(abs(v))
    if op in ("floor", "ceil"):
        v = _real(_eval(node[1], env), op)
        return Fraction(math.floor(v) if op == "floor" else math.ceil(v))
    if op == "mod":
        a, m = _real(_eval(node[1], env), "mod"), _real(_eval(node[2], env), "mod")
        if m == 0:
            raise Undefined("mod 0")
        return Fraction(a % m) if isinstance(a, Fraction) and isinstance(m, Fraction) else complex(a % m)
    if op in ("max", "min"):
        values = [_real(_eval(arg, env), op) for arg in node[1:]]
        best = max(values) if op == "max" else min(values)
        return best if isinstance(best, Fraction) else complex(best)
    if op in ("gcd", "lcm"):
        ints = [_integer(_eval(arg, env), op) for arg in node[1:]]
        return Fraction(math.gcd(*ints) if op == "gcd" else math.lcm(*ints))
    if op == "gamma":
        v = _real(_eval(node[1], env), "Gamma")
        if isinstance(v, Fraction) and v.denominator == 1 and v > 0:
            if v > MAX_FACTORIAL:
                raise TooLarge("Gamma too large")
            return Fraction(math.factorial(int(v) - 1))
        return complex(math.gamma(float(v)))
    if op in ("sum", "prod"):
        lo, hi = _integer(_eval(node[2], env), op), _integer(_eval(node[3], env), op)
        if hi - lo > MAX_SUM_TERMS:
            raise Unsupported("too many terms to add here")  # sympy may know a closed form
        if hi < lo - 1:
            raise Undefined("a sum with its bounds reversed")  # n < 0 in a formula for n >= 0
        total: Value = Fraction(0 if op == "sum" else 1)
        inner = dict(env)
        for k in range(lo, hi + 1):
            inner[node[1]] = Fraction(k)
            term = _eval(node[4], inner)
            both = isinstance(total, Fraction) and isinstance(term, Fraction)
            total = _check((total + term if op == "sum" else total * term) if both else
                           (_c(total) + _c(term) if op == "sum" else _c(total) * _c(term)))
        return total
    if op == "cases":
        for value, condition in node[1]:
            if condition is None or _holds(condition, env):
                return _eval(value, env)
        raise Undefined("no branch of the cases applies")
    if op == "sgn":
        v = _real(_eval(node[1], env), "sgn")
        return Fraction((v > 0) - (v < 0))
    if op == "fn":
        arg = _c(_eval(node[2], env))
        if abs(arg) > MAX_FUNCTION_ARG:
            raise TooLarge("function argument too large")
        return _check(_FUNCS[node[1]](arg))
    raise Unsupported(f"node {op}")


_COMPARE = {
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "=": lambda a, b: a == b,
    "\\le": lambda a, b: a <= b,
    "\\leq": lambda a, b: a <= b,
    "\\ge": lambda a, b: a >= b,
    "\\geq": lambda a, b: a >= b,
    "\\ne": lambda a, b: a != b,
    "\\neq": lambda a, b: a != b,
}


def _holds(condition: tuple, env: dict[str, Fraction]) -> bool:
    _, sides, ops = condition
    values = [_real(_eval(side, env), "condition") for side in sides]
    return all(_COMPARE[op](a, b) for op, a, b in zip(ops, values, values[1:], strict=False))


def _binom(n: Value, k: Value) -> Value:
    if isinstance(n, Fraction) and n.denominator == 1 and n < 0:
        raise Undefined("choosing from a negative number of items")  # outside the identity's domain
    if not (isinstance(k, Fraction) and k.denominator == 1 and 0 <= k <= 1000):
        if isinstance(k, Fraction) and k.denominator == 1 and k < 0:
            return Fraction(0)
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
    if isinstance(base, Fraction) and base < 0 and isinstance(exp, Fraction) and exp.denominator % 2 == 1:
        # (-8)^{1/3} = -2: an odd root of a negative real is the real root, as answers mean it.
        return _check(-complex(abs(float(base)) ** float(exp)) * (1 if exp.numerator % 2 else -1))
    return _check(b**x)


def _sqrt(v: Value) -> Value:
    if isinstance(v, Fraction) and v >= 0:
        rn, rd = math.isqrt(v.numerator), math.isqrt(v.denominator)
        if rn * rn == v.numerator and rd * rd == v.denominator:
            return Fraction(rn, rd)
    return cmath.sqrt(_c(v))
