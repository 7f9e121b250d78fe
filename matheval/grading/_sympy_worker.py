"""The sympy side of the grader, run as a separate process (see worker.py) so it can be killed.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout. The first line
written is {"ready": true}. This file imports nothing from matheval, so it starts the same way
whatever the parent's sys.path is.

LaTeX reaches sympy only through latex2sympy2_extended (an ANTLR parser building sympy objects);
no string is ever handed to `eval` or `sympify`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from functools import lru_cache
from typing import Any

MEMORY_LIMIT = 2 << 30  # a runaway power makes MemoryError here, not swap on the host
MAX_NODES = 4000
MAX_POW_BITS = 20_000


def _watch_parent(parent: int) -> None:
    # A worker stuck in sympy never reads EOF on stdin; leave when the parent is gone.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass


class TooLarge(Exception):
    pass


def main() -> None:
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _limit_memory()
    sys.setrecursionlimit(5000)
    _warm_up()
    out = sys.stdout
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply = handle(request)
        except Exception as exc:  # noqa: BLE001 - the worker must answer every request
            reply = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        reply["id"] = request.get("id") if isinstance(request, dict) else None
        out.write(json.dumps(reply) + "\n")
        out.flush()


_WARM_UP = (
    r"\frac{1}{2}",
    r"\sqrt{x^2+1}",
    r"(1,\frac{\pi}{2})",
    r"\binom{n}{2}",
    r"\sin(2x)",
    "x=1",
    r"\{1,2\}",
    r"[0,\infty)",
    r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
    r"\log_2 8",
    r"3!",
)


def _warm_up() -> None:
    """Import sympy and run the parser and simplify once before "ready": the first ANTLR parse
    and the first simplify take seconds, which must not be charged to a comparison."""
    import sympy

    for text in _WARM_UP:
        try:
            to_sympy(text)
        except Exception:  # noqa: BLE001, S112 - warm-up only
            continue
    x = sympy.Symbol("x")
    sympy.simplify(sympy.binomial(x, 2) - x * (x - 1) / 2 + sympy.sin(x) ** 2 + sympy.cos(x) ** 2)
    to_sympy.cache_clear()


def handle(req: dict[str, Any]) -> dict[str, Any]:
    op = req.get("op")
    if op == "ping":
        return {"ok": True}
    if op == "sleep":  # lets the tests exercise the kill-on-timeout path without a slow sympy case
        time.sleep(float(req.get("seconds", 0)))
        return {"ok": True}
    if op == "parse":
        try:
            to_sympy(req["text"])
        except Exception as exc:  # noqa: BLE001 - any parser failure is a reason string
            return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:300]}
        return {"ok": True}
    tol = float(req.get("rel_tol", 1e-4))
    if op == "equal":
        sides = [(req["gold"], "gold"), (req["pred"], "pred")]
    elif op == "equation":
        sides = [
            (req["gold"][0], "gold"),
            (req["gold"][1], "gold"),
            (req["pred"][0], "pred"),
            (req["pred"][1], "pred"),
        ]
    else:
        return {"error": f"unknown op {op!r}"}
    parsed = []
    for text, side in sides:
        try:
            parsed.append(to_sympy(text))
        except TooLarge as exc:
            return {"error": "unparsable", "side": side, "detail": f"too large: {exc}"}
        except Exception as exc:  # noqa: BLE001 - ANTLR and sympy raise many kinds
            return {"error": "unparsable", "side": side, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    if op == "equal":
        decimal = "." in req["gold"] or "." in req["pred"]
        return {"equal": equal(parsed[0], parsed[1], tol if decimal else 1e-9)}
    return {"equal": same_equation(parsed[0] - parsed[1], parsed[2] - parsed[3])}


@lru_cache(maxsize=4096)
def to_sympy(text: str) -> Any:
    import sympy
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig, latex2sympy
    from latex2sympy2_extended.math_normalization import NormalizationConfig

    expr = latex2sympy(
        text,
        normalization_config=NormalizationConfig(
            basic_latex=True, units=False, malformed_operators=True, nits=False, boxed="none", equations=False
        ),
        conversion_config=ConversionConfig(interpret_as_mixed_fractions=True, lowercase_symbols=False),
    )
    guard(expr)
    if isinstance(expr, sympy.Basic):
        subs = {
            s: v
            for s, v in ((sympy.Symbol("i"), sympy.I), (sympy.Symbol("e"), sympy.E))
            if s in expr.free_symbols
        }
        if subs:
            expr = expr.xreplace(subs)
    return expr


def guard(expr: Any) -> None:
    """Reject values sympy would spend unbounded time or memory on: power towers, huge factorials."""
    import sympy

    if not isinstance(expr, sympy.Basic):
        if isinstance(expr, (list, tuple)):
            for e in expr:
                guard(e)
        return
    for count, node in enumerate(sympy.preorder_traversal(expr)):
        if count > MAX_NODES:
            raise TooLarge("expression too big")
        if isinstance(node, sympy.Pow):
            base, exp = node.args
            if exp.free_symbols or base.free_symbols:
                continue
            if _log2_size(exp) > 17 and _log2_size(base) > 0.01:
                raise TooLarge("power tower")
            if _log2_size(base) * _value_bound(exp) > MAX_POW_BITS:
                raise TooLarge("power too large")
        if isinstance(node, (sympy.factorial, sympy.factorial2)) and not node.args[0].free_symbols:
            if _value_bound(node.args[0]) > 2000:
                raise TooLarge("factorial too large")


def _log2_size(e: Any) -> float:
    """log2 of |e| bounded from above without evaluating it; inf when it cannot be bounded cheaply."""
    import math

    import sympy

    if e.is_Integer or e.is_Rational:
        return max(math.log2(abs(e.p) + 1), math.log2(abs(e.q) + 1))
    if e.is_Float:
        return math.log2(abs(float(e)) + 1)
    if isinstance(e, sympy.Pow):
        b, x = e.args
        return _log2_size(b) * _value_bound(x)
    if isinstance(e, (sympy.Add, sympy.Mul)):
        return sum(_log2_size(a) for a in e.args) + len(e.args)
    if isinstance(e, (sympy.factorial, sympy.factorial2)):
        n = _value_bound(e.args[0])
        return n * math.log2(n + 1) if n < 1e6 else math.inf
    return 8.0 if e.is_number else 0.0


def _value_bound(e: Any) -> float:
    size = _log2_size(e)
    return 2.0**size if size < 1000 else float("inf")


def equal(g: Any, p: Any, tol: float) -> bool:
    import sympy
    from sympy.sets.sets import Set

    if isinstance(g, sympy.MatrixBase) or isinstance(p, sympy.MatrixBase):
        if not (isinstance(g, sympy.MatrixBase) and isinstance(p, sympy.MatrixBase)) or g.shape != p.shape:
            return False
        return all(equal(a, b, tol) for a, b in zip(g, p, strict=True))
    if isinstance(g, (tuple, list, sympy.Tuple)) or isinstance(p, (tuple, list, sympy.Tuple)):
        if type(g) is not type(p) or len(g) != len(p):
            return False
        return all(equal(a, b, tol) for a, b in zip(g, p, strict=True))
    if isinstance(g, Set) or isinstance(p, Set):
        return bool(g == p)
    if isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq):
        return same_equation(g.lhs - g.rhs, p.lhs - p.rhs)
    if isinstance(g, sympy.core.relational.Relational) or isinstance(p, sympy.core.relational.Relational):
        return bool(g == p)
    if not (isinstance(g, sympy.Expr) and isinstance(p, sympy.Expr)):
        return bool(g == p)
    unevaluated = (sympy.Sum, sympy.Product, sympy.Integral, sympy.Limit, sympy.Derivative)
    g, p = (e.doit() if e.has(*unevaluated) else e for e in (g, p))
    diff = g - p
    if diff == 0:
        return True
    if not diff.free_symbols:
        gv, dv = sympy.N(g, 30), sympy.N(diff, 30)
        if not (gv.is_number and dv.is_number):
            return False
        return bool(abs(dv) <= tol * max(abs(gv), sympy.Float(1e-300)) or abs(dv) < 1e-12)
    if sympy.simplify(diff) == 0:
        return True
    return _sampled_zero(diff)


def _sampled_zero(diff: Any) -> bool:
    import sympy

    symbols = sorted(diff.free_symbols, key=str)
    for k in range(3):
        point = {s: sympy.Rational(40 + (13 * j + 37 * k) % 97, 53 + 7 * k) for j, s in enumerate(symbols)}
        value = sympy.N(diff.xreplace(point), 20)
        if not value.is_number or abs(value) > 1e-9:
            return False
    return True


def same_equation(dg: Any, dp: Any) -> bool:
    import sympy

    if dp == 0 or dg == 0:
        return dp == dg
    ratio = sympy.simplify(dg / dp)
    return bool(ratio.is_number and ratio != 0 and not ratio.free_symbols)


if __name__ == "__main__":
    main()
