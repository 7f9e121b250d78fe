"""Entry point of a sandboxed execution, started by runner.py as
`python -s -S -B -c "...main()" JOB_FD RUN_ID` (the job is a marshal-ed dict in a memfd).

Process tree: supervisor (outside the new PID namespace, waits) -> init (PID 1 of the namespace,
builds the private root, reaps) -> program (runs the model's code). When init exits the kernel kills
everything left in the namespace. Without namespaces the supervisor forks the program directly and,
as a child subreaper, kills whatever the program left behind. Standard library only."""

from __future__ import annotations

import _signal  # not `signal`: that one imports enum, and startup time is paid on every run
import builtins
import marshal
import os
import sys
import time

import _isolate

SETUP_FAILED = 125  # exit code: the sandbox (not the program) could not be set up
_SOURCES: dict[str, str] = {}  # for tracebacks, registered with linecache only when one is printed


def _send(fd: int, message: dict[str, str | None]) -> None:
    # repr() of a dict of str/None, read back with ast.literal_eval: no json import (it costs ~10 ms).
    try:
        os.write(fd, (repr(message) + "\n").encode("utf-8", "backslashreplace"))
    except OSError:
        pass  # the program may have closed the channel; the harness copes without it


def _exit_code(status: int) -> int:
    # Encode "killed by signal N" as 128+N so it survives being passed up through init and supervisor.
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _wait_for(pid: int) -> int:
    """Reap every child (orphans land on us) until `pid` exits; return its encoded exit code."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return SETUP_FAILED
        except InterruptedError:
            continue
        if got == pid:
            return _exit_code(status)


def _error_line(exc: BaseException) -> str:
    """The last line of the traceback, e.g. "ZeroDivisionError: division by zero"."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    try:
        detail = str(exc.msg) if isinstance(exc, SyntaxError) else str(exc)
    except Exception:  # noqa: BLE001 - a program's exception may have a __str__ that raises
        detail = "<unprintable>"
    line = f"{name}: {detail}" if detail.strip() else name
    return line.strip().splitlines()[0][:500]


def _exec_source(source: str, name: str, namespace: dict[str, object]) -> None:
    _SOURCES[name] = source
    exec(compile(source, name, "exec"), namespace)  # noqa: S102 - running it is the whole point


def _run_silenced(source: str, namespace: dict[str, object]) -> None:
    """Run setup code with fds 1 and 2 pointed at /dev/null, so even subprocess output is dropped."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open("/dev/null", os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        _exec_source(source, "<setup>", namespace)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (null, *saved):
            os.close(fd)


def _failure(exc: BaseException, status: str, ns: dict[str, object], prefix: str = "") -> dict[str, str | None]:
    error = prefix + _error_line(exc)
    if isinstance(exc, MemoryError):
        # Memory is still full (the program's globals and frames): free it before anything else, and
        # skip the traceback, whose formatting would allocate again.
        exc.__traceback__ = None
        ns.clear()
        os.write(2, b"MemoryError\n")
        return {"status": "memory", "error": error, "value": None}
    try:
        import linecache  # noqa: PLC0415 - imported only when there is a traceback to print
        import traceback  # noqa: PLC0415
    except (ImportError, OSError):  # e.g. the program used up every file descriptor
        os.write(2, f"{error}\n".encode("utf-8", "backslashreplace"))
        return {"status": status, "error": error, "value": None}
    for name, source in _SOURCES.items():
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    # Skip the sandbox's own frames so the traceback starts in the program.
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(type(exc), exc, tb)
    return {"status": status, "error": error, "value": None}


def run_program(job: dict, chan: int) -> None:
    """Run setup code (silenced), the program, then `result_expr`, all in one __main__ namespace."""
    main = type(sys)("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    sys.argv = ["<program>"]
    ns = main.__dict__
    out: dict[str, str | None] = {"status": "ok", "error": None, "value": None}
    try:
        if job["setup_code"]:
            _run_silenced(job["setup_code"], ns)
    except BaseException as exc:  # noqa: BLE001 - any failure of untrusted code is a result
        out = _failure(exc, "setup_error", ns, "in setup_code: ")
    if out["status"] == "ok":
        try:
            _exec_source(job["code"], "<program>", ns)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                out = {"status": "error", "error": f"SystemExit: {exc.code}", "value": None}
        except BaseException as exc:  # noqa: BLE001
            out = _failure(exc, "error", ns)
    if out["status"] == "ok" and job["result_expr"]:
        try:
            value = repr(eval(compile(job["result_expr"], "<result>", "eval"), ns))  # noqa: S307
            out["value"] = value[: job["limits"]["max_output_bytes"]]
        except BaseException as exc:  # noqa: BLE001
            out = _failure(exc, "error", ns, "in result_expr: ")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    _send(chan, out)
    # os._exit: no atexit handlers or non-daemon threads of the program can keep us alive.
    os._exit(0 if out["status"] == "ok" else 1)


def _prepare_program(job: dict, home: str, nproc: int) -> None:
    lim = job["limits"]
    _isolate.set_rlimits(lim["cpu_seconds"], lim["memory_mb"], nproc, lim["max_open_files"], lim["max_file_mb"])
    os.chdir(home)
    os.environ.update(HOME=home, TMPDIR=home)
    here = os.path.dirname(os.path.abspath(__file__))
    # site-packages go on sys.path directly; .pth files are not run (they cost ~10 ms per execution
    # and mostly point at editable installs, which are outside the sandbox anyway).
    sys.path[:] = [p for p in sys.path if p not in ("", here)] + job["site_dirs"]
    for name in ("_child", "_guard", "_isolate"):
        sys.modules.pop(name, None)
    _signal.signal(_signal.SIGPIPE, _signal.SIG_DFL)  # behave like a normal program when a pipe closes


def _namespace_init(job: dict, chan: int) -> None:
    """PID 1 of the new namespace: build the private root, drop privileges, run the program, reap."""
    os.setsid()  # kill(0, ...) by the program must not reach the supervisor's process group
    try:
        lim = job["limits"]
        _isolate.build_root(job["root_dir"], job["binds"], lim["disk_mb"])
        if os.geteuid() == 0:
            _isolate.drop_to_nobody()
            if not _isolate.private_user_ns():
                _send(chan, {"note": "no user namespace: RLIMIT_NPROC is shared by all uid-65534 processes"})
        _isolate.drop_capabilities()
        _isolate.die_with_parent()  # again: changing uid or user namespace cleared it
    except OSError as exc:
        _send(chan, {"status": "sandbox_error", "error": f"namespace setup failed: {exc}"})
        os._exit(SETUP_FAILED)
    pid = os.fork()
    if pid == 0:
        _prepare_program(job, "/tmp", job["limits"]["max_processes"])
        run_program(job, chan)
    os._exit(_wait_for(pid))


def _fallback_program(job: dict, chan: int) -> None:
    """No namespaces: rlimits, a new process group, uid 65534 when we are root, and the audit hook."""
    import _guard  # noqa: PLC0415 - only the fallback needs it (and sys.path is cleaned below)

    os.setpgid(0, 0)  # our own group, so the guard's "own group only" rule excludes the supervisor
    lim = job["limits"]
    work = job["work_dir"]
    if job["drop_to_nobody"]:
        _isolate.drop_to_nobody()
    nproc = lim["max_processes"]
    if os.geteuid() != 0:
        # Outside a user namespace RLIMIT_NPROC counts every process of the uid, so add the current count.
        nproc += _isolate.count_tasks(os.geteuid())
    try:
        _isolate.drop_capabilities()
    except OSError:
        pass
    # No PID namespace collapses if the supervisor is killed, so follow it. Armed only now because
    # changing uid clears the parent-death signal.
    _isolate.die_with_parent()
    _prepare_program(job, work, nproc)
    _guard.install(work, job["protected"], [sys.prefix, sys.base_prefix, *job["site_dirs"], "/dev/null"])
    run_program(job, chan)


def _kill_leftovers() -> None:
    """Fallback cleanup: kill every remaining descendant (they reparent to us as subreaper) and
    reap them all, so that when we exit nothing of the run is left, not even a zombie. No deadline:
    exiting earlier would hand the survivors to the machine's init (the harness bounds the wait)."""
    while True:
        for pid in _isolate.descendants(os.getpid()):
            try:
                os.kill(pid, _signal.SIGKILL)
            except OSError:
                pass
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                time.sleep(0.002)
        except ChildProcessError:
            return


def main() -> None:
    with os.fdopen(int(sys.argv[1]), "rb") as f:
        job = marshal.load(f)
    chan = job["channel_fd"]
    os.set_inheritable(chan, False)  # programs the code starts do not get the result channel
    _isolate.die_with_parent()
    if os.getppid() != job["parent_pid"]:
        os._exit(SETUP_FAILED)  # the harness died before we could arm the death signal
    # The harness moves us into the run's cgroup while we start up (a cgroup migration waits for an
    # RCU grace period, 10-20 ms); one byte on stdin says it is done. Then stdin becomes /dev/null.
    os.read(0, 1)
    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    mode = "fallback"
    detail = "forced by isolation='fallback'"
    if job["isolation"] != "fallback":
        try:
            _isolate.enter_namespaces()
            mode, detail = "namespaces", ("root, then uid 65534" if os.geteuid() == 0 else "user namespace")
        except OSError as exc:
            if job["isolation"] == "namespaces":
                _send(chan, {"status": "sandbox_error", "error": f"namespaces unavailable: {exc}"})
                os._exit(SETUP_FAILED)
            detail = f"namespaces unavailable: {exc}"
    if mode == "fallback":
        _isolate.become_subreaper()
        # As root, become uid 65534 unless it could not even import the standard library then.
        job["drop_to_nobody"] = os.geteuid() == 0 and _isolate.world_readable(
            [sys.prefix, sys.base_prefix, *job["site_dirs"]]
        )
        os.mkdir(job["work_dir"], 0o700)  # the harness removes it after the run
        if job["drop_to_nobody"]:
            os.chown(job["work_dir"], _isolate.NOBODY, _isolate.NOBODY)
        elif os.geteuid() == 0:
            detail += "; stays root (the Python install is not readable by uid 65534)"
    _send(chan, {"isolation": mode, "detail": detail})
    pid = os.fork()
    if pid == 0:
        if mode == "namespaces":
            _isolate.die_with_parent()
            _namespace_init(job, chan)
        _fallback_program(job, chan)
    code = _wait_for(pid)
    if mode == "fallback":
        _kill_leftovers()
    os._exit(code)


if __name__ == "__main__":
    main()
