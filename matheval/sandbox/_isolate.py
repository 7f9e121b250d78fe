"""Kernel-side isolation used by the sandbox child: namespaces, a private read-only root, rlimits,
privilege drops. Runs inside the child process only; standard library + ctypes, no matheval imports
(after pivot_root the package is not even visible)."""

from __future__ import annotations

import ctypes
import errno
import os
import resource

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# glibc has no pivot_root wrapper; unknown architectures simply fall back to the no-namespace mode.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

NOBODY = 65534
DEVICES = ("null", "zero", "full", "random", "urandom")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def prctl(option: int, arg: int = 0) -> None:
    _check(_libc.prctl(option, arg, 0, 0, 0), f"prctl({option})")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def die_with_parent() -> None:
    """If whoever started us dies, so do we: nothing of a run can outlive a crashed harness."""
    prctl(PR_SET_PDEATHSIG, 9)


def become_subreaper() -> None:
    """Orphans of our descendants reparent to us, so a double fork + setsid cannot hide from cleanup."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def map_ids(uid: int, gid: int) -> None:
    """Identity-map our own ids in a fresh user namespace (the only mapping an unprivileged process
    may write). A non-zero uid inside means exec() never regains capabilities."""
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")


def enter_namespaces() -> None:
    """Unshare mount, PID, network, IPC and UTS namespaces. Root does it directly; anyone else needs a
    user namespace too (which the kernel may forbid: then OSError and the caller falls back)."""
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    if os.geteuid() == 0:
        unshare(flags)
        return
    uid, gid = os.geteuid(), os.getegid()
    unshare(flags | CLONE_NEWUSER)
    map_ids(uid, gid)


def _locked_flags(path: str) -> int:
    # A read-only remount in a user namespace must keep the flags the host mount already has.
    f = os.statvfs(path).f_flag
    pairs = (
        (os.ST_NOSUID, MS_NOSUID),
        (os.ST_NODEV, MS_NODEV),
        (os.ST_NOEXEC, MS_NOEXEC),
        (os.ST_NOATIME, MS_NOATIME),
        (os.ST_NODIRATIME, MS_NODIRATIME),
        (os.ST_RELATIME, MS_RELATIME),
    )
    return sum(ms for st, ms in pairs if f & st)


def _bind_ro(src: str, dst: str, nodev: bool = True) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    try:
        mount(src, dst, None, MS_BIND)
    except OSError as e:
        # In a user namespace a non-recursive bind over locked submounts is refused.
        if e.errno != errno.EINVAL:
            raise
        mount(src, dst, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | (MS_NODEV if nodev else 0) | _locked_flags(src)
    mount(None, dst, None, flags)


def _pivot_root(new_root: str) -> None:
    machine = os.uname().machine
    nr = _SYS_PIVOT_ROOT.get(machine)
    if nr is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown syscall number on {machine}")
    os.chdir(new_root)
    # pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only ours.
    _check(_libc.syscall(nr, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def build_root(new_root: str, binds: list[str], tmp_mb: int) -> None:
    """Make `new_root` (an existing empty dir) the filesystem root: a read-only tmpfs skeleton with
    read-only binds of `binds` (system dirs, the Python install, site-packages) at their own paths,
    a few device nodes, a fresh /proc and a size-capped writable /tmp. Everything else of the host —
    the harness repo, results, home directories, other runs — is simply absent."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount may propagate to the host
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    # /tmp first: when the harness (its venv, a CI clone) lives under /tmp, its read-only binds
    # must land inside the run's private /tmp rather than be hidden by it (or collide with it).
    os.mkdir(f"{new_root}/tmp")
    mount("tmpfs", f"{new_root}/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
    for path in binds:
        dst = new_root + path
        if os.path.islink(path):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.symlink(os.readlink(path), dst)
        elif os.path.exists(path):
            _bind_ro(path, dst)
    for name in DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _bind_ro(f"/dev/{name}", f"{new_root}/dev/{name}", nodev=False)
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("shm", "/tmp"),
    ):
        os.symlink(target, f"{new_root}/dev/{name}")
    os.mkdir(f"{new_root}/proc")
    mount("proc", f"{new_root}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _pivot_root(new_root)
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def drop_to_nobody() -> None:
    """Root only: become uid/gid 65534 with no supplementary groups (this also clears capabilities)."""
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)


def private_user_ns() -> bool:
    """After dropping root: a user namespace of our own makes RLIMIT_NPROC count only this run's
    processes (the kernel accounts it per user namespace), not every process of uid 65534."""
    prctl(PR_SET_DUMPABLE, 1)  # setuid cleared it, and /proc/self/uid_map is then not ours to write
    try:
        unshare(CLONE_NEWUSER)
        map_ids(os.geteuid(), os.getegid())
    except OSError:
        return False
    return True


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Give up every capability (those a fresh user namespace grants) and forbid regaining any via
    setuid binaries. Without this the program could unmount or remount inside its namespace."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_rlimits(cpu_s: float, memory_mb: int, nproc: int, nofile: int, fsize_mb: int) -> None:
    cpu = max(1, int(cpu_s + 0.999))
    # Soft limit sends SIGXCPU (reported as a CPU timeout); the hard limit one second later is SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_mb << 20, fsize_mb << 20))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def count_tasks(uid: int) -> int:
    """Threads owned by `uid` right now: RLIMIT_NPROC outside a user namespace counts all of them."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 0").split()[1]) == uid:
            total += int(fields.get("Threads", "1"))
    return total


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`, from /proc/<pid>/task/<tid>/children."""
    found: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def world_readable(paths: list[str]) -> bool:
    """Can uid 65534 reach these paths? (every ancestor o+x, the path itself o+r)."""
    for path in paths:
        parts = os.path.realpath(path).split("/")
        for i in range(2, len(parts) + 1):
            try:
                mode = os.stat("/".join(parts[:i]) or "/").st_mode
            except OSError:
                return False
            need = 0o005 if i == len(parts) else 0o001
            if mode & need != need:
                return False
    return True
