"""Harness side of the sandbox: start `_child.py` in a new session with a scrubbed environment, read
its output under a cap, enforce the wall clock, kill everything it started, remove its directory."""

from __future__ import annotations

import atexit
import functools
import json
import marshal
import os
import py_compile
import shutil
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
from matheval.sandbox.result import Limits, Result, decode_stream, outcome, parse_messages

_HERE = Path(__file__).resolve().parent
# Importing _child (rather than running it as a script) lets the interpreter use its cached bytecode.
_CHILD_CMD = f"import sys; sys.path.insert(0, {str(_HERE)!r}); import _child; _child.main()"
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
    site_dirs = tuple(p for p in path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir())
    binds: list[str] = []
    for p in sorted({*_SYSTEM_PATHS, prefix, base_prefix, *site_dirs}, key=len):
        if os.path.lexists(p) and not any(p.startswith(b.rstrip("/") + "/") for b in binds):
            binds.append(p)
    return tuple(binds), site_dirs


_base_lock = threading.Lock()
_base: tuple[int, str] | None = None  # (pid that made it, path)


def _base_dir() -> str:
    """One directory per harness process: the mount point for namespace runs and the parent of
    fallback runs' working dirs. Traversable but not listable, so uid 65534 reaches its own work dir.
    Made again after a fork (the child must not share, nor delete, its parent's) or if a temp
    cleaner removed it."""
    global _base
    with _base_lock:
        if _base is None or _base[0] != os.getpid() or not os.path.isdir(os.path.join(_base[1], "root")):
            if _base is None:
                _remove_stale_bases()
            path = tempfile.mkdtemp(prefix=f"matheval-sandbox-{os.getpid()}-")
            os.chmod(path, 0o711)
            os.mkdir(os.path.join(path, "root"), 0o700)
            _base = (os.getpid(), path)
            atexit.register(_remove_base, os.getpid(), path)
        return _base[1]


def _remove_stale_bases() -> None:
    """Base dirs of harness processes that were killed (no atexit ran): gone process, ours, and idle
    for an hour (the age check spares a live harness whose PID we cannot see from here)."""
    tmp = tempfile.gettempdir()
    for name in os.listdir(tmp):
        pid = name.split("-")[2] if name.startswith("matheval-sandbox-") and name.count("-") >= 3 else ""
        path = os.path.join(tmp, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        stale = time.time() - st.st_mtime > 3600 and st.st_uid == os.geteuid()
        if pid.isdigit() and stale and not os.path.exists(f"/proc/{pid}"):
            remove_tree(path)


def _remove_base(owner: int, path: str) -> None:
    if os.getpid() == owner:  # atexit handlers also run in a forked child that exits normally
        shutil.rmtree(path, ignore_errors=True)


def _protected_paths() -> list[str]:
    """Fallback mode only: paths the audit hook refuses to read (the harness's repo and its parent,
    which holds datasets and results, the working dir, home, and the temp dir of other runs)."""
    repo = Path(__file__).resolve().parents[2]
    return [str(repo), str(repo.parent), os.getcwd(), str(Path.home()), tempfile.gettempdir()]


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
    proc = None
    chan_r = chan_w = job_fd = -1
    start = time.monotonic()
    try:
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
        msgs = parse_messages(bufs["channel"])
    finally:
        for fd in (chan_r, chan_w, job_fd):
            if fd >= 0:
                os.close(fd)
        if proc is not None:
            # Closed first: a process blocked writing to a full pipe gets EPIPE instead of waiting.
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            stop(proc, run_id, cgroup)
        if cgroup is not None:
            oom = cgroup.oom_killed()
            cgroup.remove()
        if os.path.lexists(work_dir):
            remove_tree(work_dir)
    wall = time.monotonic() - start
    status, error, value, exit_code = outcome(
        proc.returncode, reason, msgs, timeout, lim.max_output_bytes, cgroup is not None and oom
    )
    info = next((m for m in msgs if "isolation" in m), {"isolation": mode, "detail": "child did not report"})
    details = "; ".join(str(d) for d in [info.get("detail"), *(m["note"] for m in msgs if "note" in m)] if d)
    isolation_desc = f"{info['isolation']}{'+cgroup' if cgroup else ''} ({details})"
    if status == "sandbox_error" and isolation == "auto" and info["isolation"] == "namespaces":
        # Namespaces exist but building the private root failed: use the fallback from now on, loudly.
        with _broken_lock:
            if _namespaces_broken is None:
                warnings.warn(
                    f"matheval.sandbox: {error}; using the weaker fallback mode", RuntimeWarning, stacklevel=2
                )
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
        stdout=decode_stream(bufs["stdout"], "stdout" in over, lim.max_output_bytes),
        stderr=decode_stream(bufs["stderr"], "stderr" in over, lim.max_output_bytes),
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
