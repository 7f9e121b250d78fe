"""Harness-side process supervision for the sandbox: read the child's pipes under a cap and a
deadline, kill every process of a run, remove its directory."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time

from matheval.sandbox._isolate import descendants


def remove_tree(path: str) -> None:
    """rmtree that survives a program having chmod-ed its own directories to 0 (fallback mode)."""
    shutil.rmtree(path, ignore_errors=True)
    if not os.path.lexists(path):
        return
    for root, dirs, _ in os.walk(path, onerror=lambda _: None):
        for d in dirs:
            full = os.path.join(root, d)
            if not os.path.islink(full):
                try:
                    os.chmod(full, 0o700)
                except OSError:
                    pass
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    shutil.rmtree(path, ignore_errors=True)


def _session_members(sid: int) -> list[int]:
    """Processes whose session id is `sid` (field 6 of /proc/PID/stat)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if len(fields) > 3 and int(fields[3]) == sid:
                found.append(int(entry))
    return found


def stop(proc: subprocess.Popen[bytes], sweep_session: bool) -> None:
    """Kill everything the run started and reap the supervisor. Descendants go first: the supervisor
    reaps them (it is the subreaper or sits above the namespace init) and then exits by itself; a
    process counts as gone only once reaped. Without a PID namespace, anything still in the run's
    session dies too (only a process whose supervisor was killed could have got out of the tree)."""
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        kids = descendants(proc.pid)
        if not kids:
            break
        for kid in kids:
            try:
                os.kill(kid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.005)
    for pid in _session_members(proc.pid) if sweep_session else []:
        if pid != proc.pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    # Popen.wait(timeout) sleeps in steps of up to 50 ms; the supervisor is normally already exiting.
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.0005)
    if proc.poll() is None:
        for kill, target in ((os.killpg, proc.pid), (os.kill, proc.pid)):
            try:
                kill(target, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()


def collect(
    proc: subprocess.Popen[bytes], chan: int, deadline: float, cap: int
) -> tuple[dict[str, bytearray], set[str], str | None]:
    """Read stdout, stderr and the result channel until EOF, the deadline, or a stream over `cap`."""
    assert proc.stdout is not None and proc.stderr is not None
    names = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr", chan: "channel"}
    caps = {"stdout": cap, "stderr": cap, "channel": 4 * cap + 4096}
    bufs = {name: bytearray() for name in names.values()}
    over: set[str] = set()
    sel = selectors.DefaultSelector()
    for fd, name in names.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    exited_at: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if now >= deadline:
                return bufs, over, "timeout"
            if proc.poll() is not None:
                exited_at = exited_at or now
                if now - exited_at > 1.0:
                    return bufs, over, None  # something else still holds a pipe; killed by caller
            for key, _ in sel.select(timeout=min(deadline - now, 0.25)):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                buf = bufs[key.data]
                room = caps[key.data] - len(buf)
                buf += chunk[:room]
                if len(chunk) > room and key.data != "channel":
                    over.add(key.data)
                    return bufs, over, "output_limit"
        return bufs, over, None
    finally:
        sel.close()
