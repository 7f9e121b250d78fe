"""The sympy side of the grader, run as a separate process (see worker.py) so it can be killed.

It compares single values only (the answer's shape was already taken apart in-process by the
forms): "equal" for two expressions, "proportional" for the two sides of two equations, "parse"
for the gold lint. Protocol: one JSON object per line on stdin, one JSON reply per line on
stdout; the first line written is {"ready": true}. The limits come as JSON in argv[1] (from
limits.py); this file imports nothing from matheval, so it starts the same way whatever the
parent's sys.path is.

With `--fork-server FD` the process is a fork server instead (fork_server.py is its client): it
imports sympy and warms the parser up once, then on each "fork" request on the Unix socket FD
forks a worker onto the two pipe ends passed with it. A killed worker is then replaced in
milliseconds instead of the seconds a new interpreter takes to import sympy.

LaTeX reaches sympy only through latex2sympy2_extended (an ANTLR parser building sympy objects);
no string is ever handed to `eval` or `sympify`.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import threading
import time
from functools import lru_cache
from typing import Any

LIMITS: dict[str, int] = {"memory": 2 << 30, "max_nodes": 4000, "max_pow_bits": 20_000, "max_factorial": 2000,
                          "piecewise_points": 24}


def _watch_parent(parent: int) -> None:
    # A worker stuck in sympy never reads EOF on stdin; leave when the parent is gone.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _limit_memory() -> None:
    try:
        import resource

        memory = LIMITS["memory"]  # a runaway power makes MemoryError here, not swap on the host
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError):
        pass


class TooLarge(Exception):
    pass


def main() -> None:
    args = sys.argv[1:]
    if args and not args[0].startswith("--"):
        LIMITS.update({k: int(v) for k, v in json.loads(args[0]).items()})
    _limit_memory()
    sys.setrecursionlimit(5000)
    _warm_up()
    if "--fork-server" in args:
        _fork_server(socket.socket(fileno=int(args[args.index("--fork-server") + 1])))
    else:
        _serve(os.getppid())


def _serve(parent: int) -> None:
    """The worker loop: one reply line per request line until stdin closes."""
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
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


def _fork_server(sock: socket.socket) -> None:
    """Fork a worker per "fork" request; reap one per "reap PID"; on EOF kill the rest and leave.

    Single-threaded, so forking is safe; it never reaps a child unasked, so a worker's pid stays
    reserved (at worst a zombie) until the client, which kills it, says so: no pid reuse race.
    """
    gc.freeze()  # the warmed-up heap is shared with every fork; the collector must not dirty it
    children: set[int] = set()
    sock.sendall(b"ready\n")
    buf, fds = b"", []
    while True:
        try:
            data, new_fds, _, _ = socket.recv_fds(sock, 4096, 2)
        except OSError:
            data, new_fds = b"", []
        if not data:
            break  # the grader is gone
        buf, fds = buf + data, fds + new_fds
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            command, _, arg = line.decode().partition(" ")
            if command == "fork" and len(fds) >= 2:
                (read_end, write_end), fds = fds[:2], fds[2:]
                pid = _fork_worker(sock, read_end, write_end)
                children.add(pid)
                sock.sendall(f"pid {pid}\n".encode())
            elif command == "reap" and arg.isdigit() and int(arg) in children:
                _kill_and_reap(int(arg))
                children.discard(int(arg))
    for pid in children:
        _kill_and_reap(pid)


def _fork_worker(sock: socket.socket, read_end: int, write_end: int) -> int:
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            sock.close()
            os.dup2(read_end, 0)
            os.dup2(write_end, 1)
            os.close(read_end)
            os.close(write_end)
            _serve(server)
        finally:
            os._exit(0)  # never run the server's exit handlers in a worker
    os.close(read_end)
    os.close(write_end)
    return pid


def _kill_and_reap(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


_WARM_UP = (
    r"\frac{1}{2}",
    r"\sqrt{x^2+1}",
    r"(1,\frac{\pi}{2})",
    r"\binom{n}{2}",
    r"\sin(2x)",
    "x=1",
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
    if op not in ("equal", "proportional"):
        return {"error": f"unknown op {op!r}"}
    parsed = []
    for text, side in ((req["gold"], "gold"), (req["pred"], "pred")):
        try:
            parsed.append(to_sympy(text))
        except TooLarge as exc:
            return {"error": "unparsable", "side": side, "detail": f"too large: {exc}"}
        except Exception as exc:  # noqa: BLE001 - ANTLR and sympy raise many kinds
            return {"error": "unparsable", "side": side, "detail": f"{type(exc).__name__}: {exc}"[:200]}
    if not all(_is_value(e) for e in parsed):
        return {"error": "not a value"}
    if op == "equal":
        decimal = "." in req["gold"] or "." in req["pred"]
        return {"equal": equal(parsed[0], parsed[1], tol if decimal else 1e-9)}
    return {"equal": same_equation(parsed[0], parsed[1])}


def _is_value(expr: Any) -> bool:
    import sympy

    return isinstance(expr, sympy.Expr) and not isinstance(expr, sympy.MatrixBase)


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
        if count > LIMITS["max_nodes"]:
            raise TooLarge("expression too big")
        if isinstance(node, sympy.Pow):
            base, exp = node.args
            if exp.free_symbols or base.free_symbols:
                continue
            if _log2_size(exp) > 17 and _log2_size(base) > 0.01:
                raise TooLarge("power tower")
            if _log2_size(base) * _value_bound(exp) > LIMITS["max_pow_bits"]:
                raise TooLarge("power too large")
        if isinstance(node, (sympy.factorial, sympy.factorial2)) and not node.args[0].free_symbols:
            if _value_bound(node.args[0]) > LIMITS["max_factorial"]:
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
    if _nonzero_somewhere(diff):
        return False  # one point where the difference is a clear nonzero number proves it cheaply
    if sympy.simplify(diff) == 0:
        return True
    return _sampled_zero(diff)


def _nonzero_somewhere(diff: Any) -> bool:
    import sympy

    symbols = sorted(diff.free_symbols, key=str)
    for k in range(2):
        point = {s: sympy.Rational(29 + (17 * j + 31 * k) % 83, 37 + 5 * k) for j, s in enumerate(symbols)}
        try:
            value = sympy.N(diff.xreplace(point).doit(), 15)
        except Exception:  # noqa: BLE001, S112 - an undefined point says nothing
            continue
        if value.is_number and value.is_finite and not value.has(sympy.zoo, sympy.nan) and abs(value) > 1e-6:
            return True
    return False


_PIECEWISE = ("floor", "ceiling", "Abs", "Mod", "Max", "Min", "sign", "frac")


def _sampled_zero(diff: Any) -> bool:
    """Zero at sample points: a few for smooth expressions, many over a wide range for piecewise ones."""
    import sympy

    symbols = sorted(diff.free_symbols, key=str)
    piecewise = any(diff.has(getattr(sympy, name)) for name in _PIECEWISE if hasattr(sympy, name))
    count = LIMITS["piecewise_points"] if piecewise else 3
    checked = 0
    for k in range(count):
        if piecewise:
            point = {s: sympy.Rational((7 * k + 5 * j) % 40 - 8, 1 + (k + j) % 3) for j, s in enumerate(symbols)}
        else:
            point = {s: sympy.Rational(40 + (13 * j + 37 * k) % 97, 53 + 7 * k) for j, s in enumerate(symbols)}
        value = sympy.N(diff.xreplace(point), 20)
        if not value.is_number:
            return False
        if value.has(sympy.zoo, sympy.nan):
            continue
        if abs(value) > 1e-9:
            return False
        checked += 1
    return checked >= 2


def same_equation(dg: Any, dp: Any) -> bool:
    import sympy

    if dp == 0 or dg == 0:
        return dp == dg
    ratio = sympy.simplify(dg / dp)
    return bool(ratio.is_number and ratio != 0 and not ratio.free_symbols)


if __name__ == "__main__":
    main()
