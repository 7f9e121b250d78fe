"""Run untrusted, model-written Python (PoT/PAL programs, tool-integrated code blocks) and always get
back a `Result`, never an exception: `run_code(code, timeout=...)`, `run_many(codes, ...)`. Linux only,
standard library only. docs/sandbox.md has the details and the measured cost.

Every execution is a fresh interpreter (`python -s -S -B`, an environment built from scratch, so no
secret of the harness) in its own session, under rlimits on CPU time, address space, processes,
open files and file size, a wall-clock timeout and a cap on stdout/stderr (exceeding it kills the
run). Nothing the program starts survives the call.

Protects against, in namespace mode (root, or unprivileged user namespaces) -- kernel boundaries:
  * seeing or signalling any process outside the run (PID namespace); and outliving the run: when
    the program ends, the namespace's init exits and the kernel kills everything left in it;
  * any network access, 127.0.0.1 included (network namespace with no interface up);
  * reading or writing the harness's files: the program sees a private read-only root holding only
    system directories, the Python install and site-packages; the repo, datasets, results, homes and
    other runs do not exist there; the only writable place is a size-capped tmpfs /tmp;
  * raising its limits or regaining privileges (no capabilities, no_new_privs); fork bombs
    (RLIMIT_NPROC counted per run, thanks to a user namespace of its own).
  As root, additionally: the program runs as uid 65534, and a cgroup (when writable) caps memory and
  process count of the whole run, not only per process.

Fallback mode (no namespaces): the same limits, a subreaper supervisor that kills every descendant,
uid 65534 when started as root (if it can still read the Python install), and a Python audit hook
refusing writes outside the run's directory, reads of the harness's paths, sockets, starting programs,
signals outside its own process group and ctypes calls. The audit hook is best-effort, NOT a boundary.

Does not protect against: kernel exploits (no seccomp filter), contention for CPU, memory bandwidth
and I/O, reading world-readable system files, a program forging its own `value`, side channels.
Without root (no cgroup) a run can use up to max_processes x memory_mb of memory.
"""

from __future__ import annotations

from matheval.sandbox.result import STATUSES, Limits, Result
from matheval.sandbox.runner import ISOLATION_MODES, run_code, run_many

__all__ = ["ISOLATION_MODES", "STATUSES", "Limits", "Result", "run_code", "run_many"]
