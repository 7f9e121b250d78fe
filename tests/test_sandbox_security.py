"""Hostile programs: each one is contained, recorded as that sample's result, and the harness goes on.

Tests run in namespace mode where the kernel allows it (it does on our machines, as root and not);
`MODE` otherwise becomes the fallback, whose containment each assertion also demands. The last class
re-runs the hostile programs the fallback's audit hook is documented to stop, with the fallback forced."""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from matheval.sandbox import Limits, Result, run_code, run_many

REPO = Path(__file__).resolve().parents[1]
# The job file path in the supervisor's command line is unique per run; every process of the run
# (forks included) carries it, so scanning /proc for it finds anything that outlived the call.
WHO_AM_I = "print('TOKEN=' + open('/proc/self/cmdline').read().split(chr(0))[-2], flush=True)\n"


def _probe() -> str:
    return "namespaces" if run_code("pass", isolation="namespaces").status != "sandbox_error" else "fallback"


MODE = _probe()


def run(code: str, timeout: float = 5, **kw: object) -> Result:
    r = run_code(code, timeout=timeout, isolation=kw.pop("isolation", MODE), **kw)  # type: ignore[arg-type]
    assert r.isolation.startswith(MODE if "isolation" not in kw else str(kw["isolation"]))
    return r


def _token(r: Result) -> str:
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("TOKEN="))
    return line.removeprefix("TOKEN=")


def _survivors(token: str) -> list[int]:
    """PIDs on the whole machine whose command line mentions `token`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if token.encode() in cmdline:
                found.append(int(entry))
    return found


def test_namespaces_used_where_the_kernel_allows_them() -> None:
    userns = Path("/proc/sys/user/max_user_namespaces")
    allowed = os.geteuid() == 0 or (userns.exists() and int(userns.read_text()) > 0)
    assert MODE == ("namespaces" if allowed else "fallback")


# --- resource exhaustion -------------------------------------------------------------------------

def test_fork_bomb() -> None:
    code = WHO_AM_I + "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    start = time.monotonic()
    r = run(code, timeout=3, limits=Limits(max_processes=16))
    assert r.status == "timeout" and time.monotonic() - start < 8
    assert _survivors(_token(r)) == []


def test_memory_hog_single_allocation() -> None:
    r = run("x = bytearray(8 * 1024**3)\nprint('allocated')", limits=Limits(memory_mb=256))
    assert (r.status, r.error, r.stdout) == ("memory", "MemoryError", "")


def test_memory_hog_gradual() -> None:
    r = run("chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))", limits=Limits(memory_mb=300))
    assert r.status == "memory" and not r.ok


def test_infinite_loop_wall_clock() -> None:
    r = run("while True:\n    pass", timeout=1)
    assert r.status == "timeout" and r.wall_time < 2.5


def test_cpu_limit_with_generous_wall_clock() -> None:
    r = run("while True:\n    pass", timeout=20, limits=Limits(cpu_seconds=1))
    assert (r.status, r.error) == ("timeout", "TimeoutError: CPU time limit exceeded")
    assert r.wall_time < 6


def test_one_gigabyte_print_is_cut_quickly() -> None:
    code = "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    r = run(code, timeout=30)
    assert r.status == "output_limit" and r.wall_time < 5
    assert len(r.stdout) < Limits().max_output_bytes + 100 and "truncated" in r.stdout


def test_stderr_flood() -> None:
    r = run("import sys\nwhile True:\n    sys.stderr.write('e' * 4096)", timeout=10)
    assert r.status == "output_limit" and r.wall_time < 5


def test_disk_fill_and_huge_file() -> None:
    code = ("import os\nf = open('big', 'wb')\ntry:\n    f.write(b'0' * (64 << 20))\nexcept OSError as e:\n"
            "    print('big:', type(e).__name__)\nn = 0\ntry:\n    for i in range(1000):\n"
            "        open(f'f{i}', 'wb').write(b'1' * (4 << 20)); n += 1\nexcept OSError as e:\n"
            "    print('many:', type(e).__name__, n < 1000)\n")
    r = run(code, timeout=20, limits=Limits(max_file_mb=8, disk_mb=32))
    assert "big: OSError" in r.stdout, r.stderr
    if MODE == "namespaces":  # a size-capped tmpfs; the fallback only has RLIMIT_FSIZE per file
        assert "many: OSError True" in r.stdout


def test_file_descriptor_exhaustion() -> None:
    r = run("fs = []\nwhile True:\n    fs.append(open('/dev/null'))", limits=Limits(max_open_files=64))
    assert r.status == "error" and "Too many open files" in (r.error or "")


def test_thread_bomb() -> None:
    code = "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
    r = run(code, timeout=5, limits=Limits(max_processes=16))
    assert r.status == "error" and "can't start new thread" in (r.error or "")


def test_deep_recursion_segfault_is_recorded() -> None:
    # repr() of a deeply nested list recurses in C: with the recursion check lifted, the stack overflows.
    code = "import sys\nsys.setrecursionlimit(10**8)\nx = []\nfor _ in range(300000):\n    x = [x]\nrepr(x)"
    r = run(code, timeout=10)
    assert (r.status, r.error, r.exit_code) == ("killed", "killed by SIGSEGV", -11)


# --- filesystem ----------------------------------------------------------------------------------

def test_write_outside_is_impossible(tmp_path: Path) -> None:
    targets = [tmp_path / "escaped.txt", REPO / f".sandbox-probe-{uuid.uuid4().hex}", Path("/etc/escaped-probe")]
    code = "".join(f"try:\n    open({str(t)!r}, 'w').write('x')\nexcept OSError as e:\n    print(type(e).__name__)\n"
                   for t in targets)
    try:
        r = run(code)
        assert r.ok and len(r.stdout.split()) == 3
        assert not any(t.exists() for t in targets)
    finally:
        for t in targets[:2]:
            t.unlink(missing_ok=True)


def test_delete_and_rename_outside_is_impossible(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    vdir = tmp_path / "vdir"
    vdir.mkdir()
    code = (f"import os, shutil\nfor f in (lambda: os.remove({str(victim)!r}), lambda: shutil.rmtree({str(vdir)!r}),\n"
            f"          lambda: os.rename({str(victim)!r}, 'stolen'), lambda: os.chmod({str(victim)!r}, 0)):\n"
            "    try:\n        f()\n    except OSError as e:\n        print(type(e).__name__)\n")
    r = run(code)
    assert r.ok and len(r.stdout.split()) == 4, r.stderr
    assert victim.read_text() == "precious" and vdir.is_dir() and victim.stat().st_mode & 0o600


def test_harness_files_are_not_readable(tmp_path: Path) -> None:
    secret = f"harness-secret-{uuid.uuid4().hex}"
    (tmp_path / "results.jsonl").write_text(secret)
    code = (f"import os\nfor p in ({str(tmp_path / 'results.jsonl')!r}, {str(REPO / 'pyproject.toml')!r}):\n"
            "    try:\n        print(open(p).read())\n    except OSError as e:\n        print(type(e).__name__)\n"
            f"try:\n    print(os.listdir({str(REPO)!r}))\nexcept OSError as e:\n    print(type(e).__name__)\n")
    r = run(code)
    assert secret not in r.stdout and "[project]" not in r.stdout and "matheval" not in r.stdout
    assert r.ok and len(r.stdout.split()) == 3


def test_symlink_to_the_outside_leads_nowhere(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("symlinked-secret")
    code = (f"import os\nos.symlink({str(tmp_path / 'secret.txt')!r}, 'link')\n"
            "try:\n    print(open('link').read())\nexcept OSError as e:\n    print(type(e).__name__)\n")
    r = run(code)
    assert "symlinked-secret" not in r.stdout


# --- secrets, processes, signals -----------------------------------------------------------------

def test_environment_secrets_do_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = ("import os\nprint(dict(os.environ))\nfor pid in [os.getppid(), 1, " + str(os.getpid()) + "]:\n"
            "    try:\n        print(open(f'/proc/{pid}/environ').read())\n    except OSError as e:\n"
            "        print(type(e).__name__)\n"
            "for d in os.listdir('/proc'):\n    if d.isdigit():\n        try:\n"
            "            print(open(f'/proc/{d}/environ').read())\n        except OSError:\n            pass\n")
    r = run(code)
    assert secret not in r.stdout and secret not in r.stderr


def test_killing_the_parent_and_harness() -> None:
    me, group = os.getpid(), os.getpgrp()
    code = ("import os, signal\nfor f in (lambda: os.kill(os.getppid(), 9), lambda: os.kill(" + str(me) + ", 9),\n"
            "          lambda: os.killpg(" + str(group) + ", 9), lambda: os.kill(1, 9)):\n"
            "    try:\n        f()\n    except (OSError, PermissionError) as e:\n        print(type(e).__name__)\n"
            "print('still here')\n")
    r = run(code)
    assert "still here" in r.stdout and os.getpgrp() == group  # we are alive to check


@pytest.mark.skipif(MODE != "namespaces", reason="kill(-1) is only tried where a PID namespace contains it")
def test_kill_everything_only_kills_the_sandbox() -> None:
    r = run_code("import os, time\ntry:\n    os.kill(-1, 9)\nexcept OSError as e:\n    print(e)\n"
                 "time.sleep(0.2)\nprint('survived')", timeout=5, isolation="namespaces")
    assert r.ok and "survived" in r.stdout  # kill(-1) never signals the caller or the namespace init


def test_detached_background_processes_do_not_outlive_the_run(tmp_path: Path) -> None:
    code = WHO_AM_I + ("import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
                       "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(0)\n"
                       "time.sleep(0.3)\nprint('parent done')\n")
    r = run(code)
    assert r.ok and "parent done" in r.stdout
    assert _survivors(_token(r)) == []


def test_background_processes_die_on_timeout_too() -> None:
    code = WHO_AM_I + ("import os, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                       "if os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)\n")
    r = run(code, timeout=1)
    assert r.status == "timeout" and _survivors(_token(r)) == []


def test_raising_own_limits_fails() -> None:
    code = ("import resource\nfor lim in (resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_CPU,"
            " resource.RLIMIT_NOFILE):\n    try:\n        resource.setrlimit(lim, (resource.RLIM_INFINITY,"
            " resource.RLIM_INFINITY))\n        print('raised')\n    except (ValueError, OSError) as e:\n"
            "        print(type(e).__name__)\nprint(resource.getrlimit(resource.RLIMIT_NPROC))\n")
    r = run(code, limits=Limits(max_processes=20))
    assert "raised" not in r.stdout and r.stdout.splitlines()[-1] != "(-1, -1)", r.stdout


def test_privilege_tricks_fail() -> None:
    code = ("import os\nfor f in (lambda: os.setuid(0), lambda: os.chroot('/'), lambda: os.setgroups([0]),\n"
            "          lambda: os.mknod('dev', 0o20666, os.makedev(1, 3))):\n    try:\n        f()\n"
            "        print('ESCALATED')\n    except (OSError, PermissionError) as e:\n        print(type(e).__name__)\n")
    r = run(code)
    assert "ESCALATED" not in r.stdout and len(r.stdout.split()) == 4, r.stderr


def test_ctypes_syscalls_stay_inside() -> None:
    me = os.getpid()
    code = ("import ctypes, os\ntry:\n    libc = ctypes.CDLL(None, use_errno=True)\n"
            f"    print('kill', libc.kill({me}, 9), 'mount', libc.mount(b'none', b'/', None, 32, None),\n"
            "          'unshare', libc.unshare(0x40000000), 'ptrace', libc.ptrace(16, " + str(me) + ", 0, 0))\n"
            "except (OSError, PermissionError) as e:\n    print('blocked', e)\n"
            "print('writable root:', os.access('/usr', os.W_OK))\n")
    r = run(code)
    assert os.getpgrp() > 0  # we were not killed
    if MODE == "namespaces":
        assert "kill -1 mount -1 unshare -1 ptrace -1" in r.stdout, r.stdout + r.stderr
    assert "writable root: False" in r.stdout


def test_subprocess_and_shell_tricks(tmp_path: Path) -> None:
    secret = tmp_path / "s.txt"
    secret.write_text("shell-secret")
    code = ("import subprocess, os\nfor cmd in (['cat', " + repr(str(secret)) + "], ['sh', '-c', 'kill -9 -1'],"
            " ['sh', '-c', 'echo pwn > " + str(tmp_path) + "/pwn']):\n"
            "    try:\n        print(subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout)\n"
            "    except (OSError, PermissionError) as e:\n        print(type(e).__name__)\nprint('alive')\n")
    r = run(code, timeout=10)
    assert "shell-secret" not in r.stdout and not (tmp_path / "pwn").exists()


def test_network_to_a_local_server_is_blocked() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    port = srv.getsockname()[1]
    code = ("import socket\nfor host in ('127.0.0.1', 'localhost'):\n    try:\n"
            f"        s = socket.create_connection((host, {port}), timeout=2)\n        s.sendall(b'leak')\n"
            "        print('CONNECTED')\n    except OSError as e:\n        print(type(e).__name__)\n")
    try:
        r = run(code)
        assert "CONNECTED" not in r.stdout
        with pytest.raises(TimeoutError):
            srv.accept()
    finally:
        srv.close()


def test_network_outward_is_blocked() -> None:
    code = ("import socket\ntry:\n    s = socket.create_connection(('1.1.1.1', 443), timeout=3)\n    print('CONNECTED')\n"
            "except OSError as e:\n    print(type(e).__name__)\ntry:\n"
            "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))\n    print('SENT')\n"
            "except OSError as e:\n    print(type(e).__name__)\n")
    r = run(code, timeout=10)
    assert "CONNECTED" not in r.stdout and "SENT" not in r.stdout and r.ok


def test_hostile_setup_code_is_contained() -> None:
    r = run("print('main')", setup_code="import os\nos.kill(os.getppid(), 9)\nwhile True:\n    pass", timeout=1)
    assert r.status == "timeout" and "main" not in r.stdout


def test_evaluation_run_completes_over_hostile_batch() -> None:
    hostile = ["import os\nwhile True:\n    os.fork()", "x = bytearray(10**11)", "while True: pass",
               "print('y' * 10**8)", "import os\nos.kill(os.getppid(), 9)", "import sys\nsys.exit(1)"]
    results = run_many([*hostile, "print(2 + 2)"], timeout=2, max_workers=2,
                       limits=Limits(max_processes=16, memory_mb=256))
    assert len(results) == 7 and results[-1].stdout == "4\n"
    assert all(not r.ok for r in results[:-1] if r.status != "ok") and results[-1].ok


# --- the documented fallback, forced even where namespaces work ---------------------------------

class TestFallbackGuard:
    """What the audit-hook fallback claims to stop (see matheval.sandbox's docstring)."""

    def test_writes_outside_blocked(self, tmp_path: Path) -> None:
        r = run_code(f"open({str(tmp_path / 'x')!r}, 'w')", isolation="fallback")
        assert r.status == "error" and not (tmp_path / "x").exists()
        assert r.error is not None and ("PermissionError" in r.error or "Permission denied" in r.error)

    def test_reading_harness_paths_blocked(self, tmp_path: Path) -> None:
        (tmp_path / "s").write_text("fallback-secret")
        r = run_code(f"print(open({str(tmp_path / 's')!r}).read())", isolation="fallback")
        assert r.status == "error" and "fallback-secret" not in r.stdout
        r = run_code(f"print(open({str(REPO / 'pyproject.toml')!r}).read())", isolation="fallback")
        assert r.status == "error" and "[project]" not in r.stdout

    def test_network_blocked(self) -> None:
        r = run_code("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)", isolation="fallback")
        assert r.status == "error" and "sandbox: network" in (r.error or "")

    def test_signals_to_harness_blocked(self) -> None:
        r = run_code(f"import os\nos.kill({os.getpid()}, 9)", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")
        r = run_code("import os\nos.kill(-1, 9)", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")

    def test_spawning_and_ctypes_blocked(self) -> None:
        r = run_code("import subprocess\nsubprocess.run(['true'])", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")
        r = run_code("import ctypes\nctypes.CDLL(None).getpid()", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")

    def test_fork_bomb_and_detached_processes_contained(self) -> None:
        code = WHO_AM_I + "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\nwhile True:\n    os.fork()"
        r = run_code(code, timeout=2, isolation="fallback", limits=Limits(max_processes=16))
        # The program dies of its own BlockingIOError once RLIMIT_NPROC bites, or runs into the timeout.
        assert r.status in ("timeout", "error") and _survivors(_token(r)) == []

    def test_env_and_proc_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HF_TOKEN", "hf-fallback-secret")
        r = run_code(f"import os\nprint(os.environ)\nprint(open('/proc/{os.getpid()}/environ').read())",
                     isolation="fallback")
        assert "hf-fallback-secret" not in r.stdout + r.stderr
