"""`run_code` returns only after every process it started is gone, also with both cores saturated.

Each case runs in a harness subprocess that is a *child subreaper*: anything a run leaves behind
(a namespace init that outlived its supervisor, an orphan of the fallback) is reparented to it
instead of to the machine's init, so "a descendant of the harness" covers every process of the run,
whatever it did (setsid, double fork, exec). The harness checks /proc the moment the call returns.
CPU burners keep both cores busy throughout.
Run as root (namespaces + cgroup, fallback) and as an unprivileged uid (user namespaces, fallback).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from matheval.sandbox import run_code

REPO = Path(__file__).resolve().parents[1]
BURNERS = 3  # busy loops on a 2-core machine: every sandbox process waits for a core

# The hostile programs (name -> (code, timeout)). Floods end by the output cap, bombs and
# sleepers by the wall clock; "slow_start" times out while the supervisor is still starting (before
# the fix the harness found nothing to kill, gave the supervisor 3 s, killed it and returned while
# its namespace init and the program, started meanwhile, were still alive).
PROGRAMS = {
    "stderr_1gib": ("import sys\nchunk = 'e' * (1 << 20)\nfor _ in range(1024):\n    sys.stderr.write(chunk)\n", 10),
    "stdout_1gib": ("import os\nchunk = b'o' * (1 << 20)\nfor _ in range(1024):\n    os.write(1, chunk)\n", 10),
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", 1),
    "setsid_daemons": (
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(0)\ntime.sleep(0.2)\n",
        10,
    ),
    "ignores_sigterm": (
        "import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nif os.fork() == 0:\n"
        "    os.setsid()\n    time.sleep(60)\ntime.sleep(60)\n",
        1,
    ),
    "detached_flooder": (
        "import os, sys\nif os.fork() == 0:\n    os.setsid()\n    while True:\n        os.write(2, b'x' * 65536)\n"
        "print('parent done')\n",
        10,
    ),
    "slow_start": ("import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)\n", 0.01),
}

HARNESS = textwrap.dedent(
    r"""
    import ctypes, json, os, sys, threading, time
    from matheval.sandbox import Limits, run_code, run_many

    assert ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    ME = os.getpid()
    LIMITS = Limits(max_processes=16, memory_mb=512)

    def processes():
        table = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        cmdline = f.read()
                except OSError:
                    continue
                table[int(entry)] = (fields[0], int(fields[1]), cmdline)
        return table

    def leftovers():
        # Every process (zombies too) whose parent chain leads to us: as subreaper, that is every
        # process any run started, wherever it went.
        table = processes()
        found = []
        for pid, (state, ppid, cmdline) in table.items():
            p, hops = ppid, 0
            while p in table and p != ME and hops < 200:
                p, hops = table[p][1], hops + 1
            if p == ME:
                found.append([pid, state, cmdline.replace(b"\0", b" ")[:80].decode(errors="replace")])
        return found

    def clean():
        # Kill and reap what a leaky run left, so that it cannot be blamed on the next case.
        for _ in range(2000):
            found = leftovers()
            if not found:
                return
            for pid, _, _ in found:
                try:
                    os.kill(pid, 9)
                except OSError:
                    pass
            try:
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            except ChildProcessError:
                pass
            time.sleep(0.005)

    def kill_supervisor_later(delay):
        # Stands in for the cgroup's OOM killer (or a fallback program that got past the audit
        # hook) killing the run's supervisor while the program and its daemons are alive.
        def shoot():
            time.sleep(delay)
            for pid, (_, ppid, cmdline) in processes().items():
                if ppid == ME and b"_child.main()" in cmdline:
                    os.kill(pid, 9)
        threading.Thread(target=shoot, daemon=True).start()

    for case in json.loads(sys.argv[1]):
        if case.get("kill_supervisor"):
            kill_supervisor_later(case["kill_supervisor"])
        if case["batch"]:
            results = run_many(case["codes"], timeout=case["timeout"], limits=LIMITS,
                               isolation=case["mode"], max_workers=4)
        else:
            results = [run_code(case["codes"][0], timeout=case["timeout"], limits=LIMITS,
                                isolation=case["mode"])]
        found = leftovers()  # at once: "just after the call returned"
        print(json.dumps({"name": case["name"], "statuses": [r.status for r in results],
                          "isolation": results[0].isolation, "left": found}), flush=True)
        clean()
    """
)


def _namespaces_available() -> bool:
    return run_code("pass", timeout=30, isolation="namespaces").status != "sandbox_error"


MODES = ["namespaces", "fallback"] if _namespaces_available() else ["fallback"]


@pytest.fixture(scope="module")
def saturated_cores() -> Iterator[None]:
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)]
    try:
        yield
    finally:
        for b in burners:
            b.kill()
            b.wait()


def _run_harness(cases: list[dict[str, object]]) -> list[dict[str, object]]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-c", HARNESS, json.dumps(cases)], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"harness failed (exit {proc.returncode}):\n{out}"
    return [json.loads(line) for line in out.splitlines()]


REPEATS = 2  # the leak was a race: give it several chances per program and mode


@pytest.mark.usefixtures("saturated_cores")
@pytest.mark.parametrize("mode", MODES)
def test_nothing_outlives_the_call_on_busy_cores(mode: str) -> None:
    cases = [
        {"name": name, "codes": [code], "timeout": timeout, "mode": mode, "batch": False}
        for _ in range(REPEATS)
        for name, (code, timeout) in PROGRAMS.items()
    ]
    reports = _run_harness(cases)
    assert len(reports) == len(cases)
    leaks = [r for r in reports if r["left"]]
    assert leaks == [], "processes alive just after run_code returned:\n" + "\n".join(map(json.dumps, leaks))
    assert all(r["isolation"].startswith(mode) for r in reports)
    by_name = {r["name"]: r["statuses"][0] for r in reports}
    assert by_name["stderr_1gib"] == by_name["stdout_1gib"] == "output_limit"
    assert by_name["fork_bomb"] in ("timeout", "error") and by_name["slow_start"] == "timeout"


@pytest.mark.usefixtures("saturated_cores")
@pytest.mark.parametrize("mode", MODES)
def test_nothing_outlives_a_parallel_batch_on_busy_cores(mode: str) -> None:
    # Grading in a pool: many sandboxes at once; after run_many returns, none of their processes lives.
    # With a timeout of 0.01 s every run is cut off while its supervisor is still starting.
    codes = [code for code, _ in PROGRAMS.values()] * 2
    cases = [{"name": f"batch-{t}", "codes": codes, "timeout": t, "mode": mode, "batch": True} for t in (1, 0.01)]
    reports = _run_harness(cases)
    assert [r["left"] for r in reports] == [[], []], reports
    assert [len(r["statuses"]) for r in reports] == [len(codes)] * 2
    assert set(reports[1]["statuses"]) == {"timeout"}


@pytest.mark.usefixtures("saturated_cores")
@pytest.mark.parametrize("mode", MODES)
def test_nothing_outlives_a_supervisor_killed_from_outside(mode: str) -> None:
    # The supervisor dies first (SIGKILL from outside): its namespace init and the fallback's orphans
    # lose their parent; run_code still returns only once they are all gone.
    code = (
        "import os, time\nfor _ in range(2):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(0)\ntime.sleep(60)\n"
    )
    cases = [
        {"name": "killed", "codes": [code], "timeout": 30, "mode": mode, "batch": False, "kill_supervisor": 1.5}
    ] * 2
    reports = _run_harness(cases)
    # Orphans handed to the harness (a subreaper) and killed are its zombies to reap: only live
    # processes count here. Everywhere else a zombie would already be a leak (it had outlived its
    # supervisor), so the other tests count those too.
    alive = [[p for p in r["left"] if p[1] not in ("Z", "X")] for r in reports]
    assert [r["statuses"] for r in reports] == [["killed"]] * 2 and alive == [[], []], reports
