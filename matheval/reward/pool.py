"""A pool of killable reward worker processes with a hard per-sample deadline, usable from any thread.

Each slot is one worker process (`_worker.py`), leader of its own process group. The caller
sends it a chunk of samples and reads one reply per sample; when a sample's reply has not come
`timeout` seconds after the previous one, the whole group (worker + its sympy processes) is
SIGKILLed, that sample scores `timeout`, the rest of the chunk goes back to the queue and the
slot restarts. Nothing here uses signal handlers or alarms, so it works off the main thread, in
asyncio executors and in Ray actors. Concurrent callers share the slots.
"""

from __future__ import annotations

import collections
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .score import Score, timeout_score
from .spec import RewardSpec
from .wire import frame

STARTUP_TIMEOUT = 90.0  # python + the grader + sympy's import, on a loaded 2-core machine
SYMPY_SHARE = 0.5  # the grader's own sympy limit is at most this share of the hard deadline
MAX_CHUNK = 32
COALESCE = 0.001  # seconds the caller lets replies accumulate between reads
PIPE_BYTES = 1 << 20
_FLAGS = ("-u", "-P") if sys.version_info >= (3, 11) else ("-u",)


class RewardError(RuntimeError):
    """The workers cannot run at all (they do not start); never raised for a response's content."""


class _Slot:
    """One worker process and what the caller holding it is waiting for."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = "down"  # down | starting | idle | busy
        self.claimed = False
        self.since = 0.0  # start of the current wait (startup, or the current sample)
        self.buf = b""
        self.chunk: list[int] = []
        self.pos = 0  # index in chunk of the sample being graded
        self.failures = 0  # startups in a row that failed

    def start(self, env: dict[str, str]) -> None:
        cmd = [sys.executable, *_FLAGS, "-m", "matheval.reward._worker", "--parent", str(os.getpid())]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, start_new_session=True, bufsize=0
        )
        self.state, self.since, self.buf = "starting", time.monotonic(), b""
        if hasattr(fcntl, "F_SETPIPE_SZ"):
            # A chunk of long responses outgrows the default 64 KiB pipe: a bigger one lets the
            # caller hand it over without waiting for the worker to read.
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
                except OSError:
                    pass  # above /proc/sys/fs/pipe-max-size for this user: keep the default

    def kill(self) -> None:
        """SIGKILL the worker's whole process group, then reap the leader (never before: pid reuse)."""
        proc, self.proc = self.proc, None
        self.state, self.chunk, self.pos, self.buf = "down", [], 0, b""
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def send(self, data: bytes) -> bool:
        assert self.proc is not None and self.proc.stdin is not None
        view, fd = memoryview(data), self.proc.stdin.fileno()
        try:
            while view:
                view = view[os.write(fd, view) :]
        except OSError:  # BrokenPipe: the worker died
            return False
        return True

    def read(self) -> list[dict[str, Any]] | None:
        """Complete reply lines available now; None when the worker has exited."""
        assert self.proc is not None and self.proc.stdout is not None
        chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
        if not chunk:
            return None
        self.buf += chunk
        *lines, self.buf = self.buf.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]


class RewardPool:
    """`workers` grading processes, started on first use, shared by every thread of this process."""

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.pid = os.getpid()
        self.slots = [_Slot() for _ in range(workers)]
        self.cond = threading.Condition()
        self.waiting = 0
        self.spec_ids: dict[RewardSpec, str] = {}
        self.env = _worker_env()

    def score(
        self,
        golds: Sequence[Any],
        responses: Sequence[Any],
        specs: Sequence[RewardSpec],
        timeout: float,
        deadline: float | None = None,
        truncated: Sequence[bool] | None = None,
        questions: Sequence[str | None] | None = None,
    ) -> list[Score]:
        """One Score per sample, in order, within `timeout` s per sample and `deadline` s in all."""
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        n = len(golds)
        results: list[Score | None] = [None] * n
        keys = [self._spec_id(s) for s in specs]
        wire = {self._spec_id(s): s.to_wire() for s in set(specs)}
        size = max(1, min(MAX_CHUNK, -(-n // (4 * len(self.slots)))))
        queue = collections.deque(list(range(i, min(i + size, n))) for i in range(0, n, size))
        t_end = time.monotonic() + deadline if deadline is not None else float("inf")
        budget = timeout * SYMPY_SHARE
        mine: list[_Slot] = []

        def message(chunk: list[int]) -> bytes:
            # A gold repeats once per generation of its prompt: sent once per chunk.
            table: dict[int, int] = {}
            for i in chunk:
                table.setdefault(id(golds[i]), len(table))
            items = [
                [i, keys[i], table[id(golds[i])], responses[i], bool(truncated and truncated[i]), _at(questions, i)]
                for i in chunk
            ]
            distinct = list({id(golds[i]): golds[i] for i in chunk}.values())
            used = {keys[i]: wire[keys[i]] for i in chunk}
            return frame({"budget": budget, "specs": used, "golds": distinct, "items": items})

        try:
            while queue or any(s.state == "busy" for s in mine):
                if time.monotonic() >= t_end:
                    for s in mine:
                        if s.state == "busy":
                            self._recycle(s)
                    for i in range(n):
                        if results[i] is None:
                            results[i] = Score(False, "timeout", "deadline", detail=f"batch deadline {deadline:g} s")
                    break
                self._claim(mine, len(queue) - sum(s.state != "busy" for s in mine))
                if not mine:
                    self._wait_for_slot()
                    continue
                for s in mine:
                    if s.state == "down":
                        s.start(self.env)
                    # Keep one chunk queued behind the one being graded, so a worker never waits
                    # for the caller between chunks; the deadline still applies sample by sample.
                    while s.state in ("idle", "busy") and queue and len(s.chunk) - s.pos <= size:
                        chunk = queue.popleft()
                        if not s.send(message(chunk)):
                            queue.appendleft(chunk)
                            self._requeue_rest(s, queue)
                            self._recycle(s)
                            break
                        if s.state == "idle":
                            s.state, s.chunk, s.pos, s.since = "busy", [], 0, time.monotonic()
                        s.chunk = s.chunk + chunk
                if not queue:
                    self._release(mine, [s for s in mine if s.state in ("idle", "starting", "down")])
                active = [s for s in mine if s.state in ("starting", "busy")]
                if not active:
                    continue
                limits = [s.since + (STARTUP_TIMEOUT if s.state == "starting" else timeout) for s in active]
                wait = max(0.0, min(*limits, t_end) - time.monotonic())
                if sum(len(s.chunk) - s.pos for s in active) > len(active):
                    # Replies come every ~0.1 ms: let a few pile up rather than wake (and wake the
                    # worker's write) for each. Never past a deadline, never for a batch's last ones.
                    time.sleep(min(COALESCE, wait))
                readable, _, _ = select.select([s.proc.stdout for s in active if s.proc], [], [], wait)
                for s in active:
                    if s.proc is not None and s.proc.stdout in readable:
                        self._on_readable(s, results, queue, mine)
                now = time.monotonic()
                for s in active:
                    if s not in mine:  # released above: another caller may hold it now
                        continue
                    if s.state == "busy" and now - s.since > timeout:
                        results[s.chunk[s.pos]] = timeout_score(None, timeout)
                        s.pos += 1
                        self._requeue_rest(s, queue)
                        self._recycle(s)
                    elif s.state == "starting" and now - s.since > STARTUP_TIMEOUT:
                        self._startup_failed(s, f"no ready line within {STARTUP_TIMEOUT:g} s")
        finally:
            for s in mine:
                if s.state == "busy":  # its pending replies would reach the next caller
                    self._recycle(s)
            self._release(mine, list(mine))
        return [r if r is not None else Score(False, "error", "lost") for r in results]

    def _on_readable(self, s: _Slot, results: list[Score | None], queue: collections.deque, mine: list[_Slot]) -> None:
        lines = s.read()
        if lines is None:  # the worker exited
            if s.state == "busy":
                died = Score(False, "error", "worker_died", detail="the worker exited on this sample")
                results[s.chunk[s.pos]] = died
                s.pos += 1
                self._requeue_rest(s, queue)
                self._recycle(s)
            else:
                self._startup_failed(s, "the worker exited while starting")
            return
        for reply in lines:
            if isinstance(reply, dict):  # {"ready": pid}
                s.state, s.failures = "idle", 0
                continue
            results[reply[0]] = Score.from_wire(reply[1:])
            s.pos += 1
            s.since = time.monotonic()
            if s.pos == len(s.chunk):
                s.state, s.chunk, s.pos = "idle", [], 0
                if self.waiting and len(mine) > 1:  # let another caller in
                    self._release(mine, [s])

    @staticmethod
    def _requeue_rest(s: _Slot, queue: collections.deque) -> None:
        """The samples sent to a worker that will not answer them go back to the front of the queue."""
        rest = s.chunk[s.pos :]
        for i in range(0, len(rest), MAX_CHUNK):
            queue.appendleft(rest[i : i + MAX_CHUNK])

    def _recycle(self, s: _Slot) -> None:
        # Kill now and start the successor right away: its startup overlaps the rest of the batch.
        s.kill()
        s.start(self.env)

    def _startup_failed(self, s: _Slot, why: str) -> None:
        s.kill()
        s.failures += 1
        if s.failures >= 3:
            s.failures = 0
            raise RewardError(f"matheval reward worker does not start ({why}); run `python -m matheval.reward._worker`")

    def _spec_id(self, spec: RewardSpec) -> str:
        with self.cond:
            return self.spec_ids.setdefault(spec, str(len(self.spec_ids)))

    def _claim(self, mine: list[_Slot], extra: int) -> None:
        if extra <= 0:
            return
        with self.cond:
            for s in self.slots:
                if extra > 0 and not s.claimed:
                    s.claimed = True
                    mine.append(s)
                    extra -= 1

    def _release(self, mine: list[_Slot], slots: list[_Slot]) -> None:
        with self.cond:
            for s in slots:
                s.claimed = False
                mine.remove(s)
            self.cond.notify_all()

    def _wait_for_slot(self) -> None:
        with self.cond:
            self.waiting += 1
            self.cond.wait(timeout=0.2)
            self.waiting -= 1

    def start(self) -> None:
        """Start every free worker and wait until they are ready (e.g. before training begins)."""
        mine: list[_Slot] = []
        self._claim(mine, len(self.slots))
        try:
            for s in mine:
                if s.state == "down":
                    s.start(self.env)
            while any(s.state == "starting" for s in mine):
                starting = [s for s in mine if s.state == "starting"]
                wait = max(0.0, min(s.since for s in starting) + STARTUP_TIMEOUT - time.monotonic())
                readable, _, _ = select.select([s.proc.stdout for s in starting if s.proc], [], [], wait)
                for s in starting:
                    if s.proc is not None and s.proc.stdout in readable:
                        self._on_readable(s, [], collections.deque(), mine)
                    elif time.monotonic() - s.since > STARTUP_TIMEOUT:
                        self._startup_failed(s, f"no ready line within {STARTUP_TIMEOUT:g} s")
                    if s.state == "down":
                        s.start(self.env)
        finally:
            self._release(mine, list(mine))

    def close(self) -> None:
        """Kill every worker group now (idle ones included); the pool restarts them if used again."""
        with self.cond:
            for s in self.slots:
                if os.getpid() == self.pid:
                    s.kill()

    def pids(self) -> list[int]:
        """Process-group ids of the running workers (for tests and monitoring)."""
        return [s.proc.pid for s in self.slots if s.proc is not None]


def _at(values: Sequence[Any] | None, i: int) -> Any:
    return None if values is None else values[i]


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # The workers import this very matheval, installed or not.
    root = str(Path(__file__).resolve().parent.parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["MATHEVAL_GRADER_WORKERS"] = "1"  # a worker grades one sample at a time: one sympy process
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
