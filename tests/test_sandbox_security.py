"""Hostile programs: each one is contained, recorded as that sample's result, and the harness goes on.

Tests run in namespace mode where the kernel allows it (it does on our machines, as root and not);
`MODE` otherwise becomes the fallback, whose containment each assertion also demands. The last class
re-runs the hostile programs the fallback's audit hook is documented to stop, with the fallback forced.
Runs that should finish get a generous timeout: the machine is shared and can be heavily loaded."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from matheval.sandbox import Limits, Result, _cgroup, run_code, run_many

REPO = Path(__file__).resolve().parents[1]
SLACK = 30.0  # timeout for runs that are expected to finish by themselves
# The job file path in the supervisor's command line is unique per run; every process of the run
# (forks included) carries it, so scanning /proc for it finds anything that outlived the call.
WHO_AM_I = "print('TOKEN=' + open('/proc/self/cmdline').read().split(chr(0))[-2], flush=True)\n"


def _probe() -> str:
    r = run_code("pass", timeout=SLACK, isolation="namespaces")
    return "fallback" if r.status == "sandbox_error" else "namespaces"


MODE = _probe()


def run(code: str, timeout: float = SLACK, isolation: str = MODE, **kw: object) -> Result:
    r = run_code(textwrap.dedent(code), timeout=timeout, isolation=isolation, **kw)  # type: ignore[arg-type]
    assert r.isolation.startswith(isolation), r.isolation
    return r


def _token(r: Result) -> str:
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("TOKEN=")]
    assert lines, f"the program never reported its token: {r}"
    return lines[0].removeprefix("TOKEN=")


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
    code = (
        WHO_AM_I
        + """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    )
    start = time.monotonic()
    r = run(code, timeout=3, limits=Limits(max_processes=16))
    assert r.status == "timeout" and time.monotonic() - start < 15
    assert _survivors(_token(r)) == []


def test_memory_hog_single_allocation() -> None:
    r = run("x = bytearray(8 * 1024**3)\nprint('allocated')", limits=Limits(memory_mb=256))
    assert (r.status, r.error, r.stdout) == ("memory", "MemoryError", "")


def test_memory_hog_gradual() -> None:
    code = """
    chunks = []
    while True:
        chunks.append(bytearray(10**7))
    """
    r = run(code, limits=Limits(memory_mb=300))
    assert (r.status, r.error) == ("memory", "MemoryError")


def test_infinite_loop_wall_clock() -> None:
    r = run("while True:\n    pass", timeout=1)
    assert r.status == "timeout" and r.wall_time < 5


def test_cpu_limit_with_generous_wall_clock() -> None:
    r = run("while True:\n    pass", timeout=60, limits=Limits(cpu_seconds=1))
    assert (r.status, r.error) == ("timeout", "TimeoutError: CPU time limit exceeded")


def test_one_gigabyte_print_is_cut_quickly() -> None:
    code = """
    import sys
    chunk = 'x' * (1 << 20)
    for _ in range(1024):
        sys.stdout.write(chunk)
    """
    r = run(code)
    assert r.status == "output_limit" and r.wall_time < 10
    assert len(r.stdout) < Limits().max_output_bytes + 100 and "truncated" in r.stdout


def test_stderr_flood() -> None:
    r = run("import sys\nwhile True:\n    sys.stderr.write('e' * 4096)")
    assert r.status == "output_limit" and r.wall_time < 10


def test_disk_fill_and_huge_file() -> None:
    code = """
    f = open('big', 'wb')
    try:
        f.write(b'0' * (64 << 20))
    except OSError as e:
        print('big:', type(e).__name__)
    n = 0
    try:
        for i in range(1000):
            open(f'f{i}', 'wb').write(b'1' * (4 << 20))
            n += 1
    except OSError as e:
        print('many:', type(e).__name__, n < 1000)
    """
    r = run(code, limits=Limits(max_file_mb=8, disk_mb=32))
    assert "big: OSError" in r.stdout, r.stderr
    if MODE == "namespaces":  # a size-capped tmpfs; the fallback only has RLIMIT_FSIZE per file
        assert "many: OSError True" in r.stdout


def test_file_descriptor_exhaustion() -> None:
    r = run("fs = []\nwhile True:\n    fs.append(open('/dev/null'))", limits=Limits(max_open_files=64))
    assert r.status == "error" and "Too many open files" in (r.error or "")


def test_thread_bomb() -> None:
    code = """
    import threading, time
    while True:
        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
    """
    r = run(code, limits=Limits(max_processes=16))
    assert r.status == "error" and "can't start new thread" in (r.error or "")


def test_deep_recursion_segfault_is_recorded() -> None:
    # repr() of a deeply nested list recurses in C: with the recursion check lifted, the stack overflows.
    code = """
    import sys
    sys.setrecursionlimit(10**8)
    x = []
    for _ in range(300000):
        x = [x]
    repr(x)
    """
    r = run(code)
    assert (r.status, r.error, r.exit_code) == ("killed", "killed by SIGSEGV", -11)


# --- filesystem ----------------------------------------------------------------------------------


def test_write_outside_is_impossible(tmp_path: Path) -> None:
    probe = REPO / f".sandbox-probe-{uuid.uuid4().hex}"
    targets = [tmp_path / "escaped.txt", probe, Path("/etc/escaped-probe")]
    code = f"""
    for path in {[str(t) for t in targets]!r}:
        try:
            open(path, 'w').write('x')
        except OSError as e:
            print(type(e).__name__)
    """
    try:
        r = run(code)
        assert r.ok and len(r.stdout.split()) == 3
        assert not any(t.exists() for t in targets)
    finally:
        probe.unlink(missing_ok=True)


def test_delete_and_rename_outside_is_impossible(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "vdir").mkdir()
    code = f"""
    import os, shutil
    victim, vdir = {str(victim)!r}, {str(tmp_path / "vdir")!r}
    for attack in (lambda: os.remove(victim), lambda: shutil.rmtree(vdir),
                   lambda: os.rename(victim, 'stolen'), lambda: os.chmod(victim, 0)):
        try:
            attack()
        except OSError as e:
            print(type(e).__name__)
    """
    r = run(code)
    assert r.ok and len(r.stdout.split()) == 4, r.stderr
    assert victim.read_text() == "precious" and (tmp_path / "vdir").is_dir()


def test_harness_files_are_not_readable(tmp_path: Path) -> None:
    secret = f"harness-secret-{uuid.uuid4().hex}"
    (tmp_path / "results.jsonl").write_text(secret)
    code = f"""
    import os
    for attack in (lambda: open({str(tmp_path / "results.jsonl")!r}).read(),
                   lambda: open({str(REPO / "pyproject.toml")!r}).read(), lambda: os.listdir({str(REPO)!r})):
        try:
            print(attack())
        except OSError as e:
            print(type(e).__name__)
    """
    r = run(code)
    assert secret not in r.stdout and "[project]" not in r.stdout and "matheval" not in r.stdout
    assert r.ok and len(r.stdout.split()) == 3


def test_symlink_to_the_outside_leads_nowhere(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("symlinked-secret")
    code = f"""
    import os
    os.symlink({str(tmp_path / "secret.txt")!r}, 'link')
    try:
        print(open('link').read())
    except OSError as e:
        print(type(e).__name__)
    """
    assert "symlinked-secret" not in run(code).stdout


# --- secrets, processes, signals -----------------------------------------------------------------


def test_environment_secrets_do_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    code = f"""
    import os
    print(dict(os.environ))
    pids = [os.getppid(), 1, {os.getpid()}] + [int(d) for d in os.listdir('/proc') if d.isdigit()]
    for pid in pids:
        try:
            print(open(f'/proc/{{pid}}/environ').read())
        except OSError as e:
            print(type(e).__name__)
    """
    r = run(code)
    assert secret not in r.stdout and secret not in r.stderr


def test_killing_the_parent_and_harness() -> None:
    me, group = os.getpid(), os.getpgrp()
    code = f"""
    import os
    for attack in (lambda: os.kill(os.getppid(), 9), lambda: os.kill({me}, 9),
                   lambda: os.killpg({group}, 9), lambda: os.kill(1, 9)):
        try:
            attack()
        except OSError as e:
            print(type(e).__name__)
    print('still here')
    """
    r = run(code)
    assert "still here" in r.stdout and os.getpgrp() == group  # and we are alive to check


@pytest.mark.skipif(MODE != "namespaces", reason="kill(-1) is only tried where a PID namespace contains it")
def test_kill_everything_only_kills_the_sandbox() -> None:
    code = """
    import os, time
    try:
        os.kill(-1, 9)
    except OSError as e:
        print(e)
    time.sleep(0.2)
    print('survived')
    """
    r = run(code, isolation="namespaces")
    assert r.ok and "survived" in r.stdout  # kill(-1) never signals the caller or the namespace init


def test_detached_background_processes_do_not_outlive_the_run() -> None:
    code = (
        WHO_AM_I
        + """
import os, time
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(60)
        os._exit(0)
time.sleep(0.3)
print('parent done')
"""
    )
    r = run(code)
    assert r.ok and "parent done" in r.stdout
    assert _survivors(_token(r)) == []


def test_background_processes_die_on_timeout_too() -> None:
    code = (
        WHO_AM_I
        + """
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
print('forked', flush=True)
time.sleep(60)
"""
    )
    r = run(code, timeout=5)
    assert r.status == "timeout" and _survivors(_token(r)) == []


def test_nothing_outlives_a_killed_harness() -> None:
    # The harness itself dies (SIGKILL) mid-run: the supervisor dies with it (PDEATHSIG), then init
    # and the whole namespace. Without namespaces only the program itself is guaranteed to follow.
    forks = MODE == "namespaces"
    program = "import os, time\n" + ("if os.fork() == 0:\n    os.setsid()\n" if forks else "") + "time.sleep(60)\n"
    script = "from matheval.sandbox import run_code, runner\nprint(runner._base_dir(), flush=True)\n"
    script += f"run_code({program!r}, timeout=60)"
    harness = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert harness.stdout is not None
    base = harness.stdout.readline().strip()
    try:
        token = ""
        for _ in range(300):  # find the run id in the supervisor's command line
            kids = [int(p) for p in Path(f"/proc/{harness.pid}/task/{harness.pid}/children").read_text().split()]
            cmdlines = [Path(f"/proc/{k}/cmdline").read_bytes().split(b"\0") for k in kids]
            token = next((c[-2].decode() for c in cmdlines if b"_child.main()" in b" ".join(c)), "")
            if token and len(_survivors(token)) >= (4 if forks else 3):
                break
            time.sleep(0.05)
        assert token, "the sandbox never started"
    finally:
        harness.kill()
        harness.wait()
        harness.stdout.close()
    for _ in range(100):
        if not _survivors(token):
            break
        time.sleep(0.05)
    assert _survivors(token) == []
    # What a SIGKILLed harness cannot clean up itself (a later harness would sweep it too).
    shutil.rmtree(base, ignore_errors=True)
    _cgroup.remove_stale()


def test_raising_own_limits_fails() -> None:
    code = """
    import resource as r
    for lim in (r.RLIMIT_NPROC, r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_NOFILE):
        try:
            r.setrlimit(lim, (r.RLIM_INFINITY, r.RLIM_INFINITY))
            print('raised')
        except (ValueError, OSError) as e:
            print(type(e).__name__)
    print(r.getrlimit(r.RLIMIT_NPROC))
    """
    r = run(code, limits=Limits(max_processes=20))
    assert r.ok and "raised" not in r.stdout, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] != "(-1, -1)"


def test_privilege_tricks_fail() -> None:
    code = """
    import os
    for attack in (lambda: os.setuid(0), lambda: os.chroot('/'), lambda: os.setgroups([0]),
                   lambda: os.mknod('dev', 0o20666, os.makedev(1, 3))):
        try:
            attack()
            print('ESCALATED')
        except OSError as e:
            print(type(e).__name__)
    """
    r = run(code)
    assert "ESCALATED" not in r.stdout and len(r.stdout.split()) == 4, r.stderr


def test_ctypes_syscalls_stay_inside() -> None:
    me = os.getpid()
    code = f"""
    import ctypes, os
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        print('kill', libc.kill({me}, 9), 'mount', libc.mount(b'none', b'/', None, 32, None),
              'unshare', libc.unshare(0x40000000), 'ptrace', libc.ptrace(16, {me}, 0, 0))
    except OSError as e:
        print('blocked', e)
    print('writable root:', os.access('/usr', os.W_OK))
    """
    r = run(code)
    if MODE == "namespaces":
        assert "kill -1 mount -1 unshare -1 ptrace -1" in r.stdout, r.stdout + r.stderr
    assert "writable root: False" in r.stdout  # and we were not killed


def test_subprocess_and_shell_tricks(tmp_path: Path) -> None:
    secret = tmp_path / "s.txt"
    secret.write_text("shell-secret")
    commands = [["cat", str(secret)], ["sh", "-c", f"echo x > {tmp_path}/pwn"]]
    if MODE == "namespaces":  # contained by the PID namespace; never tried without one
        commands.append(["sh", "-c", "kill -9 -1"])
    code = f"""
    import subprocess
    for cmd in {commands!r}:
        try:
            print(subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout)
        except OSError as e:
            print(type(e).__name__)
    print('alive')
    """
    r = run(code)
    # `kill -9 -1` may well kill the program itself (same uid, same namespace): that is contained too.
    assert "shell-secret" not in r.stdout and not (tmp_path / "pwn").exists()


def test_network_to_a_local_server_is_blocked() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.5)
    code = f"""
    import socket
    for host in ('127.0.0.1', 'localhost'):
        try:
            socket.create_connection((host, {srv.getsockname()[1]}), timeout=2).sendall(b'leak')
            print('CONNECTED')
        except OSError as e:
            print(type(e).__name__)
    """
    try:
        r = run(code)
        assert "CONNECTED" not in r.stdout
        with pytest.raises(TimeoutError):
            srv.accept()  # nothing ever reached the server
    finally:
        srv.close()


def test_network_outward_is_blocked() -> None:
    code = """
    import socket
    try:
        socket.create_connection(('1.1.1.1', 443), timeout=3)
        print('CONNECTED')
    except OSError as e:
        print(type(e).__name__)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))
        print('SENT')
    except OSError as e:
        print(type(e).__name__)
    """
    r = run(code)
    assert r.ok and "CONNECTED" not in r.stdout and "SENT" not in r.stdout


def test_hostile_setup_code_is_contained() -> None:
    r = run("print('main')", setup_code="import os\nos.kill(os.getppid(), 9)\nwhile True:\n    pass", timeout=2)
    assert r.status == "timeout" and "main" not in r.stdout


def test_evaluation_run_completes_over_hostile_batch() -> None:
    hostile = {
        "import os\nwhile True:\n    os.fork()": ("timeout", "error"),
        "x = bytearray(10**11)": ("memory",),
        "while True: pass": ("timeout",),
        "print('y' * 10**8)": ("output_limit", "memory"),
        "import os\nos.kill(os.getppid(), 9)\nprint('alive')": ("ok", "killed", "error"),  # parent: init
        "import sys\nsys.exit(1)": ("error",),
        "print(2 + 2)": ("ok",),
    }
    results = run_many(list(hostile), timeout=3, max_workers=2, limits=Limits(max_processes=16, memory_mb=256))
    assert [r.status in allowed for r, allowed in zip(results, hostile.values(), strict=True)] == [True] * 7
    assert results[-1].stdout == "4\n"


# --- the documented fallback, forced even where namespaces work ---------------------------------


class TestFallbackGuard:
    """What the audit-hook fallback claims to stop (see matheval.sandbox's docstring)."""

    def test_writes_outside_blocked(self, tmp_path: Path) -> None:
        r = run(f"open({str(tmp_path / 'x')!r}, 'w')", isolation="fallback")
        assert r.status == "error" and not (tmp_path / "x").exists()
        assert "PermissionError" in (r.error or "")

    def test_reading_harness_paths_blocked(self, tmp_path: Path) -> None:
        (tmp_path / "s").write_text("fallback-secret")
        r = run(f"print(open({str(tmp_path / 's')!r}).read())", isolation="fallback")
        assert r.status == "error" and "fallback-secret" not in r.stdout
        r = run(f"print(open({str(REPO / 'pyproject.toml')!r}).read())", isolation="fallback")
        assert r.status == "error" and "[project]" not in r.stdout

    def test_network_blocked(self) -> None:
        r = run("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)", isolation="fallback")
        assert r.status == "error" and "sandbox: network" in (r.error or "")

    def test_signals_to_harness_blocked(self) -> None:
        r = run(f"import os\nos.kill({os.getpid()}, 9)", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")
        r = run("import os\nos.kill(-1, 9)", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")

    def test_spawning_and_ctypes_blocked(self) -> None:
        r = run("import subprocess\nsubprocess.run(['true'])", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")
        r = run("import ctypes\nctypes.CDLL(None).getpid()", isolation="fallback")
        assert r.status == "error" and "PermissionError" in (r.error or "")

    def test_fork_bomb_and_detached_processes_contained(self) -> None:
        code = (
            WHO_AM_I
            + """
import os, time
if os.fork() == 0:
    os.setsid()
    time.sleep(60)
while True:
    os.fork()
"""
        )
        r = run(code, timeout=3, isolation="fallback", limits=Limits(max_processes=16))
        # The program dies of its own BlockingIOError once RLIMIT_NPROC bites, or runs into the timeout.
        assert r.status in ("timeout", "error") and _survivors(_token(r)) == []

    def test_env_and_proc_secrets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HF_TOKEN", "hf-fallback-secret")
        r = run(
            f"import os\nprint(os.environ)\nprint(open('/proc/{os.getpid()}/environ').read())",
            isolation="fallback",
        )
        assert "hf-fallback-secret" not in r.stdout + r.stderr
