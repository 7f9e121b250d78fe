"""The client of the sympy fork server: a warm process that forks sympy workers in milliseconds.

Starting a sympy worker from scratch (a new interpreter importing sympy and latex2sympy2 and
warming the ANTLR parser up) costs over a second of CPU; a worker killed at its time limit used to
pay that again. The fork server (sympy_worker.py --fork-server) pays it once; each worker is then
a fork of it, ready in milliseconds. The hard kill stays what it was: SIGKILL of the worker's own
pid (through a pidfd where the kernel has them), sent from here, whatever the server is doing.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .limits import STARTUP_TIMEOUT, WORKER_LIMITS

SCRIPT = Path(__file__).with_name("sympy_worker.py")
# -P (3.11+): do not put the script's folder first on sys.path, where sibling modules could
# shadow the standard library.
FLAGS = ("-u", "-P") if sys.version_info >= (3, 11) else ("-u",)


class ForkServerError(RuntimeError):
    """The fork server is not running (did not start, or died)."""


class ForkedWorker:
    """The parent's end of one forked worker: its pid, pipes and (where available) pidfd."""

    def __init__(self, server: ForkServer, pid: int, stdin: int, stdout: int) -> None:
        self.server, self.pid, self.stdin, self.stdout = server, pid, stdin, stdout
        try:
            # The server reaps only when told, so the pid cannot be reused before this line.
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None
        self.done = False

    def kill(self) -> None:
        """SIGKILL the worker, close its pipes, and let the server reap it."""
        if self.done:
            return
        self.done = True
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass
        for fd in (self.stdin, self.stdout, self.pidfd):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.server.reap(self.pid)


class ForkServer:
    """One fork server process per grader pool; `fork()` is thread-safe."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [sys.executable or "python3", *FLAGS, str(SCRIPT), json.dumps(WORKER_LIMITS),
                 "--fork-server", str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), close_fds=True,
            )
        finally:
            theirs.close()
        self.sock = ours
        self.lock = threading.Lock()
        self.buffer = b""
        if self._line(STARTUP_TIMEOUT) != "ready":
            self.close()
            raise ForkServerError("the sympy fork server did not start")

    def fork(self, timeout: float = 10.0) -> ForkedWorker:
        """A new worker, its ready line not yet read (worker.py reads it)."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            with self.lock:
                try:
                    socket.send_fds(self.sock, [b"fork\n"], [to_child_r, from_child_w])
                    line = self._line(timeout)
                except OSError as exc:
                    raise ForkServerError(f"fork server gone: {exc}") from exc
        except BaseException:
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        if not line.startswith("pid "):
            for fd in (to_child_w, from_child_r):
                os.close(fd)
            raise ForkServerError(f"fork server answered {line!r}")
        return ForkedWorker(self, int(line[4:]), to_child_w, from_child_r)

    def reap(self, pid: int) -> None:
        with self.lock:
            try:
                self.sock.sendall(f"reap {pid}\n".encode())
            except OSError:
                pass  # the server is gone, and with it its children's zombies

    def _line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return ""
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if not ready:
                return ""
            chunk = self.sock.recv(4096)
            if not chunk:
                return ""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """EOF on the socket: the server kills and reaps its workers, then exits."""
        try:
            self.sock.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def forget(self) -> None:
        """In a forked child of the grader: drop this server without touching it."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.proc.returncode = 0  # keeps Popen.__del__ from touching the parent's process
