"""Harness side of the sandbox: start `_child.py` in a new session with a scrubbed environment, read
its output under a cap, enforce the wall clock, kill everything it started, remove its directory."""

from __future__ import annotations

import functools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from matheval.sandbox import _cgroup
from matheval.sandbox._isolate import descendants
from matheval.sandbox.result import STATUSES, TRUNCATION_MARKER, Limits, Result

_CHILD = Path(__file__).with_name("_child.py")
_SETUP_FAILED = 125
ISOLATION_MODES = ("auto", "namespaces", "fallback")

# The whole environment of the program: nothing of the harness's (API keys, tokens, paths) leaks in.
# One BLAS/OpenMP thread each, because RLIMIT_NPROC counts threads.
_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",
    "PYTHONIOENCODING": "utf-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
# Shown read-only inside the private root, at their own paths (besides the Python install).
_SYSTEM_PATHS = (
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/lib32",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
)

_broken_lock = threading.Lock()
_namespaces_broken: str | None = None  # set once "auto" found that namespace setup fails here


@functools.cache
def _python_layout(python: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(paths to bind, site-packages dirs) for `python`: its install and venv plus the site dirs its
    normal startup would add. Only *site-packages* entries are taken from sys.path, so a repo that an
    editable install or the test runner put on sys.path is never exposed."""
    probe = "import json, sys; print(json.dumps([sys.prefix, sys.base_prefix, sys.path]))"
    out = subprocess.run([python, "-c", probe], capture_output=True, text=True, env=_ENV, check=True)
    prefix, base_prefix, path = json.loads(out.stdout)
    site_dirs = tuple(
        p for p in path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()
    )
    binds: list[str] = []
    for p in sorted({*_SYSTEM_PATHS, prefix, base_prefix, *site_dirs}, key=len):
        if os.path.lexists(p) and not any(p.startswith(b.rstrip("/") + "/") for b in binds):
            binds.append(p)
    return tuple(binds), site_dirs


def _protected_paths() -> list[str]:
    """Fallback mode only: paths the audit hook refuses to read (the harness's repo and its parent,
    which holds datasets and results, the working dir, home, and the temp dir of other runs)."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo), str(repo.parent), os.getcwd(), str(Path.home()), tempfile.gettempdir()]


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


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Kill everything the run started and reap the supervisor. Descendants go first: the supervisor
    reaps them (it is the subreaper or sits above the namespace init) and then exits by itself; a
    process counts as gone only once reaped. Finally anything still in the run's session dies."""
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
    for pid in _session_members(proc.pid):
        if pid != proc.pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        proc.wait(timeout=max(0.2, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        for kill, target in ((os.killpg, proc.pid), (os.kill, proc.pid)):
            try:
                kill(target, signal.SIGKILL)
            except OSError:
                pass
        proc.wait()


def _collect(
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


def _decode(data: bytearray, truncated: bool, cap: int) -> str:
    text = data.decode("utf-8", errors="replace")
    return text + TRUNCATION_MARKER.format(limit=cap) if truncated else text


def _messages(channel: bytearray) -> list[dict[str, object]]:
    found = []
    for line in channel.decode("utf-8", errors="replace").splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict):
            found.append(msg)
    return found


def _outcome(
    rc: int, reason: str | None, msgs: list[dict[str, object]], timeout: float, cap: int, oom: bool
) -> tuple[str, str | None, str | None, int | None]:
    """(status, error, value, exit_code) from what the harness saw and what the child reported."""
    if reason == "timeout":
        return "timeout", f"TimeoutError: exceeded the {timeout:g} s wall-clock limit", None, None
    if reason == "output_limit":
        return "output_limit", f"OutputLimitError: output exceeded {cap} bytes", None, None
    code = rc if rc < 0 else (128 - rc if rc > 128 else rc)  # child encodes a signal N as 128+N
    final = [m for m in msgs if "status" in m]
    if final:
        last = final[-1]
        status = str(last["status"]) if last["status"] in STATUSES else "error"
        error = None if last.get("error") is None else str(last["error"])
        value = None if last.get("value") is None else str(last["value"])
        return status, error, value, code
    if code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return "timeout", "TimeoutError: CPU time limit exceeded", None, code
        if oom:
            return "memory", "MemoryError: killed by the out-of-memory killer", None, code
        return "killed", f"killed by {signal.Signals(sig).name if sig < 65 else sig}", None, code
    if code == _SETUP_FAILED:
        return "sandbox_error", "sandbox failed to start (see stderr)", None, code
    if code != 0:
        return "error", f"exit code {code}", None, code
    return "ok", None, None, code


def run_code(
    code: str,
    timeout: float = 10.0,
    *,
    setup_code: str = "",
    result_expr: str | None = None,
    limits: Limits | None = None,
    isolation: str = "auto",
    python: str | None = None,
) -> Result:
    """Run `code` in a fresh sandboxed interpreter; never raises for anything the code does.

    setup_code runs first in the same namespace with its output discarded (used to replay earlier
    tool-call blocks). result_expr, e.g. "solution()", is evaluated afterwards inside the sandbox and
    its repr() returned as Result.value. isolation: "auto" (namespaces, else the fallback),
    "namespaces" (required: sandbox_error if unavailable) or "fallback" (force the weaker mode)."""
    global _namespaces_broken
    if isolation not in ISOLATION_MODES:
        raise ValueError(f"isolation must be one of {ISOLATION_MODES}, not {isolation!r}")
    if timeout <= 0:
        raise ValueError("timeout must be positive")
    lim = limits or Limits()
    python = python or sys.executable
    mode = "fallback" if isolation == "auto" and _namespaces_broken else isolation
    binds, site_dirs = _python_layout(python)
    tmp = tempfile.mkdtemp(prefix="matheval-sandbox-")
    os.chmod(tmp, 0o711)  # uid 65534 must reach work/ in root fallback mode; nobody may list it
    for sub in ("work", "root"):
        os.mkdir(os.path.join(tmp, sub), 0o700)
    oom = False
    cgroup = _cgroup.create((lim.memory_mb + lim.disk_mb + 64) << 20, lim.max_processes + 8)
    chan_r, chan_w = os.pipe()
    job = {
        "code": code,
        "setup_code": setup_code,
        "result_expr": result_expr,
        "isolation": mode,
        "limits": {
            "cpu_seconds": lim.cpu_seconds or timeout,
            "memory_mb": lim.memory_mb,
            "max_processes": lim.max_processes,
            "max_open_files": lim.max_open_files,
            "max_file_mb": lim.max_file_mb,
            "disk_mb": lim.disk_mb,
            "max_output_bytes": lim.max_output_bytes,
        },
        "root_dir": os.path.join(tmp, "root"),
        "work_dir": os.path.join(tmp, "work"),
        "binds": list(binds),
        "site_dirs": list(site_dirs),
        "protected": _protected_paths(),
        "channel_fd": chan_w,
        "parent_pid": os.getpid(),
        "cgroup_procs": cgroup.procs_files if cgroup else [],
    }
    job_path = os.path.join(tmp, "job.json")
    with open(job_path, "w") as f:
        json.dump(job, f)
    start = time.monotonic()
    proc = None
    try:
        proc = subprocess.Popen(
            [python, "-s", "-S", "-B", str(_CHILD), job_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(chan_w,),
            env=_ENV,
            cwd=tmp,
            start_new_session=True,
        )
        os.close(chan_w)
        chan_w = -1
        bufs, over, reason = _collect(proc, chan_r, start + timeout, lim.max_output_bytes)
    finally:
        for fd in (chan_r, chan_w):
            if fd >= 0:
                os.close(fd)
        if proc is not None:
            _stop(proc)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if cgroup is not None:
            oom = cgroup.oom_killed()
            cgroup.remove()
        shutil.rmtree(tmp, ignore_errors=True)
    wall = time.monotonic() - start
    msgs = _messages(bufs["channel"])
    status, error, value, exit_code = _outcome(
        proc.returncode, reason, msgs, timeout, lim.max_output_bytes, cgroup is not None and oom
    )
    info = next((m for m in msgs if "isolation" in m), {"isolation": mode, "detail": "child did not report"})
    isolation_desc = f"{info['isolation']}{'+cgroup' if cgroup else ''} ({info.get('detail', '')})"
    if status == "sandbox_error" and isolation == "auto" and info["isolation"] == "namespaces":
        with _broken_lock:
            _namespaces_broken = error or "namespace setup failed"
        return run_code(
            code,
            timeout,
            setup_code=setup_code,
            result_expr=result_expr,
            limits=lim,
            isolation="fallback",
            python=python,
        )
    return Result(
        ok=status == "ok",
        status=status,
        error=error,
        value=value,
        exit_code=exit_code,
        stdout=_decode(bufs["stdout"], "stdout" in over, lim.max_output_bytes),
        stderr=_decode(bufs["stderr"], "stderr" in over, lim.max_output_bytes),
        wall_time=round(wall, 4),
        isolation=isolation_desc,
    )


def run_many(
    codes: Sequence[str],
    timeout: float = 10.0,
    *,
    setup_codes: Sequence[str] | None = None,
    result_expr: str | None = None,
    limits: Limits | None = None,
    isolation: str = "auto",
    max_workers: int | None = None,
) -> list[Result]:
    """run_code over many programs from a thread pool; results in input order."""
    setups = list(setup_codes) if setup_codes is not None else [""] * len(codes)
    if len(setups) != len(codes):
        raise ValueError("setup_codes must have one entry per code")
    workers = max_workers or os.cpu_count() or 1

    def one(pair: tuple[str, str]) -> Result:
        return run_code(
            pair[0], timeout, setup_code=pair[1], result_expr=result_expr, limits=limits, isolation=isolation
        )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, zip(codes, setups, strict=True)))
