"""What a sandboxed execution is allowed (Limits), what it produced (Result), and how the harness
turns the child's exit and its reports into a status."""

from __future__ import annotations

import ast
import signal
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
SETUP_FAILED = 125  # the child's exit code when the sandbox, not the program, failed


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


def decode_stream(data: bytearray, truncated: bool, cap: int) -> str:
    text = data.decode("utf-8", errors="replace")
    return text + TRUNCATION_MARKER.format(limit=cap) if truncated else text


def parse_messages(channel: bytearray) -> list[dict[str, object]]:
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


def outcome(
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
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return "killed", f"killed by {name}", None, code
    if code == SETUP_FAILED:
        return "sandbox_error", "sandbox failed to start (see stderr)", None, code
    if code != 0:
        return "error", f"exit code {code}", None, code
    return "ok", None, None, code
