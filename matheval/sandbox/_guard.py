"""Fallback guard for kernels without namespaces: a Python audit hook (PEP 578) that refuses writes
outside the run's directory, reads of the harness's paths, network sockets, process spawning,
signals to other process groups and ctypes symbol lookups.

This is best-effort and NOT a security boundary: audit hooks only see what Python reports, and a
determined program can reach the kernel without Python noticing (e.g. by re-initialising a builtin
extension module). It stops accidents and casual attempts; the real boundary is the namespace mode."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing would cost every run ~5 ms
if TYPE_CHECKING:
    from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SPAWN_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile", "pty.spawn"}
)
_PATH_CHANGE_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.truncate",
        "os.utime",
        "os.chflags",
        "os.lchflags",
        "os.link",
        "os.symlink",
        "os.rename",
        "shutil.rmtree",
        "shutil.move",
        "shutil.chown",
        "os.setxattr",
        "os.removexattr",
    }
)
# dlopen stays allowed because `import sympy` imports ctypes; looking up a symbol is what calls libc.
_CTYPES_EVENTS = frozenset({"ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.cdata"})
_AF_UNIX = 1


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def install(workdir: str, protected: list[str], readable: list[str]) -> None:
    """Install the hook. `protected` paths may not be read unless they are also under `readable`
    (the Python install and site-packages, which may live inside a protected repo or home)."""
    real = os.path.realpath
    writable = (real(workdir), "/dev/null")
    protected_t = tuple(real(p) for p in protected)
    readable_t = tuple(real(p) for p in [workdir, *readable])
    own_pgid = os.getpgrp()

    def deny(event: str, detail: object = "") -> None:
        raise PermissionError(f"sandbox: {event} {detail!s} is not allowed".replace("  ", " "))

    def check_read(event: str, path: str) -> None:
        p = real(path)
        if p.startswith("/proc/") and p.split("/")[2].isdigit() and not _under(p, (f"/proc/{os.getpid()}",)):
            deny(event, path)  # another process's environ/cmdline/mem, e.g. the harness's
        if _under(p, protected_t) and not _under(p, readable_t):
            deny(event, path)

    def check_write(event: str, path: object) -> None:
        if not isinstance(path, (str, bytes)):
            deny(event, "(path relative to a directory fd)")
        if not _under(real(os.fsdecode(path)), writable):
            deny(event, os.fsdecode(path))

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            if not isinstance(path, (str, bytes)):
                return
            wants_write = (mode is not None and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if wants_write:
                check_write(event, path)
            else:
                check_read(event, os.fsdecode(path))
        elif event in _PATH_CHANGE_EVENTS:
            check_write(event, args[0])
            if event in ("os.rename", "os.link", "os.symlink", "shutil.move") and len(args) > 1:
                check_write(event, args[1])
        elif event in ("os.listdir", "os.scandir") and isinstance(args[0], (str, bytes)):
            check_read(event, os.fsdecode(args[0]))
        elif event in _SPAWN_EVENTS:
            deny(event, "(starting programs)")
        elif event == "socket.__new__" and args[1] != _AF_UNIX:
            deny("network", "(only AF_UNIX sockets)")
        elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
            address = args[1] if event != "socket.sendmsg" else args[-1]
            if not isinstance(address, (str, bytes)) or not address or address[:1] in ("\0", b"\0"):
                deny(event, "(abstract or non-file socket address)")
            check_write(event, address)
        elif event in ("os.kill", "os.killpg"):
            _check_signal(event, args[0], own_pgid, deny)
        elif event in _CTYPES_EVENTS:
            deny(event, "(ctypes foreign calls)")

    sys.addaudithook(hook)


def _check_signal(event: str, target: int, own_pgid: int, deny: Any) -> None:
    """Signals may only reach our own process group: never the harness, never kill(-1)."""
    if event == "os.killpg":
        if target != own_pgid:
            deny(event, target)
        return
    if target == 0 or target == -own_pgid:
        return
    if target > 0:
        try:
            if os.getpgid(target) == own_pgid:
                return
        except OSError:
            return  # no such process: the kill itself will fail
    deny(event, target)
