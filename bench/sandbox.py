"""Sandbox throughput: executions per second of a trivial program, and what one sandboxed execution
costs over a bare `subprocess.run([python, "-c", code])`, all measured in one run.

    python bench/sandbox.py [-n 60] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from matheval.sandbox import run_code, run_many

CODE = "print(sum(range(10)))"


def _timed(variants: dict[str, Callable[[], object]], n: int) -> dict[str, list[float]]:
    """Time each variant n times, interleaved round-robin so that load from other work on a shared
    machine hits every variant alike (the ratios stay meaningful even when absolute times drift)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(n):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _bare() -> None:
    subprocess.run([sys.executable, "-c", CODE], capture_output=True, check=True)


def _bare_isolated() -> None:
    subprocess.run([sys.executable, "-I", "-S", "-c", CODE], capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="executions per measurement")
    parser.add_argument("--workers", type=int, default=2, help="threads for the run_many measurement")
    args = parser.parse_args()

    probe = run_code(CODE)
    assert probe.ok, probe
    print(f"python {sys.version.split()[0]}, isolation: {probe.isolation}")
    for fn in (_bare, lambda: run_code(CODE), lambda: run_code(CODE, isolation="fallback")):
        fn()  # warm the page cache and the layout probe

    variants: dict[str, Callable[[], object]] = {
        "bare subprocess.run([python, '-c', code])": _bare,
        "bare subprocess.run([python, '-I', '-S', '-c', code])": _bare_isolated,
        "run_code, namespaces": lambda: run_code(CODE, isolation="namespaces"),
        "run_code, fallback": lambda: run_code(CODE, isolation="fallback"),
    }
    rows = list(_timed(variants, args.n).items())
    base = statistics.median(rows[0][1])
    print(f"\n{'sequential, one at a time':55s} {'median ms':>9s} {'p90 ms':>7s} {'exec/s':>7s} {'x bare':>7s}")
    for name, times in rows:
        med = statistics.median(times)
        p90 = sorted(times)[int(0.9 * len(times)) - 1]
        print(f"{name:55s} {med * 1e3:9.1f} {p90 * 1e3:7.1f} {1 / med:7.1f} {med / base:7.2f}")

    print(f"\nparallel, {args.workers} workers, {args.n} executions each (rounds of 10, interleaved)")
    spent = {"bare": 0.0, "run_many": 0.0}
    with ThreadPoolExecutor(args.workers) as pool:
        for _ in range(max(1, args.n // 10)):
            start = time.perf_counter()
            list(pool.map(lambda _: _bare(), range(10)))
            spent["bare"] += time.perf_counter() - start
            start = time.perf_counter()
            results = run_many([CODE] * 10, max_workers=args.workers)
            spent["run_many"] += time.perf_counter() - start
            assert all(r.ok for r in results)
    count = 10 * max(1, args.n // 10)
    print(f"{'bare subprocess.run':55s} {count / spent['bare']:7.1f} exec/s")
    ratio = spent["run_many"] / spent["bare"]
    print(f"{'run_many':55s} {count / spent['run_many']:7.1f} exec/s ({ratio:.2f}x the time of bare)")


if __name__ == "__main__":
    main()
