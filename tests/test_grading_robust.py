"""The grader under hostile input and concurrency: time limits, pathological LaTeX, thread/process pools."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import pytest

from matheval.grading import equivalent, verify, warm_up
from matheval.grading import worker as grading_worker

# Pairs whose verdict needs sympy in the worker process (the in-process evaluator gives up).
SYMPY_PAIRS = [("1", r"\lim_{x \to 0} \frac{\sin x}{x}", True), ("2x", r"\frac{d}{dx} x^2", True),
               ("2", r"\int_0^2 1 dx", True)]
PATHOLOGICAL = [
    r"2^{2^{2^{100}}}",
    "1000!!!",
    r"10^{10^{10}}",
    r"\frac{1}{2}" * 2000,  # 22k characters
    "{" * 500 + "1" + "}" * 499,
    r"\frac{" * 300,
    "\x00\xff\x7f\u0000binary\ufffe",
    bytes(range(256)).decode("latin-1"),
    r"x^{x^{x^{x^{x^{x^{x^{x}}}}}}}",
    r"(((((((((((((((((((((((((((((((((((((((1)))))))))))))))))))))))))))))))))))))))",
    r"\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{\sqrt{2}}}}}}}}}}" * 20,
    r"9^{9^{9^{9}}} - 9^{9^{9^{9}}}",
    r"(2^{20})!",
]


@pytest.fixture(scope="module", autouse=True)
def _worker_ready():
    warm_up()


@pytest.mark.parametrize("pred", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_prediction_returns_quickly(pred):
    start = time.monotonic()
    verdict = equivalent("3", pred, timeout=2.0)
    assert time.monotonic() - start < 2.0 + 1.5
    assert verdict.status in ("unparsable", "timeout", "incorrect"), verdict
    assert verify("3", pred, timeout=2.0) is False


def test_pathological_inputs_off_the_main_thread():
    results: list[bool] = []

    def run() -> None:
        results.extend(verify("3", pred, timeout=2.0) for pred in PATHOLOGICAL[:4])

    t = threading.Thread(target=run)
    start = time.monotonic()
    t.start()
    t.join(timeout=30)
    assert not t.is_alive() and results == [False] * 4
    assert time.monotonic() - start < 30


def test_symbolic_step_goes_through_the_worker():
    for gold, pred, expected in SYMPY_PAIRS:
        verdict = equivalent(gold, pred)
        assert (verdict.correct, verdict.rule, verdict.detail) == (expected, "symbolic", "sympy"), verdict


def test_timeout_kills_the_worker_and_the_next_call_works():
    start = time.monotonic()
    assert grading_worker.call({"op": "sleep", "seconds": 30}, timeout=0.5) is None
    assert time.monotonic() - start < 2.0
    assert grading_worker.call({"op": "ping"}, timeout=60)["ok"] is True
    verdict = equivalent("2", r"\int_0^2 1 dx")
    assert verdict.correct


def test_timeout_status_from_equivalent():
    verdict = equivalent("6", r"\int_0^3 x^2 dx", timeout=1e-4)
    assert verdict.status == "timeout" and not verdict.correct
    assert equivalent("9", r"\int_0^3 x^2 dx").correct  # the replacement worker answers


def test_verify_from_a_thread_pool():
    pairs = (
        SYMPY_PAIRS * 4 + [(r"\frac{1}{2}", "0.5", True), ("3", "4", False), ("(1,2]", "(1,2)", False)] * 4
    )
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda p: verify(p[0], p[1]), pairs))
    assert results == [p[2] for p in pairs]


def _verify_pair(pair: tuple[str, str, bool]) -> bool:
    return verify(pair[0], pair[1]) is pair[2]


def _nested(pair: tuple[str, str, bool]) -> bool:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return all(pool.map(_verify_pair, [pair, pair]))


@pytest.mark.parametrize(("method", "task"), [("fork", _verify_pair), ("spawn", _nested)])
def test_verify_from_a_process_pool(method, task):
    # The parent already owns a worker (fixture): a forked child must start its own. The spawn
    # case also runs a thread pool inside the child process.
    pairs = SYMPY_PAIRS + [(r"\frac{1}{2}", "0.5", True), ("3", r"2^{2^{2^{100}}}", False)]
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        assert all(pool.map(task, pairs, timeout=120))
    assert equivalent("2", r"\int_0^2 1 dx").correct  # the parent's worker still answers
