"""matheval.reward's worker processes: hard deadlines, pathological batches, and nothing left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from matheval.grading import grade
from matheval.reward import RewardPool, spec_for

REPO = Path(__file__).resolve().parent.parent
SLOW = r"Therefore $\boxed{\sum_{k=0}^{\infty} k^{k}}$."  # goes to sympy, which cannot finish it
PATHOLOGICAL = [
    r"The value is $\boxed{2^{2^{2^{100}}}}$.",
    r"Therefore $\boxed{\sum_{k=1}^{10^{100}} k^{k}}$.",  # refused before sympy: too large to evaluate
    "We expand: " + r"\frac{x^{2}+\sqrt{y}}{\left(1+z_{k}\right)^{3}} + " * 1200 + r"so $\boxed{\frac{1}{2}}$",
    r"Hence $\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}$",
]


def group_members(pgids: list[int]) -> list[tuple[int, str]]:
    """Live (non-zombie) processes in the given process groups, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        state, _ppid, pgrp = stat[stat.rfind(")") + 2 :].split()[:3]
        if int(pgrp) in pgids and state != "Z":
            found.append((int(entry), state))
    return found


def sympy_members(pgids: list[int]) -> list[int]:
    """Members of the groups that are the grader's sympy processes busy computing (state R; the
    fork server and idle workers sleep)."""
    found = []
    for pid, state in group_members(pgids):
        if state != "R":
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                if b"sympy_worker" in fh.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def wait_gone(pgids: list[int], seconds: float = 10.0) -> list[tuple[int, str]]:
    end = time.monotonic() + seconds
    while (left := group_members(pgids)) and time.monotonic() < end:
        time.sleep(0.05)
    return left


@pytest.fixture(scope="module")
def qwen_pairs(data_dir) -> list[tuple[str, str]]:
    path = data_dir / "outputs" / "qwen25math-example-math100x8" / "math_cot_100.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [(r["answer"], text) for r in rows for text in r["code"]]


def test_one_percent_pathological_batch_keeps_every_other_verdict(qwen_pairs):
    clean = qwen_pairs[:297]
    batch = list(clean)
    for k, text in enumerate([*PATHOLOGICAL, SLOW]):
        batch.insert(60 * k + 5, ("420", text))  # 5 in 302: a little over 1 %
    spec = spec_for("math")
    pool = RewardPool(2)
    try:
        pool.start()
        start = time.monotonic()
        scores = pool.score([g for g, _ in batch], [t for _, t in batch], [spec] * len(batch), timeout=4.0, deadline=60)
        elapsed = time.monotonic() - start
        reference = pool.score([g for g, _ in clean], [t for _, t in clean], [spec] * len(clean), timeout=4.0)
    finally:
        pool.close()
    assert elapsed < 60
    odd = {60 * k + 5 for k in range(5)}
    assert all(scores[i].status in ("unparsable", "timeout", "incorrect") for i in odd)
    assert scores[60 * 1 + 5].status == "unparsable" and scores[60 * 1 + 5].rule == "guard"
    assert scores[60 * 4 + 5].status == "timeout"
    kept = [s for i, s in enumerate(scores) if i not in odd]
    assert kept == reference
    for (gold, text), s in zip(clean[:60], kept, strict=False):
        _, verdict = grade(gold, text, style="auto", options=spec.options)
        assert (s.correct, s.status) == (verdict.correct, verdict.status)
    assert sum(s.correct for s in kept) > 250


def test_hard_deadline_kills_the_worker_group_and_the_batch_goes_on():
    pool = RewardPool(1)
    try:
        pool.start()
        (before,) = pool.pids()
        # A worker that stops answering (here: stopped outright, as swap or a stuck C call would)
        # is what the hard deadline is for; the grader's own time limits cannot help there.
        os.kill(before, signal.SIGSTOP)
        golds = ["1", "420", "2", "3"]
        texts = [r"\boxed{1}", SLOW, r"\boxed{2}", r"\boxed{4}"]
        start = time.monotonic()
        scores = pool.score(golds, texts, [spec_for(None)] * 4, timeout=2.0)
        elapsed = time.monotonic() - start
        (after,) = pool.pids()
    finally:
        pool.close()
    assert [s.status for s in scores] == ["timeout", "timeout", "correct", "incorrect"]
    assert scores[0].rule == "deadline" and "worker killed" in scores[0].detail
    assert scores[1].rule == "symbolic"  # the successor's grader ended the slow sample itself
    assert before != after and wait_gone([before]) == []
    assert elapsed < 30  # 2 s deadline + one worker start + 1 s of sympy on a loaded machine


def test_a_sympy_timeout_ends_inside_the_worker():
    pool = RewardPool(1)
    try:
        pool.start()
        (before,) = pool.pids()
        start = time.monotonic()
        # Deadline 1 s: the grader's sympy limit (0.5 s) ends the slow sample and its sympy process
        # is re-forked in milliseconds, so the worker answers in time and is not killed.
        scores = pool.score(["420", "2"], [SLOW, r"\boxed{2}"], [spec_for(None)] * 2, timeout=1.0)
        elapsed = time.monotonic() - start
        (after,) = pool.pids()
    finally:
        pool.close()
    assert [(s.status, s.rule) for s in scores] == [("timeout", "symbolic"), ("correct", "string")]
    assert before == after
    assert elapsed < 5


def test_batch_deadline_returns_on_time():
    pool = RewardPool(2)
    try:
        pool.start()
        start = time.monotonic()
        scores = pool.score(["420"] * 8, [SLOW] * 8, [spec_for(None)] * 8, timeout=60, deadline=2.0)
        elapsed = time.monotonic() - start
    finally:
        pool.close()
    assert elapsed < 4.0
    assert {s.status for s in scores} == {"timeout"}


def test_close_and_worker_death_leave_no_process():
    pool = RewardPool(2)
    pool.start()
    pgids = pool.pids()
    assert len(pgids) == 2
    # Kill one worker's leader alone (not its group), mid-sample: its janitor must take the
    # sympy process with it, and the batch must still finish.
    script = [r"\boxed{1}", SLOW, r"\boxed{3}"]
    import threading

    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(s=pool.score(["1", "2", "3"], script, [spec_for(None)] * 3, timeout=30))
    )
    runner.start()
    time.sleep(1.5)
    busy = [pg for pg in pgids if sympy_members([pg])]
    assert busy, group_members(pgids)
    os.kill(busy[0], signal.SIGKILL)
    runner.join(60)
    assert wait_gone([busy[0]]) == []
    statuses = [s.status for s in result["s"]]
    assert statuses[0] == "correct" and statuses[2] == "correct" and statuses[1] in ("error", "timeout")
    alive = pool.pids()
    pool.close()
    assert wait_gone(pgids + alive) == []


CALLER = textwrap.dedent(
    """
    import json, sys
    from matheval.reward import pool, reward_batch
    p = pool(2)
    p.start()
    print(json.dumps(p.pids()), flush=True)
    reward_batch(["420"] * 16, [sys.argv[1]] * 16, timeout=120)
    print("finished", flush=True)
    """
)


def test_killing_the_caller_mid_batch_leaves_no_process():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    caller = subprocess.Popen([sys.executable, "-c", CALLER, SLOW], stdout=subprocess.PIPE, text=True, env=env)
    try:
        pgids = json.loads(caller.stdout.readline())
        assert len(pgids) == 2
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(sympy_members(pgids)) < 2:
            time.sleep(0.1)  # both workers grading, each with its sympy process busy
        assert len(sympy_members(pgids)) == 2, group_members(pgids)
        caller.kill()  # SIGKILL: no atexit, no finally, nothing of the caller runs
        caller.wait()
        assert wait_gone(pgids, 5.0) == []
    finally:
        if caller.poll() is None:
            caller.kill()
            caller.wait()


def test_reward_batch_inside_a_ray_actor():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:

        @ray.remote
        class Scorer:
            def score(self, golds, texts, timeout):
                from matheval.reward import reward_batch

                return [s.to_dict() for s in reward_batch(golds, texts, timeout=timeout)]

        actor = Scorer.remote()
        out = ray.get(actor.score.remote(["18", "18", "420"], [r"\boxed{18}", r"\boxed{17}", SLOW], 2.0), timeout=180)
        assert [d["status"] for d in out] == ["correct", "incorrect", "timeout"]
    finally:
        ray.shutdown()
