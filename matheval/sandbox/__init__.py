"""Run untrusted, model-written Python (PoT/PAL programs, tool-integrated code blocks) and get back a
`Result` instead of an exception: `run_code(code, timeout=...)`, `run_many(codes, ...)`.

Every execution is a fresh interpreter (`python -s -S -B`, scrubbed environment) in its own session,
with rlimits on CPU time, address space, processes, open files and file size, a wall-clock timeout
and a cap on stdout/stderr (the run is killed when exceeded). Nothing it starts survives the call.

Namespace mode (Linux with user namespaces, or root) -- a real boundary:
  * its own PID namespace: it cannot see or signal the harness or any other process, and when the
    run ends the namespace's init exits and the kernel kills every process left in it;
  * its own network namespace with no interfaces up: no connection anywhere, 127.0.0.1 included;
  * its own mount namespace and a private, read-only root that contains only system directories,
    the Python install and site-packages; the harness repo, datasets, results, home directories and
    other runs do not exist in it. The only writable place is a size-capped tmpfs at /tmp;
  * no capabilities and no_new_privs; RLIMIT_NPROC counted per run (a user namespace of its own).
  * As root it additionally runs as uid/gid 65534, and a cgroup nested under the harness's (when
    writable) caps memory and process count for the whole run, not only per process.

Fallback mode (no namespaces, e.g. a container that forbids them): rlimits, a new session and
process group, a subreaper supervisor that kills every descendant, uid 65534 when started as root
(and the Python install is world-readable), plus a Python audit hook that refuses writes outside
the run's directory, reads of the harness's paths, sockets other than AF_UNIX, starting programs,
signals outside its own process group and ctypes calls. The audit hook is best-effort, not a
boundary: a determined program can get past it. Without root, RLIMIT_NPROC counts all processes of
the harness user, so the limit is the current count plus Limits.max_processes.

Not protected against, in any mode: CPU/memory-bandwidth contention with other work on the machine;
kernel exploits (no seccomp filter); reading world-readable system files (/usr, /etc/passwd ...);
a program forging its own `value` (it is the program's answer either way); timing side channels.
"""

from __future__ import annotations

from matheval.sandbox.result import STATUSES, Limits, Result
from matheval.sandbox.runner import ISOLATION_MODES, run_code, run_many

__all__ = ["ISOLATION_MODES", "STATUSES", "Limits", "Result", "run_code", "run_many"]
