"""Harness-side process supervision for the sandbox: read the child's pipes under a cap and a
deadline, kill every process of a run and wait until all are gone, remove its directory."""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time
import warnings

from matheval.sandbox._cgroup import Cgroup
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


STUCK_AFTER = 30.0  # seconds of killing before the harness stops waiting on a supervisor (a kernel hang)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _scan(run_id: str, sid: int, cgroup_pids: set[int]) -> dict[int, str]:
    """Live processes of a run whose supervisor is gone, with their start times: those carrying the
    run id on their command line (every fork of the supervisor does), those in its session, and
    those in the run's cgroup."""
    found = {}
    token = run_id.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        fields = _stat(int(entry))
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if fields and fields[0] not in ("Z", "X"):
            if token in cmdline or int(entry) in cgroup_pids or int(fields[3]) == sid:
                found[int(entry)] = fields[19]
    return found


def _alive(pid: int, start_time: str) -> bool:
    """Still running? A zombie is dead; if it is our own child (we are a subreaper and it was
    reparented to us), reap it. A different start time means the pid was recycled: ours is gone."""
    fields = _stat(pid)
    if fields is None or fields[19] != start_time:
        return False
    if fields[0] in ("Z", "X"):
        if int(fields[1]) == os.getpid():
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        return False
    return True


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def stop(proc: subprocess.Popen[bytes], run_id: str, cgroup: Cgroup | None) -> None:
    """Kill everything the run started; return only once all of it is gone.

    While the supervisor lives, every process of the run is its descendant (the tree under the
    namespace's init, or orphans reparented to it as child subreaper). So kill its descendants,
    round after round, until the supervisor has reaped the last one and exits by itself. It is never
    killed first: its children would be reparented out of the tree (to the machine's init) and
    outlive the call (a namespace init dies of its parent-death signal, but asynchronously).
    Our own read ends of the pipes are closed by then, so nobody can block writing to them."""
    started = time.monotonic()
    delay = 0.0005
    while proc.poll() is None:
        _kill(descendants(proc.pid))
        if time.monotonic() - started > STUCK_AFTER:
            # Something of the run is stuck in the kernel; the sweep below still waits for it.
            _kill([proc.pid])
            proc.wait()
            break
        time.sleep(delay)
        delay = min(2 * delay, 0.01)
    # A supervisor that exited by itself reaped everything first. One that was killed (the cgroup's
    # OOM killer, a fallback program that got past the audit hook, the bound above) may have left
    # processes behind: find them by run id, session and cgroup, kill them, and wait for each.
    if proc.returncode >= 0 and (cgroup is None or not cgroup.pids()):
        return
    killed: dict[int, str] = {}
    while True:
        found = _scan(run_id, proc.pid, cgroup.pids() if cgroup is not None else set())
        _kill(list(found))
        killed.update(found)
        killed = {pid: t for pid, t in killed.items() if _alive(pid, t)}
        if not killed:
            return
        if time.monotonic() - started > 2 * STUCK_AFTER:
            warnings.warn(f"matheval.sandbox: processes {sorted(killed)} of a run would not die", RuntimeWarning, 3)
            return
        time.sleep(0.002)


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
