"""Harness side of the sandbox: start `_child.py` in a new session with a scrubbed environment, read
its output under a cap, enforce the wall clock, kill everything it started, remove its directory."""

from __future__ import annotations

import ast
import atexit
import functools
import json
import marshal
import os
import py_compile
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from matheval.sandbox import _cgroup
from matheval.sandbox._supervise import collect, remove_tree, stop
from matheval.sandbox.result import STATUSES, TRUNCATION_MARKER, Limits, Result

_HERE = Path(__file__).resolve().parent
# Importing _child (rather than running it as a script) lets the interpreter use its cached bytecode.
_CHILD_CMD = f"import sys; sys.path.insert(0, {str(_HERE)!r}); import _child; _child.main()"
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
    for name in ("_child", "_guard", "_isolate"):  # children run with -B: write their bytecode once
        try:
            py_compile.compile(str(_HERE / f"{name}.py"), doraise=False, quiet=2)
        except OSError:
            pass  # a read-only install: the child just compiles its source each time
    site_dirs = tuple(
        p for p in path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()
    )
    binds: list[str] = []
    for p in sorted({*_SYSTEM_PATHS, prefix, base_prefix, *site_dirs}, key=len):
        if os.path.lexists(p) and not any(p.startswith(b.rstrip("/") + "/") for b in binds):
            binds.append(p)
    return tuple(binds), site_dirs


@functools.cache
def _base_dir() -> str:
    """One directory per harness process: the mount point for namespace runs and the parent of
    fallback runs' working dirs. Traversable but not listable, so uid 65534 reaches its own work dir."""
    base = tempfile.mkdtemp(prefix="matheval-sandbox-")
    os.chmod(base, 0o711)
    os.mkdir(os.path.join(base, "root"), 0o700)
    atexit.register(shutil.rmtree, base, ignore_errors=True)
    return base


def _protected_paths() -> list[str]:
    """Fallback mode only: paths the audit hook refuses to read (the harness's repo and its parent,
    which holds datasets and results, the working dir, home, and the temp dir of other runs)."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo), str(repo.parent), os.getcwd(), str(Path.home()), tempfile.gettempdir()]


def _decode(data: bytearray, truncated: bool, cap: int) -> str:
    text = data.decode("utf-8", errors="replace")
    return text + TRUNCATION_MARKER.format(limit=cap) if truncated else text


def _messages(channel: bytearray) -> list[dict[str, object]]:
    """The child's reports: one dict literal per line. The program can write here too, so parse
    with literal_eval (never eval) and treat what comes back only as its own claims."""
    found = []
    for line in channel.decode("utf-8", errors="replace").splitlines():
        try:
            msg = ast.literal_eval(line)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
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


def _release(proc: subprocess.Popen[bytes]) -> None:
    """Let the child go on past its start (see _child.main); it may already have died."""
    assert proc.stdin is not None
    try:
        os.write(proc.stdin.fileno(), b"g")
    except OSError:
        pass
    finally:
        proc.stdin.close()  # nothing buffered, so closing cannot fail


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
    base = _base_dir()
    run_id = uuid.uuid4().hex
    # Only the fallback writes here (the child creates it); namespace mode works in a private tmpfs.
    work_dir = os.path.join(base, f"run-{run_id}")
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
        # Every run mounts its new root on this same directory, each in its own mount namespace.
        "root_dir": os.path.join(base, "root"),
        "work_dir": work_dir,
        "binds": list(binds),
        "site_dirs": list(site_dirs),
        "protected": _protected_paths(),
        "channel_fd": chan_w,
        "parent_pid": os.getpid(),
    }
    # The job travels in an anonymous memory file: no per-run file to create and delete on disk.
    job_fd = os.memfd_create("matheval-sandbox-job", os.MFD_CLOEXEC)
    os.write(job_fd, marshal.dumps(job, 4))  # version 4 is read by every Python 3 the child may be
    os.lseek(job_fd, 0, os.SEEK_SET)
    start = time.monotonic()
    proc = None
    contained = False  # the child reported namespace mode: nothing can have left the PID namespace
    try:
        proc = subprocess.Popen(
            # The run id is only there so that every process of the run can be found in /proc.
            [python, "-s", "-S", "-B", "-c", _CHILD_CMD, str(job_fd), run_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(chan_w, job_fd),
            env=_ENV,
            cwd=base,
            start_new_session=True,
        )
        for fd in (chan_w, job_fd):
            os.close(fd)
        chan_w = job_fd = -1
        if cgroup is not None:
            cgroup.add(proc.pid)
        _release(proc)
        bufs, over, reason = collect(proc, chan_r, start + timeout, lim.max_output_bytes)
        msgs = _messages(bufs["channel"])
        contained = any(m.get("isolation") == "namespaces" for m in msgs)
    finally:
        for fd in (chan_r, chan_w, job_fd):
            if fd >= 0:
                os.close(fd)
        if proc is not None:
            stop(proc, sweep_session=not contained)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if cgroup is not None:
            oom = cgroup.oom_killed()
            cgroup.remove()
        if os.path.lexists(work_dir):
            remove_tree(work_dir)
    wall = time.monotonic() - start
    status, error, value, exit_code = _outcome(
        proc.returncode, reason, msgs, timeout, lim.max_output_bytes, cgroup is not None and oom
    )
    info = next((m for m in msgs if "isolation" in m), {"isolation": mode, "detail": "child did not report"})
    details = "; ".join(str(d) for d in [info.get("detail"), *(m["note"] for m in msgs if "note" in m)] if d)
    isolation_desc = f"{info['isolation']}{'+cgroup' if cgroup else ''} ({details})"
    if status == "sandbox_error" and isolation == "auto" and info["isolation"] == "namespaces":
        # Namespaces exist but building the private root failed: use the fallback from now on, loudly.
        with _broken_lock:
            if _namespaces_broken is None:
                warnings.warn(f"matheval.sandbox: {error}; using the weaker fallback mode", stacklevel=2)
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
