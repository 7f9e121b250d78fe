"""The sandbox runs ordinary model-written programs correctly, in both isolation modes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from matheval.sandbox import STATUSES, Limits, Result, run_code, run_many, runner

MODES = ["auto", "fallback"]
SLACK = 30.0  # the machine is shared; runs that should finish get a generous timeout


def run(code: str, **kw: object) -> Result:
    kw.setdefault("timeout", SLACK)
    return run_code(code, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("print(sum(i * i for i in range(1, 101)))", "338350"),
        ("from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 6))", "1/2"),
        ("import itertools\nprint(len(list(itertools.permutations(range(5)))))", "120"),
        ("import math\nprint(math.comb(10, 3), math.isqrt(10**20))", "120 10000000000"),
        ("print('π ≈ 3.14159, ∑, ✓, 数学')", "π ≈ 3.14159, ∑, ✓, 数学"),
        (
            "import decimal\ndecimal.getcontext().prec = 30\nprint(decimal.Decimal(1) / 7)",
            "0.142857142857142857142857142857",
        ),
    ],
)
def test_benign_programs(mode: str, code: str, expected: str) -> None:
    r = run(code, isolation=mode)
    assert (r.status, r.stdout.strip(), r.error) == ("ok", expected, None), r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_sympy_works(mode: str) -> None:
    code = "import sympy as sp\nx = sp.symbols('x')\n"
    code += "print(sp.solve(x**2 - 5*x + 6, x), sp.integrate(x**2, (x, 0, 3)))"
    r = run(code, isolation=mode)
    assert r.ok and r.stdout.strip() == "[2, 3] 9", r.stderr


@pytest.mark.parametrize("mode", MODES)
def test_multiprocessing_and_numpy_work(mode: str) -> None:
    code = (
        "import numpy as np\nfrom multiprocessing import Pool\nif __name__ == '__main__':\n"
        "    with Pool(2) as pool:\n"
        "        print(pool.map(abs, [-1, -2]), round(float(np.linalg.det(2 * np.eye(3)))))"
    )
    r = run(code, isolation=mode)
    assert r.ok and r.stdout.strip() == "[1, 2] 8", r.stderr


def test_temp_files_and_threads_work() -> None:
    code = (
        "import tempfile, pathlib, concurrent.futures as cf\n"
        "p = pathlib.Path(tempfile.mkdtemp()) / 'a.txt'\np.write_text('7')\n"
        "with cf.ThreadPoolExecutor(4) as ex: print(sum(ex.map(int, [p.read_text()] * 3)))"
    )
    r = run(code)
    assert r.ok and r.stdout.strip() == "21", r.stderr


def test_subprocess_inside_namespace_mode() -> None:
    r = run(
        "import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', 'print(6*7)'],"
        " capture_output=True, text=True).stdout.strip())"
    )
    if r.isolation.startswith("namespaces"):
        assert r.ok and r.stdout.strip() == "42", r.stderr
    else:  # the fallback refuses to start programs (documented)
        assert r.status == "error" and "PermissionError" in (r.error or "")


def test_result_expr_function_and_variable() -> None:
    r = run("def solution():\n    return 3 * 14\nprint('done')", result_expr="solution()")
    assert (r.status, r.value, r.stdout) == ("ok", "42", "done\n")
    r = run("from fractions import Fraction\nanswer = Fraction(3, 4)", result_expr="answer")
    assert r.value == "Fraction(3, 4)"
    r = run("if __name__ == '__main__':\n    answer = 'yes'", result_expr="answer")
    assert r.value == "'yes'"


def test_result_expr_failure_is_an_error_with_note() -> None:
    r = run("x = 1", result_expr="solution()")
    assert (r.ok, r.status, r.value) == (False, "error", None)
    assert r.error == "in result_expr: NameError: name 'solution' is not defined"


def test_setup_code_state_visible_and_output_suppressed() -> None:
    setup = "import os\nx = 20\nprint('SETUP-OUT')\nos.write(1, b'SETUP-FD')\nos.write(2, b'SETUP-ERR')"
    r = run("print(x + 1)", setup_code=setup)
    assert (r.status, r.stdout, r.stderr) == ("ok", "21\n", "")


def test_setup_code_error_is_reported() -> None:
    r = run("print('never')", setup_code="y = 1\nraise ValueError('bad block')")
    assert (r.ok, r.status, r.stdout) == (False, "setup_error", "")
    assert r.error == "in setup_code: ValueError: bad block"


def test_errors_give_one_line() -> None:
    r = run("a = 1\nb = 0\nprint(a / b)")
    assert (r.status, r.error, r.exit_code) == ("error", "ZeroDivisionError: division by zero", 1)
    assert 'File "<program>", line 3' in r.stderr and "print(a / b)" in r.stderr
    assert "_child.py" not in r.stderr  # the sandbox's own frames are hidden
    r = run("def f(:\n    pass")
    assert r.status == "error" and r.error is not None and r.error.startswith("SyntaxError")


def test_exit_codes() -> None:
    assert run("import sys\nprint(1)\nsys.exit(0)").status == "ok"
    r = run("import sys\nsys.exit(3)")
    assert (r.status, r.error) == ("error", "SystemExit: 3")
    r = run("import os\nos._exit(7)")
    assert (r.status, r.error, r.exit_code) == ("error", "exit code 7", 7)


def test_output_truncated_with_marker() -> None:
    r = run("print('a' * 5000)", limits=Limits(max_output_bytes=1000))
    assert r.status == "output_limit" and not r.ok
    assert r.stdout.startswith("a" * 1000)
    assert r.stdout.endswith("[... truncated: output exceeded 1000 bytes]")


def test_timeout() -> None:
    r = run("import time\nprint('started', flush=True)\ntime.sleep(60)", timeout=4)
    assert (r.status, r.exit_code, r.stdout) == ("timeout", None, "started\n")
    assert 4.0 <= r.wall_time < 10.0


def test_environment_is_scrubbed_and_cwd_is_private() -> None:
    os.environ["MATHEVAL_SANDBOX_CANARY"] = "canary-value"
    try:
        r = run("import os\nprint(sorted(os.environ))\nprint(os.getcwd() == os.environ['HOME'])")
    finally:
        del os.environ["MATHEVAL_SANDBOX_CANARY"]
    names = eval(r.stdout.splitlines()[0])  # noqa: S307 - our own program's output
    assert "MATHEVAL_SANDBOX_CANARY" not in names
    assert set(names) <= {
        "PATH",
        "LANG",
        "LC_ALL",
        "PYTHONHASHSEED",
        "PYTHONIOENCODING",
        "HOME",
        "TMPDIR",
        "PYTHONDONTWRITEBYTECODE",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    }
    assert r.stdout.splitlines()[1] == "True"


def test_hash_seed_is_fixed() -> None:
    code = "print(hash('matheval'), list({'a', 'b', 'c', 'd'}))"
    assert run(code).stdout == run(code).stdout


@pytest.mark.parametrize("mode", MODES)
def test_run_directories_removed(mode: str) -> None:
    base = Path(runner._base_dir())
    code = "open('f.txt', 'w').write('x' * 1000)\nimport os\nos.mkdir('d')\nos.chmod('d', 0)"
    r = run(code, isolation=mode)
    assert r.ok, r.stderr
    run("import time\ntime.sleep(30)", timeout=0.5, isolation=mode)
    assert os.listdir(base) == ["root"] and os.listdir(base / "root") == []


def test_base_directory_removed_when_the_harness_exits() -> None:
    script = "from matheval.sandbox import run_code, runner\nrun_code('pass')\nprint(runner._base_dir())"
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=repo)
    assert out.stdout.strip().startswith(tempfile.gettempdir()) and not Path(out.stdout.strip()).exists()


def test_long_replayed_setup_code() -> None:
    # Tool-integrated trajectories replay every earlier block: hundreds of KB must pass through.
    setup = "x = 0\n" + "x += 1\n" * 60000
    r = run("print(x)", setup_code=setup)
    assert (r.status, r.stdout) == ("ok", "60000\n")


def test_auto_falls_back_when_the_private_root_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    namespaces_here = run_code("pass", timeout=SLACK, isolation="namespaces").status != "sandbox_error"
    broken = tempfile.mkdtemp(prefix="sandbox-test-")  # no root/ inside: mounting the new root fails
    os.chmod(broken, 0o711)
    monkeypatch.setattr(runner, "_base_dir", lambda: broken)
    monkeypatch.setattr(runner, "_namespaces_broken", None)
    try:
        r = run("print(1)", isolation="namespaces")
        assert r.status == "sandbox_error" and not r.ok and r.error is not None
        if namespaces_here:
            with pytest.warns(RuntimeWarning, match="fallback"):
                r = run("print(1)")
            assert runner._namespaces_broken is not None
        else:
            r = run("print(1)")
        assert (r.status, r.stdout) == ("ok", "1\n") and r.isolation.startswith("fallback")
    finally:
        shutil.rmtree(broken, ignore_errors=True)


def test_run_many_keeps_order_and_isolates_failures() -> None:
    codes = [f"print({i} * 2)" for i in range(6)] + ["1/0", "import sys\nsys.exit(2)"]
    results = run_many(codes, timeout=SLACK, max_workers=4)
    assert [r.stdout.strip() for r in results[:6]] == [str(i * 2) for i in range(6)]
    assert [r.status for r in results[6:]] == ["error", "error"]
    r2 = run_many(["print(x)"], timeout=SLACK, setup_codes=["x = 5"], result_expr="x")
    assert (r2[0].stdout, r2[0].value) == ("5\n", "5")


def test_result_record() -> None:
    r = run("print(1)")
    assert isinstance(r, Result) and r.status in STATUSES
    assert set(r.to_dict()) == {
        "ok",
        "status",
        "stdout",
        "stderr",
        "error",
        "value",
        "exit_code",
        "wall_time",
        "isolation",
    }
    with pytest.raises(ValueError, match="isolation"):
        run_code("pass", isolation="none")
