"""A reward worker process: reads chunks of samples, answers one JSON line per sample.

Started by `pool.RewardPool` as the leader of its own process group, so the grader's sympy
processes it spawns share the group and one `killpg` takes them all. Before anything else it forks
a janitor that kills the group when the worker dies or the trainer that started it dies (its
parent changes): a SIGKILLed trainer leaves nothing behind. No signal handlers, no alarms.

Chunks arrive as `wire.frame`s; each reply line is JSON `[index, *Score.to_wire()]`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

from .wire import frames

JANITOR_POLL = 0.1  # seconds between the janitor's checks


def _ppid_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def _janitor(worker: int, trainer: int) -> None:
    # Holds none of the worker's pipes: the trainer must see EOF when the worker dies.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    while True:
        time.sleep(JANITOR_POLL)
        if os.getppid() != worker or _ppid_of(worker) != trainer:
            os.killpg(0, signal.SIGKILL)  # the worker, its sympy processes, and this janitor


def _start_janitor(trainer: int) -> None:
    worker = os.getpid()
    if os.getppid() != trainer:  # the trainer died before we got here
        os._exit(0)
    if os.fork() == 0:
        try:
            _janitor(worker, trainer)
        finally:
            os._exit(0)


def main() -> None:
    trainer = int(sys.argv[sys.argv.index("--parent") + 1])
    _start_janitor(trainer)
    from matheval import grading
    from matheval.reward.score import Score, score_one
    from matheval.reward.spec import RewardSpec

    grading.warm_up()  # sympy's import is paid here, not inside a sample's deadline
    out = sys.stdout.buffer
    out.write(json.dumps({"ready": os.getpid()}).encode() + b"\n")
    out.flush()
    specs: dict[str, tuple[RewardSpec, grading.GraderOptions]] = {}
    for msg in frames(sys.stdin.buffer):
        budget = float(msg["budget"])
        for key, wire in msg["specs"].items():
            spec = RewardSpec.from_wire(wire)
            opts = spec.options if spec.options.timeout <= budget else spec.options.replace(timeout=budget)
            specs[f"{key}@{budget}"] = (spec, opts)
        golds = msg["golds"]
        for index, key, gold, response, truncated, question in msg["items"]:
            spec, opts = specs[f"{key}@{budget}"]
            try:
                score = score_one(spec, golds[gold], response, opts, truncated, question)
            except Exception as exc:  # noqa: BLE001 - one bad sample must not take the batch down
                score = Score(False, "error", "exception", detail=f"{type(exc).__name__}: {exc}"[:300])
            if score.status == "timeout":
                # The grader killed its sympy process and restarts it in the background; wait for it
                # before replying, so the restart is charged to the sample that timed out and not
                # to the next sample's deadline.
                grading.warm_up()
            out.write(json.dumps([index, *score.to_wire()]).encode() + b"\n")
            out.flush()
    grading.shutdown_workers()


if __name__ == "__main__":
    main()
