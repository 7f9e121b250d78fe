"""Optional whole-run caps via a cgroup nested under the harness's own (usually needs root): memory
for all the run's processes together, and a process count. rlimits are per process, so without this a
program that forks N children can use N x memory_mb. Missing or read-only cgroupfs: silently skipped."""

from __future__ import annotations

import atexit
import itertools
import os
import threading
import time
from dataclasses import dataclass

_counter = itertools.count()
_lock = threading.Lock()
_PREFIX = "matheval-sandbox-"
_swept = False


def remove_stale() -> None:
    """Remove empty cgroups left by harness processes that died (SIGKILL skips every cleanup)."""
    try:
        v1, v2 = _mounts()
        own = _own_paths()
    except (OSError, ValueError):
        return
    parents = [f"{v1[c]}{own.get(c, '/')}".rstrip("/") for c in ("memory", "pids") if c in v1]
    if v2 is not None:
        parents.append(f"{v2}{own.get('', '/')}".rstrip("/"))
    for parent in parents:
        try:
            names = os.listdir(parent)
        except OSError:
            continue
        for name in names:
            pid = name[len(_PREFIX) :].split("-")[0] if name.startswith(_PREFIX) else ""
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                _try_rmdir(os.path.join(parent, name))  # fails, harmlessly, if it still has tasks


def _mounts() -> tuple[dict[str, str], str | None]:
    v1: dict[str, str] = {}
    v2 = None
    with open("/proc/self/mounts") as f:
        for line in f:
            _, where, fstype, opts, *_ = line.split()
            if fstype == "cgroup":
                for opt in opts.split(","):
                    if opt in ("memory", "pids"):
                        v1[opt] = where
            elif fstype == "cgroup2":
                v2 = where
    return v1, v2


def _own_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path
    return paths


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


@dataclass(frozen=True)
class Cgroup:
    dirs: tuple[str, ...]
    memory_dir: str | None
    v2: bool

    def add(self, pid: int) -> None:
        """Move `pid` (before it has children) into the cgroup; failing that, the layer is absent."""
        for d in self.dirs:
            try:
                _write(os.path.join(d, "cgroup.procs"), str(pid))
            except OSError:
                pass

    def pids(self) -> set[int]:
        """Processes still in the cgroup (every directory holds the same ones)."""
        try:
            with open(os.path.join(self.dirs[0], "cgroup.procs")) as f:
                return {int(x) for x in f.read().split()}
        except (OSError, IndexError, ValueError):
            return set()

    def oom_killed(self) -> bool:
        if self.memory_dir is None:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            with open(os.path.join(self.memory_dir, name)) as f:
                fields = dict(line.split() for line in f if len(line.split()) == 2)
        except OSError:
            return False
        return int(fields.get("oom_kill", "0")) > 0

    def remove(self) -> None:
        """rmdir succeeds only once the kernel has released the last task, which lags the reaping a
        little: try once, then leave the directory to the janitor thread instead of blocking."""
        left = [d for d in self.dirs if not _try_rmdir(d)]
        if left:
            with _lock:
                _pending.extend(left)
                global _janitor
                if _janitor is None:
                    _janitor = threading.Thread(target=_janitor_loop, name="sandbox-cgroup-janitor", daemon=True)
                    _janitor.start()


_pending: list[str] = []
_janitor: threading.Thread | None = None


def _try_rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _sweep() -> None:
    with _lock:
        _pending[:] = [d for d in _pending if not _try_rmdir(d)]


def _janitor_loop() -> None:
    while True:
        time.sleep(0.1)
        _sweep()


@atexit.register
def _last_sweep() -> None:
    for _ in range(20):
        _sweep()
        if not _pending:
            return
        time.sleep(0.05)


def create(memory_bytes: int, max_pids: int) -> Cgroup | None:
    """Make a fresh cgroup with both caps, or return None when that is not possible here."""
    if not os.path.exists("/proc/self/cgroup"):
        return None
    try:
        v1, v2 = _mounts()
        own = _own_paths()
    except (OSError, ValueError):
        return None
    global _swept
    with _lock:
        name = f"{_PREFIX}{os.getpid()}-{next(_counter)}"
        sweep, _swept = not _swept, True
    if sweep:
        remove_stale()
    made: list[str] = []
    try:
        if "memory" in v1 and "pids" in v1:
            mem = f"{v1['memory']}{own.get('memory', '/')}".rstrip("/") + "/" + name
            pids = f"{v1['pids']}{own.get('pids', '/')}".rstrip("/") + "/" + name
            os.mkdir(mem)
            made.append(mem)
            os.mkdir(pids)
            made.append(pids)
            _write(f"{mem}/memory.limit_in_bytes", str(memory_bytes))
            _write(f"{pids}/pids.max", str(max_pids))
            return Cgroup(tuple(made), mem, v2=False)
        if v2 is not None:
            parent = f"{v2}{own.get('', '/')}".rstrip("/")
            with open(f"{parent}/cgroup.subtree_control") as f:
                enabled = f.read().split()
            if "memory" not in enabled or "pids" not in enabled:
                return None
            d = f"{parent}/{name}"
            os.mkdir(d)
            made.append(d)
            _write(f"{d}/memory.max", str(memory_bytes))
            if os.path.exists(f"{d}/memory.swap.max"):
                _write(f"{d}/memory.swap.max", "0")
            _write(f"{d}/pids.max", str(max_pids))
            return Cgroup(tuple(made), d, v2=True)
    except OSError:
        Cgroup(tuple(made), None, False).remove()
        return None
    return None
