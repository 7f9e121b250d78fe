"""What a sandboxed execution is allowed (Limits) and what it produced (Result)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# ok           the program (and result_expr, if any) finished without an exception
# error        uncaught exception, sys.exit(non-zero), or a non-zero exit code
# setup_error  setup_code raised; the program itself did not run
# timeout      wall-clock timeout or RLIMIT_CPU exceeded (`error` says which)
# memory       MemoryError under the address-space limit, or killed by the cgroup OOM killer
# output_limit stdout or stderr exceeded Limits.max_output_bytes; the process was killed at once
# killed       ended by a signal nobody in the harness sent (e.g. SIGSEGV, SIGKILL)
# sandbox_error the sandbox itself could not start (never the program's fault)
STATUSES = ("ok", "error", "setup_error", "timeout", "memory", "output_limit", "killed", "sandbox_error")

TRUNCATION_MARKER = "\n[... truncated: output exceeded {limit} bytes]"


@dataclass(frozen=True)
class Limits:
    """Per-execution resource limits. Memory and CPU are per process (rlimits); as root with a
    writable cgroup, memory_mb and max_processes also cap the run as a whole."""

    cpu_seconds: float | None = None  # None: the wall timeout, rounded up
    memory_mb: int = 1024  # RLIMIT_AS (address space, so a bit above real use)
    max_processes: int = 32  # RLIMIT_NPROC: processes *and threads*, including the sandbox's own two
    max_open_files: int = 128  # RLIMIT_NOFILE
    max_file_mb: int = 16  # RLIMIT_FSIZE: largest single file the program may write
    disk_mb: int = 64  # size of the private /tmp (namespace mode only; it is a tmpfs, so RAM)
    max_output_bytes: int = 64 * 1024  # per stream; beyond it the run is killed (status output_limit)


@dataclass(frozen=True)
class Result:
    ok: bool
    status: str
    stdout: str
    stderr: str
    error: str | None = None  # one line, e.g. "ZeroDivisionError: division by zero"
    value: str | None = None  # repr() of result_expr, evaluated inside the sandbox
    exit_code: int | None = None  # negative: killed by that signal; None: killed by the harness
    wall_time: float = 0.0
    isolation: str = ""  # "namespaces" or "fallback" (see matheval.sandbox's docstring)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
