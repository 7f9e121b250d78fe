"""A small pool of killable sympy processes: the hard time limit of the symbolic step.

`signal.alarm` only works in the main thread and cannot interrupt C code; a child process can be
killed from anywhere. Each worker is a plain process speaking JSON lines (not multiprocessing),
so it also starts from daemonic pool workers, which multiprocessing forbids to have children.
Workers are forked by a warm fork server (fork_server.py), so one killed at its deadline is
replaced in milliseconds; where the server cannot run, each worker is its own interpreter. After
`os.fork` the child forgets the parent's workers and starts its own.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import select
import subprocess
import sys
import threading
import time
from typing import Any

from .fork_server import FLAGS, SCRIPT, ForkedWorker, ForkServer, ForkServerError
from .limits import STARTUP_TIMEOUT, WORKER_LIMITS

_ids = itertools.count(1)


class WorkerError(RuntimeError):
    """The worker process died or answered garbage."""


class _Worker:
    """One sympy process: forked by `server`, or (server None) spawned as a new interpreter."""

    def __init__(self, server: ForkServer | None = None) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.forked: ForkedWorker | None = None
        if server is not None:
            try:
                self.forked = server.fork()
            except ForkServerError as exc:
                raise WorkerError(str(exc)) from exc
            self.stdin, self.stdout = self.forked.stdin, self.forked.stdout
        else:
            self.proc = subprocess.Popen(
                [sys.executable or "python3", *FLAGS, str(SCRIPT), json.dumps(WORKER_LIMITS)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                bufsize=0,
                close_fds=True,
            )
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.stdin, self.stdout = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self.buffer = b""
        ready = self._read_line(time.monotonic() + STARTUP_TIMEOUT)
        if ready is None or not ready.get("ready"):
            self.kill()
            raise WorkerError("sympy worker did not start")

    def request(self, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The reply, or None after killing the worker when `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        rid = next(_ids)
        data = memoryview((json.dumps({**payload, "id": rid}) + "\n").encode())
        try:
            while data:
                data = data[os.write(self.stdin, data) :]
        except OSError as exc:  # BrokenPipe: the worker died
            self.kill()
            raise WorkerError(f"worker pipe closed: {exc}") from exc
        reply = self._read_line(deadline)
        if reply is None:
            self.kill()
            return None
        if reply.get("id") != rid:
            self.kill()
            raise WorkerError("out-of-order reply")
        return reply

    def _read_line(self, deadline: float) -> dict[str, Any] | None:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.stdout], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.stdout, 1 << 16)
            if not chunk:
                self.kill()
                raise WorkerError("worker exited")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError as exc:
            self.kill()
            raise WorkerError("unreadable reply") from exc

    def kill(self) -> None:
        # Only this worker's own pid is signalled.
        if self.forked is not None:
            self.forked.kill()
            return
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Shutdown: a forked worker is killed (it holds no state); a spawned one gets EOF first."""
        if self.proc is not None:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()

    def forget(self) -> None:
        """In a forked child of the grader: close this worker's pipes without signalling it."""
        if self.forked is not None:
            self.forked.done = True
            for fd in (self.forked.stdin, self.forked.stdout, self.forked.pidfd):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            return
        assert self.proc is not None
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.proc.returncode = 0  # keeps Popen.__del__ from touching the parent's process


class _Pool:
    """Up to `size` workers; a caller takes an idle one, else waits for one being started, else
    starts one. A killed worker's successor is started in the background right away."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self.slots = threading.BoundedSemaphore(size)
        self.cond = threading.Condition()
        self.idle: list[_Worker] = []
        self.all: set[_Worker] = set()
        self.starting = 0
        self.server: ForkServer | None = None
        self.server_lock = threading.Lock()
        self.server_failed = False

    def call(self, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        with self.slots:
            w = self._take()
            try:
                reply = w.request(payload, timeout)
            except WorkerError:
                with self.cond:
                    self.all.discard(w)
                raise
            with self.cond:
                if reply is None:
                    self.all.discard(w)
                else:
                    self.idle.append(w)
                    self.cond.notify()
            if reply is None:
                self._start_in_background()
            return reply

    def _take(self) -> _Worker:
        with self.cond:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not self.idle and self.starting and time.monotonic() < deadline:
                self.cond.wait(timeout=1.0)
            if self.idle:
                return self.idle.pop()
            self.starting += 1
        try:
            w = self._new_worker()
        finally:
            with self.cond:
                self.starting -= 1
        with self.cond:
            self.all.add(w)
        return w

    def _new_worker(self) -> _Worker:
        """A forked worker; a spawned one only where the fork server cannot run."""
        with self.server_lock:
            if self.server is not None and not self.server.alive():
                self.server.close()
                self.server = None
            if self.server is None and not self.server_failed:
                try:
                    self.server = ForkServer()
                except (ForkServerError, OSError):
                    self.server_failed = True
            server = self.server
        if server is not None:
            try:
                return _Worker(server)
            except WorkerError:
                if server.alive():
                    raise
        return _Worker()

    def _start_in_background(self) -> None:
        def start() -> None:
            try:
                w = self._new_worker()
            except (WorkerError, OSError):
                w = None
            with self.cond:
                self.starting -= 1
                if w is not None and self.pid == os.getpid() and len(self.all) < self.size:
                    self.all.add(w)
                    self.idle.append(w)
                    w = None
                self.cond.notify_all()
            if w is not None:
                w.close()

        with self.cond:
            self.starting += 1
        threading.Thread(target=start, name="matheval-grader-restart", daemon=True).start()

    def shutdown(self) -> None:
        with self.cond:
            workers, self.all, self.idle = list(self.all), set(), []
        for w in workers:
            w.close()
        with self.server_lock:
            server, self.server = self.server, None
        if server is not None:
            server.close()

    def forget(self) -> None:
        """In a forked child: drop the parent's workers and fork server without signalling them."""
        for w in self.all:
            w.forget()
        self.all, self.idle = set(), []
        if self.server is not None:
            self.server.forget()
            self.server = None


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def pool_size() -> int:
    try:
        return max(1, int(os.environ.get("MATHEVAL_GRADER_WORKERS", "2")))
    except ValueError:
        return 2


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = _Pool(pool_size())
        return _POOL


def call(payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
    """Send one request to a worker; None on timeout, {"error": ...} if the worker broke."""
    try:
        return _pool().call(payload, timeout)
    except WorkerError as exc:
        return {"error": str(exc)}


def warm_up() -> None:
    """Start one worker now, so the first symbolic comparison does not pay sympy's import."""
    call({"op": "ping"}, STARTUP_TIMEOUT)


def shutdown() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.shutdown()


def _after_fork_in_child() -> None:
    global _POOL, _POOL_LOCK
    _POOL_LOCK = threading.Lock()  # a lock held by another parent thread would never be released
    if _POOL is not None:
        _POOL.forget()
    _POOL = None


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(shutdown)
