"""The symbolic step's process side: what is refused before sympy (guard.py), and the fork server
that makes a sympy worker killed at its time limit cheap to replace (fork_server.py, worker.py)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from matheval.grading import equivalent, guard, worker
from matheval.grading.fork_server import ForkServer

# --- guard: refused, deterministically, before sympy is asked ---------------------------------


@pytest.mark.parametrize("pred", [
    r"\sum_{k=1}^{10^{100}} k^{k}",  # a term at the top end is already too large
    r"\sum_{k=0}^{10^{100}} 2^{-k}",  # ... or too small: the same exact-value limit
    r"\prod_{k=1}^{10^{6}} 2",  # 10^6 doublings: over a million bits
    r"\prod_{k=1}^{20000} (k+1)",  # the product grows past the limit
    r"x^{10^{100}}",  # a variable's power sympy could only sample with 10^100 times the bits
    r"1 + \sum_{j=1}^{10^{9}} j^{j}",  # nested in a larger expression
])
def test_too_large_to_evaluate_is_refused(pred):
    assert guard.refuse(pred) is not None


@pytest.mark.parametrize("pred", [
    r"\sum_{k=1}^{10^{100}} k",  # sympy adds it in closed form
    r"\sum_{k=1}^{n} k",  # a symbolic bound: sampled in-process
    r"\sum_{k=1}^{\infty} \frac{1}{k^2}",  # an infinite series is sympy's question
    r"\sum_{k=1}^{100} k^{k}",  # short: evaluated in-process
    r"\prod_{k=1}^{10^{6}} 1",  # every term 1: the product is small
    r"\prod_{k=1}^{10^{6}} (-1)",
    r"x^{20}",
    r"\frac{1+\sqrt{5}}{2}",
    r"\frac{a}{b}",  # notation the in-process parser may not read is left to sympy's own guard
])
def test_ordinary_answers_are_left_to_sympy(pred):
    assert guard.refuse(pred) is None


def test_a_refused_prediction_is_a_fast_unparsable_verdict_with_its_rule():
    start = time.monotonic()
    v = equivalent("420", r"\sum_{k=1}^{10^{100}} k^{k}")
    assert time.monotonic() - start < 2.0  # sympy would spend its whole time limit
    assert not v.correct and v.status == "unparsable" and v.rule == "guard"
    assert "too large" in v.detail
    # What sympy can finish is still graded on its value (gold first: 10^100 (10^100 + 1) / 2).
    gold = "5" + "0" * 99 + "5" + "0" * 99
    assert equivalent(gold, r"\sum_{k=1}^{10^{100}} k").correct


# --- fork server -------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_forked_workers_answer_and_die_by_their_own_pid():
    server = ForkServer()
    try:
        a, b = worker._Worker(server), worker._Worker(server)
        assert a.forked.pid != b.forked.pid
        assert a.request({"op": "ping"}, 10) is not None
        assert b.request({"op": "ping"}, 10) is not None
        a.kill()
        deadline = time.monotonic() + 5
        while _alive(a.forked.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(a.forked.pid) and server.alive()
        assert b.request({"op": "ping"}, 10) is not None  # its sibling is untouched
        start = time.monotonic()
        c = worker._Worker(server)  # a replacement: a fork, not a new interpreter importing sympy
        assert time.monotonic() - start < 1.0
        assert c.request({"op": "ping"}, 10) is not None
        for w in (b, c):
            w.close()
    finally:
        server.close()
    assert not server.alive()


def test_a_worker_killed_at_its_deadline_is_replaced_from_the_server():
    pool = worker._Pool(1)
    try:
        assert pool.call({"op": "ping"}, 30) is not None
        server = pool.server
        assert server is not None and server.alive()
        (w,) = pool.all
        os.kill(w.forked.pid, signal.SIGSTOP)  # stops answering: the deadline must kill it
        assert pool.call({"op": "ping"}, 0.5) is None
        assert not _alive(w.forked.pid) or w.forked.done
        assert pool.call({"op": "ping"}, 10) is not None  # a new fork of the same server
        assert pool.server is server and w not in pool.all
    finally:
        pool.shutdown()
    assert not server.alive()


def test_without_the_fork_server_workers_are_spawned(monkeypatch):
    def broken(self):
        raise OSError("no fork server here")

    monkeypatch.setattr(ForkServer, "__init__", broken)
    pool = worker._Pool(1)
    try:
        assert pool.call({"op": "ping"}, 60) is not None
        (w,) = pool.all
        assert w.forked is None and w.proc is not None and pool.server_failed
    finally:
        pool.shutdown()
